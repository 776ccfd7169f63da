"""One configuration object. Environment variables (``QA_*``) override the defaults; CLI flags override both."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from .embedding import DEFAULT_MODEL


def _env(name: str, default: Any) -> Any:
    """The setting ``name`` from the environment, parsed like ``default``; a value that does not parse is a
    one-line :class:`~qa.errors.QAError`."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(default, bool):
        if raw.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return raw.lower() in ("1", "true", "yes", "on")
        from .errors import ArgumentError

        raise ArgumentError(f"{name} must be 1/true/yes/on or 0/false/no/off, not {raw!r}")
    kind = ("a whole number" if isinstance(default, int) else "a number" if isinstance(default, float)
            else "numbers separated by commas" if isinstance(default, tuple) else None)
    if kind is None:
        return raw
    try:
        if isinstance(default, tuple):
            return tuple(float(x) for x in raw.split(","))
        return type(default)(raw)
    except ValueError:
        from .errors import QAError

        raise QAError(f"{name} must be {kind}, not {raw!r}") from None


@dataclass(frozen=True)
class Config:
    """How the index is built and how questions are answered.

    Attributes:
        model: embedding model name or path (``QA_MODEL``); the default, ``bundled``, is all-MiniLM-L6-v2
            fine-tuned for retrieval by this project (``qa/data/retriever``); ``all-MiniLM-L6-v2`` is the packaged
            weights it started from. The fusion weights and calibrations below were chosen for ``bundled``.
        device: torch device for embedding (``QA_DEVICE``); empty picks a GPU if there is one.
        batch_size: passages per forward pass when building (``QA_BATCH_SIZE``); 0 picks 16 on a CPU, 256 on a
            GPU (measured by ``benchmarks/embed_throughput.py``).
        backend: how the models run (``QA_BACKEND``): ``auto`` encodes questions and runs the reader with ONNX
            Runtime on a CPU when the model allows it (exported once, cached; the same outputs as torch, without
            importing torch, so a cold ``qa ask`` takes about two seconds) and builds indexes with torch;
            ``onnx`` or ``torch`` uses one for everything.
        index_type: FAISS factory string (``QA_INDEX_TYPE``), e.g. ``Flat``, ``HNSW32`` or ``IVF1024,Flat``;
            ``auto`` picks exact search below ``exact_below`` passages and ``IVF<sqrt n>,Flat`` above.
        max_tokens: longest passage, in model tokens; longer paragraphs are split at sentence boundaries.
        candidates: how many passages each of dense and BM25 search proposes before fusion.
        w_dense, w_bm25, w_sentence: weights of the fused passage score (chosen on squad2-open dev with
            ``benchmarks/tune_retrieval.py``: the best recall@1 + recall@5).
        w_answer: weights of a sentence's cosine, idf-weighted term coverage and passage score when the
            default answerer picks the answer sentence (chosen on data, see benchmarks/tune_answer.py).
        w_type: subtracted from a sentence's score when the question asks for a number, a date or a name and
            the sentence offers none (:mod:`qa.answertype`); chosen with ``w_answer``.
        w_near: added to a follow-up's sentence score for standing just after the previous answer (1/distance
            in sentences, up to 3); chosen on the follow-ups of tests/data/seeds-dev.jsonl.
        no_answer_threshold: answers whose confidence is below this are withheld (``QA_NO_ANSWER``);
            None takes the threshold fitted with the calibration (``qa/data/calibration.json``).
        read_passages: how many of the best passages the answerer reads.
        rerank: how many of the best passages the reader re-ranks when retrieval is unsure (``QA_RERANK``; 10;
            0 for none): see :mod:`qa.rerank`. The configured reader does it, else the bundled one; with readers
            turned off (``QA_READER=none``) the default re-ranks nothing, and asking for it is an error.
        rerank_margin: re-rank only where the best passage's fused score leads the second's by less than this
            share of it (``QA_RERANK_MARGIN``; 1 re-ranks every question). Chosen on squad2-open dev
            (``benchmarks/tune_rerank.py``): the best recall@1 re-ranking at most a third of the questions.
        w_rerank: weight of the reader's margin when it re-ranks (0.5, chosen on squad2-open dev with ``rerank``).
        reader: extractive reader (``QA_READER``): ``bundled`` (the default) for the one shipped in the
            package, a path or hub name for another; ``sentence`` answers with the best whole sentence instead
            (the bundled reader still names what a follow-up refers to), ``none`` or ``off`` also turns that off.
        reader_windows: how many of the best sentences the reader reads (each with its neighbours): 2, chosen
            on squad2-open dev with ``benchmarks/tune_reader.py`` and the first reader (answer_contains@1
            without abstention 0.520 with 1, 0.534 with 2, 0.537 with 3, which reads half as much again).
        reader_lead: how many sentences before each window the reader also reads, for context only (it never
            answers from them), across paragraph breaks within the document: so that in "“…,” he said." the
            reader sees who "he" is. 1, chosen on the dev questions (squad2-open dev and
            tests/data/seeds-dev.jsonl; 2 read more and did no better, see the README).
        w_reader: weight of the reader's span confidence when it re-ranks the best sentences: 0.2, chosen on
            squad2-open dev with ``benchmarks/tune_reader.py`` and the reader fine-tuned on sentence windows
            (answer_contains@1 without abstention 0.612 at 0, 0.6266 at 0.1, 0.6274 at 0.2, 0.625 at 0.3; the
            calibration is fitted on the answers this weight picks).
        max_question_chars: longer questions are refused with a clear error.
    """

    model: str = DEFAULT_MODEL
    device: str = ""
    backend: str = "auto"
    batch_size: int = 0
    index_type: str = "auto"
    exact_below: int = 200_000
    max_tokens: int = 256
    min_words: int = 6
    title_in_passage: bool = True
    candidates: int = 100
    w_dense: float = 0.2
    w_bm25: float = 0.2
    w_sentence: float = 0.6
    w_answer: tuple[float, float, float] = (0.4, 0.3, 0.3)
    w_type: float = 0.05
    w_near: float = 0.05
    reader: str = "bundled"
    reader_windows: int = 2
    reader_lead: int = 1
    w_reader: float = 0.2
    no_answer_threshold: float | None = None
    read_passages: int = 3
    rerank: int = 10
    rerank_margin: float = 0.12
    w_rerank: float = 0.5
    max_question_chars: int = 2000

    @classmethod
    def from_env(cls, **overrides: Any) -> Config:
        """Defaults, then ``QA_<FIELD>`` environment variables, then ``overrides`` that are not None."""
        base = cls()
        env = {f.name: _env(f"QA_{f.name.upper()}", getattr(base, f.name)) for f in fields(cls)}
        for name in ("QA_NO_ANSWER_THRESHOLD", "QA_NO_ANSWER"):  # the second, shorter name wins
            if os.environ.get(name):
                env["no_answer_threshold"] = _env(name, 0.0)
        env.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**env)

    def __post_init__(self) -> None:
        """Refuse settings that cannot work (a weight that is not a number, a count under its minimum), naming
        the environment variable that sets them: a one-line :class:`~qa.errors.ArgumentError`."""
        from .errors import ArgumentError

        def bad(name: str, what: str) -> ArgumentError:
            return ArgumentError(f"{name} (QA_{name.upper()}) must be {what}, not {getattr(self, name)!r}")

        for name, least in (("batch_size", 0), ("exact_below", 0), ("max_tokens", 16), ("min_words", 0),
                            ("candidates", 1), ("reader_windows", 1), ("reader_lead", 0), ("read_passages", 1),
                            ("rerank", 0), ("max_question_chars", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise bad(name, f"a whole number of at least {least}")
        for name in ("w_dense", "w_bm25", "w_sentence", "w_type", "w_near", "w_reader", "w_rerank",
                     "rerank_margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise bad(name, "a number of at least 0")
        if len(self.w_answer) != 3 or not all(math.isfinite(w) for w in self.w_answer):
            raise bad("w_answer", "three numbers separated by commas (cosine, coverage, passage)")
        t = self.no_answer_threshold
        if t is not None and (isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= 1):
            raise ArgumentError(f"the no-answer threshold (QA_NO_ANSWER) must be a confidence from 0 to 1, "
                                f"not {t!r}")
        if not re.fullmatch(r"|cpu|mps|cuda(:\d+)?", self.device):
            raise bad("device", "empty (a GPU if there is one), cpu, cuda, cuda:N or mps")

    def with_(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def index_fields(self) -> dict[str, Any]:
        """The settings that shape a saved index: a saved index built with others is rebuilt."""
        return {"model": self.model, "max_tokens": self.max_tokens, "min_words": self.min_words,
                "title_in_passage": self.title_in_passage}
