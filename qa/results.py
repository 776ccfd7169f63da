"""Frozen result dataclasses: what the library hands back. Each has ``to_dict()``; citations carry offsets."""

from __future__ import annotations

import reprlib
from dataclasses import asdict, dataclass, field
from typing import Any

from .display import clip
from .errors import ArgumentError

_KINDS = {str: "text", int: "a whole number", float: "a number"}


def _field(data: dict[str, Any], what: str, name: str, want: type, optional: bool = False) -> Any:
    """``data[name]`` of a saved ``what`` ("citation", "passage"), checked to be text (``want=str``), a whole
    number (``int``) or any number (``float``, returned as a float); missing or None only where ``optional``
    (then None). Else an :class:`~qa.errors.ArgumentError` naming the field."""
    value = data.get(name)
    if value is None and (optional or name not in data):
        if optional:
            return None
        raise ArgumentError(f"a {what} has no {name!r}")
    if not isinstance(value, bool):  # True is an int to Python, and no offset, score or text here
        if want is float and isinstance(value, int | float):
            return float(value)
        if want is not float and isinstance(value, want):
            return value
    raise ArgumentError(f"a {what}'s {name!r} must be {_KINDS[want]}, not {reprlib.repr(value)}")


@dataclass(frozen=True)
class Span:
    """A character range of one document: ``document_text[start:end] == text``."""

    doc_id: str
    start: int
    end: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Passage(Span):
    """A paragraph (or part of a long one): the unit that is embedded, BM25-indexed and retrieved."""

    title: str = ""


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and the scores of each signal behind it."""

    passage: Passage
    score: float
    dense_score: float
    bm25_score: float
    sentence_score: float = 0.0
    rank: int = 0
    #: the reader's span-over-no-answer margin when the passage was re-ranked (:mod:`qa.rerank`), else None
    reader_score: float | None = None
    #: the score re-ranking ordered the passage by (``score`` relative to the best plus ``w_rerank`` times the
    #: clipped reader margin), else None: the order of the hits follows it where it is set
    rerank_score: float | None = None

    @property
    def doc_id(self) -> str:
        return self.passage.doc_id

    @property
    def start(self) -> int:
        return self.passage.start

    @property
    def end(self) -> int:
        return self.passage.end

    @property
    def text(self) -> str:
        return self.passage.text

    def __repr__(self) -> str:  # short: the passage's text is in .text, and to_dict() has every score
        rerank = f", rerank_score={self.rerank_score:.3f}" if self.rerank_score is not None else ""
        return (f"Hit({self.doc_id}:{self.start}-{self.end}, rank={self.rank}, score={self.score:.3f}, "
                f"dense={self.dense_score:.3f}, bm25={self.bm25_score:.3f}{rerank}, text={clip(self.text, 60)!r})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "doc_id": self.doc_id,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "score": self.score,
            "dense_score": self.dense_score,
            "bm25_score": self.bm25_score,
            "sentence_score": self.sentence_score,
            "title": self.passage.title,
            **({"reader_score": self.reader_score} if self.reader_score is not None else {}),
            **({"rerank_score": self.rerank_score} if self.rerank_score is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        """A hit from ``to_dict()`` output; an :class:`~qa.errors.ArgumentError` naming the field that is
        missing or of the wrong type."""
        if not isinstance(data, dict):
            raise ArgumentError(f"a passage must be an object, not {type(data).__name__}")
        doc_id, text = (_field(data, "passage", name, str) for name in ("doc_id", "text"))
        start, end = (_field(data, "passage", name, int) for name in ("start", "end"))
        score, dense, bm25 = (_field(data, "passage", name, float) for name in ("score", "dense_score", "bm25_score"))
        sentence, reader, rerank = (_field(data, "passage", name, float, optional=True)
                                    for name in ("sentence_score", "reader_score", "rerank_score"))
        title = data["title"] if isinstance(data.get("title"), str) else ""
        rank = data.get("rank", 0)
        return cls(Passage(doc_id, start, end, text, title=title), score, dense, bm25,
                   0.0 if sentence is None else sentence, rank if isinstance(rank, int) else 0, reader, rerank)


@dataclass(frozen=True)
class Citation:
    """Where an answer stands: ``quote == document_text[start:end]``, inside its sentence and passage."""

    doc_id: str
    start: int
    end: int
    quote: str
    sentence_start: int
    sentence_end: int
    passage_start: int
    passage_end: int
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Citation:
        """A citation from ``to_dict()`` output; a ``ValueError`` naming the field that is missing or of the
        wrong type (so that a hand-edited answer file is reported, not checked with strings for offsets)."""
        if not isinstance(data, dict):
            raise ArgumentError(f"a citation must be an object, not {type(data).__name__}")
        return cls(**{name: _field(data, "citation", name, str if name in ("doc_id", "quote") else int,
                                   optional=name == "page") for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Answer:
    """An extractive answer. ``text`` is a verbatim span (or None when the documents do not say)."""

    question: str
    text: str | None
    no_answer: bool
    confidence: float
    citations: tuple[Citation, ...] = ()
    passages: tuple[Hit, ...] = ()
    query: str = ""
    method: str = "sentence"
    alternatives: tuple[Answer, ...] = field(default=())
    #: when the answer is withheld (``no_answer``), where the best candidate stood (its confidence is
    #: ``confidence``): never an answer, kept so that a program or ``qa eval`` can see what was held back
    withheld: Citation | None = None

    def __repr__(self) -> str:  # short: the passages' full text is in .passages, and to_dict() has everything
        said = f"text={self.text!r}" if not self.no_answer else "no_answer=True"
        cites = ", ".join(f"{c.doc_id}:{c.start}-{c.end}" for c in self.citations)
        more = f", alternatives={len(self.alternatives)}" if self.alternatives else ""
        return (f"Answer({said}, confidence={self.confidence:.3f}, citations=[{cites}], "
                f"passages={len(self.passages)}{more}, question={clip(self.question, 80)!r})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "query": self.query,
            "text": self.text,
            "no_answer": self.no_answer,
            "confidence": self.confidence,
            "method": self.method,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [h.to_dict() for h in self.passages],
            "alternatives": [a.to_dict() for a in self.alternatives],
            "withheld": self.withheld.to_dict() if self.withheld else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """Rebuild an answer from ``to_dict()`` output (e.g. ``qa ask --json``), enough to verify it. A
        ``ValueError`` when ``data`` is not one (no ``citations`` list or ``no_answer``, or a malformed citation)."""
        if not isinstance(data, dict) or not isinstance(data.get("citations"), list) or "no_answer" not in data:
            raise ArgumentError("no 'citations' list and 'no_answer' in it")
        return cls(
            question=data.get("question", ""),
            text=data.get("text"),
            no_answer=bool(data.get("no_answer", False)),
            confidence=float(data.get("confidence", 0.0)),
            citations=tuple(Citation.from_dict(c) for c in data.get("citations", [])),
            passages=tuple(Hit.from_dict(h) for h in data.get("passages", [])),
            query=data.get("query", ""),
            method=data.get("method", ""),
            alternatives=tuple(cls.from_dict(a) for a in data.get("alternatives", [])),
            withheld=Citation.from_dict(data["withheld"]) if data.get("withheld") else None,
        )
