"""Frozen result dataclasses: what the library hands back. Each has ``to_dict()``; citations carry offsets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import ArgumentError


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
            **({"reader_score": self.reader_score} if self.reader_score is not None else {}),
            **({"rerank_score": self.rerank_score} if self.rerank_score is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        passage = Passage(data["doc_id"], int(data["start"]), int(data["end"]), data["text"])
        return cls(passage, float(data["score"]), float(data["dense_score"]), float(data["bm25_score"]),
                   float(data.get("sentence_score", 0.0)), int(data.get("rank", 0)),
                   None if data.get("reader_score") is None else float(data["reader_score"]),
                   None if data.get("rerank_score") is None else float(data["rerank_score"]))


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
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in data:
                if name == "page":
                    continue
                raise ArgumentError(f"a citation has no {name!r}")
            v = data[name]
            want = str if name in ("doc_id", "quote") else int
            if not (isinstance(v, want) and not isinstance(v, bool)) and not (name == "page" and v is None):
                raise ArgumentError(f"a citation's {name!r} must be {'text' if want is str else 'a whole number'}, "
                                    f"not {v!r}")
            values[name] = v
        return cls(**values)


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
