"""The public API: ``load_index``, ``retrieve``, ``answer``, ``verify``.

Example:
    >>> import qa
    >>> index = qa.load_index(docs="seeds")                       # doctest: +SKIP
    >>> a = qa.answer("Who is the minister of internal affairs?", index=index)   # doctest: +SKIP
    >>> a.text, a.citations[0].doc_id, a.citations[0].start       # doctest: +SKIP
    >>> qa.verify(a, index=index)                                  # doctest: +SKIP
    []
"""

from __future__ import annotations

import fnmatch
import logging
import numbers
import operator
import os
import reprlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import index as _index
from .answering import Answerer, clean_question
from .citations import verify as _verify
from .config import Config
from .errors import ArgumentError, ScopeError
from .followup import is_turn
from .index import Index
from .reader import BUNDLED, BUNDLED_NAMES, READERS_OFF, Reader, bundled_reader_path
from .results import Answer, Hit

DEFAULT_DOCS = "seeds"
_default: Index | None = None
_readers: dict[tuple[str, str], Reader] = {}
_warned_missing = False  # the missing bundled reader is reported once
logger = logging.getLogger(__name__)


class _DocsNotGiven:
    """``load_index``'s ``docs`` left out: ``seeds/``, or with ``index_dir`` alone the folder that index was
    built from (as ``qa ask --index DIR`` does)."""

    def __repr__(self) -> str:
        return f"{DEFAULT_DOCS!r} (or, given index_dir alone, the folder that index was built from)"


_DOCS_NOT_GIVEN: Any = _DocsNotGiven()


def _docs_of(index_dir: str | Path) -> str | Path | None:
    """What ``load_index(index_dir=...)`` reads: the folder the saved index there was built from, or the
    index as saved where that folder is gone (with a warning) or unknown; ``seeds/`` where there is no index
    (built there). Never the default documents over another folder's index."""
    saved = _index.saved_docs_folder(Path(index_dir))
    if saved is not None and str(saved) and saved.is_dir():
        return saved
    if saved is not None or _index.holds_an_index(Path(index_dir)):
        if saved is not None and str(saved):
            _index.warn_folder_gone(index_dir, saved, "docs=")
        return None
    return DEFAULT_DOCS


def load_index(docs: str | Path | None = _DOCS_NOT_GIVEN, index_dir: str | Path | None = None,
               config: Config | None = None, **kwargs: Any) -> Index:
    """The index of ``docs`` (a folder), built or brought up to date, saved under ``index_dir``
    (default ``embeddings/<folder name>``). ``docs`` left out is ``seeds/``, except with ``index_dir``
    alone: then the folder that index was built from, brought up to date (or the index as saved, where that
    folder is gone). ``docs=None`` uses the saved index as it is. See :func:`qa.index.load_index` for the
    other arguments."""
    if docs is _DOCS_NOT_GIVEN:
        docs = DEFAULT_DOCS if index_dir is None or not isinstance(index_dir, str | os.PathLike) \
            else _docs_of(index_dir)
    for name, value in (("docs", docs), ("index_dir", index_dir)):
        if value is not None and not isinstance(value, str | os.PathLike):
            raise ArgumentError(f"{name} must be a folder (a str or a Path), not {type(value).__name__}")
    if config is not None and not isinstance(config, Config):
        raise ArgumentError(f"config must be a qa.Config (qa.Config.from_env() or qa.Config(...)), not "
                            f"{type(config).__name__}")
    return _index.load_index(docs=docs, index_dir=index_dir, config=config, **kwargs)


def positive_int(name: str, value: object) -> int:
    """``value`` as an int of at least 1, else an :class:`~qa.errors.ArgumentError` naming the argument."""
    try:
        n = operator.index(value)  # type: ignore[arg-type]  # ints and numpy's integers, nothing else
    except TypeError:
        n = 0
    if isinstance(value, bool) or n < 1:
        raise ArgumentError(f"{name} must be a whole number of at least 1, got {value!r}")
    return n


def _resolve(index: Index | None) -> Index:
    global _default
    if index is not None:
        if not isinstance(index, Index):
            raise ArgumentError(f"index must be a qa.Index (qa.load_index(docs) makes one), not "
                                f"{type(index).__name__}")
        return index
    if _default is None:
        _default = load_index(DEFAULT_DOCS)
    return _default


def scope_mask(index: Index, only: str | Iterable[str] | None) -> np.ndarray | None:
    """A passage mask for a set of document ids or glob patterns; unknown ids are a :class:`ScopeError`."""
    if only is None:
        return None
    patterns = [only] if isinstance(only, str) else list(only) if isinstance(only, Iterable) else [only]
    if not all(isinstance(p, str) for p in patterns):
        bad = next(p for p in patterns if not isinstance(p, str))
        raise ArgumentError(f"only takes document ids or glob patterns (text), not {type(bad).__name__}")
    if not patterns:
        raise ScopeError("only names no document: give document ids or patterns, or None to search them all")
    chosen: set[int] = set()
    for pat in patterns:
        matched = [i for d, i in index.doc_number.items() if d == pat or fnmatch.fnmatchcase(d, pat)]
        if not matched:
            ids = sorted(index.doc_number)
            known = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
            raise ScopeError(f"no indexed document matches {pat!r} (the documents are: {known})")
        chosen.update(matched)
    return np.isin(index.corpus.p_doc, sorted(chosen))


