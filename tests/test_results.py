"""qa.results: to_dict / from_dict round trips (what `qa ask --json` writes and `qa verify` reads)."""

from __future__ import annotations

import json

import qa
from qa import Answer, Citation, Hit, Passage


def test_answer_round_trip_through_json(index: qa.Index) -> None:
    a = qa.answer(
        "When did things happen at the lake and the glassworks?", index=index, top_n=3, threshold=0.0
    )
    assert a.citations and a.alternatives and a.passages
    d = a.to_dict()
    assert set(d) == {
        "question",
        "query",
        "text",
        "no_answer",
        "confidence",
        "method",
        "citations",
        "passages",
        "alternatives",
        "withheld",
    }
    assert d["withheld"] is None  # answered: nothing held back
    loaded = json.loads(json.dumps(d))
    back = Answer.from_dict(loaded)
    assert back.to_dict() == d
    assert back.citations == a.citations
    assert back.alternatives[0].citations == a.alternatives[0].citations
    assert (back.text, back.no_answer, back.confidence, back.question, back.query, back.method) == (
        a.text,
        a.no_answer,
        a.confidence,
        a.question,
        a.query,
        a.method,
    )
    assert [h.to_dict() for h in back.passages] == [h.to_dict() for h in a.passages]
    assert qa.verify(back, index=index) == []


def test_no_answer_round_trip(index: qa.Index) -> None:
    a = qa.answer("herons", index=index, threshold=1.0)
    d = a.to_dict()
    assert d["text"] is None and d["no_answer"] is True and d["citations"] == []
    assert Answer.from_dict(json.loads(json.dumps(d))).to_dict() == d


def test_citation_from_dict_ignores_unknown_keys() -> None:
    c = Citation("a.txt", 1, 5, "abcd", 0, 10, 0, 20, page=3)
    d = dict(c.to_dict(), extra="ignored")
    assert Citation.from_dict(d) == c


def test_hit_exposes_its_passage() -> None:
    h = Hit(
        Passage("a.txt", 3, 8, "hello", title="T"),
        score=0.5,
        dense_score=0.4,
        bm25_score=2.0,
        sentence_score=0.3,
        rank=1,
    )
    assert (h.doc_id, h.start, h.end, h.text) == ("a.txt", 3, 8, "hello")
    assert h.to_dict() == {
        "rank": 1,
        "doc_id": "a.txt",
        "start": 3,
        "end": 8,
        "text": "hello",
        "score": 0.5,
        "dense_score": 0.4,
        "bm25_score": 2.0,
        "sentence_score": 0.3,
        "title": "T",
    }
    assert Passage("a.txt", 3, 8, "hello", "T").to_dict() == {
        "doc_id": "a.txt",
        "start": 3,
        "end": 8,
        "text": "hello",
        "title": "T",
    }


def test_a_re_ranked_hit_round_trips_its_reader_and_re_ranking_scores() -> None:
    h = Hit(Passage("a.txt", 0, 5, "hello"), 0.4, 0.3, 1.2, 0.5, rank=1, reader_score=7.5, rerank_score=1.15)
    d = json.loads(json.dumps(h.to_dict()))
    assert (d["reader_score"], d["rerank_score"]) == (7.5, 1.15)
    assert Hit.from_dict(d) == h
    plain = Hit(Passage("a.txt", 0, 5, "hello"), 0.4, 0.3, 1.2, 0.5, rank=1).to_dict()
    assert "rerank_score" not in plain and Hit.from_dict(plain).rerank_score is None


def test_a_hit_keeps_its_document_title_through_json() -> None:
    hit = Hit(Passage("a.txt", 0, 5, "Herons", title="Lake survey"), 0.5, 0.4, 3.0, 0.3, 1)
    back = Hit.from_dict(json.loads(json.dumps(hit.to_dict())))
    assert back == hit and back.passage.title == "Lake survey"
    assert Hit.from_dict({k: v for k, v in hit.to_dict().items() if k != "title"}).passage.title == ""  # older files