def retrieve(question: str, k: int = 5, index: Index | None = None,
             only: str | Iterable[str] | None = None) -> list[Hit]:
    """The ``k`` best passages for ``question``, best first.

    Each hit has ``doc_id, start, end, text, score`` and the scores of its parts (``dense_score``,
    ``bm25_score``, ``sentence_score``). ``only`` limits the search to some document ids or globs. Where retrieval
    is unsure of its first place, the reader re-ranks the best ``QA_RERANK`` (10) passages first
    (:mod:`qa.rerank`): those hits also carry ``reader_score`` and ``rerank_score``, the score they are ordered by.
    """
    if isinstance(k, Index):  # retrieve(question, index): answer() takes the index second, retrieve() k
        raise ArgumentError("give the index as index=…: retrieve(question, k=5, index=None) takes k second")
    idx = _resolve(index)
    q = clean_question(question, idx.config.max_question_chars)
    k = positive_int("k", k)
    answerer = Answerer(idx, reader=get_reader(None, idx.config))  # its reader re-ranks, when configured to
    return answerer.retrieve(q, k, allowed=scope_mask(idx, only)).hits[:k]


def get_reader(reader: str | Reader | None, config: Config | None = None) -> Reader | None:
    """A (cached) reader: the one named, else the configured one (``QA_READER``); ``none`` or empty: no reader."""
    global _warned_missing
    configured = reader is None
    if configured and config is not None:
        reader = config.reader
    if isinstance(reader, Reader):
        return reader
    if reader is not None and not isinstance(reader, str | os.PathLike):
        raise ArgumentError(f"reader must be a name or folder (\"bundled\", \"sentence\", a path) or a "
                            f"qa.reader.Reader, not {reprlib.repr(reader)}")
    reader = os.fspath(reader) if reader is not None else None
    if not reader or reader.lower() in READERS_OFF:
        return None
    if configured and reader in BUNDLED_NAMES and bundled_reader_path() is None:
        if not _warned_missing:
            _warned_missing = True
            logger.warning("the bundled reader is not installed (qa/data/reader); answering with whole sentences")
        return None
    backend = (config or Config.from_env()).backend
    if (reader, backend) not in _readers:
        made = Reader(reader, backend=backend)
        if made.model_id != BUNDLED:  # one the user brought: if it cannot be loaded, that is the first thing said
            made.load()
        _readers[(reader, backend)] = made
    return _readers[(reader, backend)]


def answer(question: str, index: Index | None = None, history: Sequence[Any] | None = None,
           reader: str | Reader | None = None, top_n: int = 1, threshold: float | None = None,
           k: int = 5, only: str | Iterable[str] | None = None) -> Answer:
    """A cited, extractive answer to ``question`` (``answer.text`` is None when the documents do not say).

    Args:
        history: earlier turns (question strings, :class:`Answer` objects, or dicts with ``question`` and
            ``answer``) used to resolve what a follow-up refers to. A turn whose answer was withheld stands for
            its best guess there (a dict's ``guess``, an Answer's ``withheld`` quote; a bare question is
            answered first, guess included).
        reader: an extractive QA model: ``"bundled"`` (the one shipped), a path or name, or a
            :class:`~qa.reader.Reader`; ``"sentence"`` (or ``"none"``) answers with whole sentences instead;
            default: the configured one (``QA_READER``, ``bundled`` unless set).
        top_n: up to this many distinct answers (the first is the answer, the rest ``alternatives``).
        threshold: the no-answer threshold on ``confidence`` (default: the configured one).
        k: passages returned with the answer. ``only``: limit to some document ids or globs.
    """
    idx = _resolve(index)
    top_n, k = positive_int("top_n", top_n), positive_int("k", k)
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, numbers.Real)
                                  or not 0 <= threshold <= 1):
        raise ArgumentError(f"threshold must be a number (a confidence from 0 to 1), got {threshold!r}")
    answerer = Answerer(idx, reader=get_reader(reader, idx.config))
    return answerer.answer(question, history=checked_history(history), top_n=top_n, threshold=threshold, k=k,
                           allowed=scope_mask(idx, only))


def checked_history(history: object) -> list[Any] | None:
    """``history`` as a list of turns; a single earlier question (a string) or turn (a dict, an Answer) is
    taken as one. Anything else, or a turn that is neither text nor has a ``question`` in text, is an
    :class:`~qa.errors.ArgumentError` (empty strings are allowed, and skipped)."""
    if history is None:
        return None
    if isinstance(history, str | dict | Answer):
        history = [history]
    if not isinstance(history, Sequence):
        raise ArgumentError(f"history must be a list of earlier questions (or turns), not {type(history).__name__}")
    for n, turn in enumerate(history, 1):
        if isinstance(turn, str):
            continue
        if not (is_turn(turn) if isinstance(turn, dict) else isinstance(getattr(turn, "question", None), str)):
            raise ArgumentError(f"history item {n} is not an earlier question: give text, or a dict with "
                                f"\"question\" (and \"answer\") in text, not {reprlib.repr(turn)}")
    return list(history)


def verify(answer: Answer, index: Index | None = None) -> list[str]:
    """Problems with ``answer``'s citations (quotes not at their offsets, documents changed); [] if none."""
    if not isinstance(answer, Answer):
        raise ArgumentError(f"verify takes a qa.Answer (Answer.from_dict reads a saved one), not "
                            f"{type(answer).__name__}")
    return _verify(answer, _resolve(index))
