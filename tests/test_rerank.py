"""qa.rerank: the reader re-orders the best passages by how sure it is that each holds an answer."""

from __future__ import annotations

import numpy as np
import pytest

import qa
from qa.answering import Answerer
from qa.errors import QAError
from qa.reader import SpanGuess
from qa.rerank import combine, rerank, unsure
from qa.retrieval import rank


class FakeReader:
    """Finds an answer (margin +10) in passages that contain ``word``, none (-10) elsewhere; counts its reads."""

    model_id = "fake"

    def __init__(self, word: str) -> None:
        self.word = word
        self.reads = 0

    def read(self, question: str, contexts: list[str], top: int = 5, within: object = None) -> list[SpanGuess]:
        self.reads += 1
        out = []
        for i, text in enumerate(contexts):
            pos = text.find(self.word)
            if pos >= 0:
                out.append(SpanGuess(i, pos, pos + len(self.word), 8.0, -2.0))
            else:
                out.append(SpanGuess(i, 0, 1, -1.0, 9.0))
        return sorted(out, key=lambda g: -g.score)


def test_combine_adds_the_clipped_margin_to_the_relative_score() -> None:
    got = combine(np.array([2.0, 1.0, 0.5]), np.array([-30.0, 5.0, 40.0]), 0.2)
    assert got == pytest.approx([1.0 - 0.2, 0.5 + 0.1, 0.25 + 0.2])


def test_rerank_moves_up_the_passage_the_reader_answers_from(index: qa.Index) -> None:
    ranked = rank(index, "When did the glassworks open?", k=6)
    texts = [h.text for h in ranked.hits]
    target = next(i for i, t in enumerate(texts) if i > 0 and "ferry" in t)  # not first by retrieval
    reader = FakeReader("ferry")
    out = rerank(ranked, "q", reader, depth=len(texts), weight=1.0)
    assert "ferry" in out.hits[0].text and out.hits[0].reader_score == pytest.approx(10.0)
    assert [h.rank for h in out.hits] == list(range(1, len(texts) + 1))
    # the hits are in the order of the score they carry for it; the retrieval scores alone are not
    assert [h.rerank_score for h in out.hits] == sorted((h.rerank_score for h in out.hits), reverse=True)
    assert all(h.rerank_score is None for h in ranked.hits)
    # every per-hit array moved with its hit, and the retrieval score is kept as it was
    moved = {h.passage: (p, list(s), h.score) for h, p, s in zip(out.hits, out.passages, out.sent_ids, strict=True)}
    for h, p, s in zip(ranked.hits, ranked.passages, ranked.sent_ids, strict=True):
        assert moved[h.passage] == (p, list(s), h.score)
    assert ranked.hits[target].passage in [h.passage for h in out.hits[:2]]
    # with a weight of 0 the order is retrieval's; a depth under 2 changes nothing
    assert [h.passage for h in rerank(ranked, "q", reader, len(texts), 0.0).hits] == [h.passage for h in ranked.hits]
    assert rerank(ranked, "q", reader, 1, 1.0) is ranked


def test_only_the_first_depth_hits_move(index: qa.Index) -> None:
    ranked = rank(index, "When did the glassworks open?", k=6)
    out = rerank(ranked, "q", FakeReader("ferry"), depth=3, weight=1.0)
    assert [h.passage for h in out.hits[3:]] == [h.passage for h in ranked.hits[3:]]
    assert all(h.reader_score is None and h.rerank_score is None for h in out.hits[3:])
    assert {h.passage for h in out.hits[:3]} == {h.passage for h in ranked.hits[:3]}


def test_the_answerer_reranks_once_per_question(index: qa.Index) -> None:
    reader = FakeReader("ferry")
    ans = Answerer(index, index.config.with_(rerank=5, rerank_margin=1.0), reader=reader)
    hits = ans.retrieve("When did the glassworks open?", 5).hits
    assert reader.reads == 1 and hits[0].reader_score is not None
    assert ans.retrieve("When did the glassworks open?", 5).hits == hits and reader.reads == 1
    ans.retrieve("Who proposed the ferry change?", 5)
    assert reader.reads == 2
    ans.retrieve("Who proposed the ferry change?", 5, reuse=False)  # measured afresh
    assert reader.reads == 3


def test_unsure_is_a_lead_smaller_than_the_margin() -> None:
    assert unsure(np.array([1.0, 0.95]), 0.1) and not unsure(np.array([1.0, 0.85]), 0.1)
    assert unsure(np.array([1.0, 0.2]), 1.0)  # 1 re-ranks everything
    assert not unsure(np.array([1.0]), 0.5)  # one passage: nothing to re-order
    assert unsure(np.array([0.0, 0.0]), 0.1)  # no evidence either way


def test_the_answerer_reranks_only_where_retrieval_is_unsure(index: qa.Index) -> None:
    question = "When did the glassworks open?"
    top = [h.score for h in rank(index, question, k=2).hits]
    lead = (top[0] - top[1]) / top[0]
    for margin, reads in ((lead / 2, 0), (lead * 2, 1)):
        reader = FakeReader("ferry")
        ans = Answerer(index, index.config.with_(rerank=5, rerank_margin=margin), reader=reader)
        hits = ans.retrieve(question, 5).hits
        assert reader.reads == reads and (hits[0].reader_score is not None) == bool(reads)


def test_readers_off_turn_the_default_rerank_off(index: qa.Index) -> None:
    ans = Answerer(index, index.config.with_(reader="none", rerank_margin=1.0, rerank=qa.Config().rerank))
    with pytest.raises(QAError, match="needs a reader"):  # asked for (every question): an error
        ans.retrieve("When did the glassworks open?", 5)
    plain = Answerer(index, index.config.with_(reader="none"))  # as configured by default: quietly off
    hits = plain.retrieve("When did the glassworks open?", 5).hits
    assert all(h.reader_score is None for h in hits)
    assert [h.passage for h in hits] == [h.passage for h in rank(index, "When did the glassworks open?", k=10).hits]


def test_rerank_without_a_reader_is_a_clear_error(index: qa.Index) -> None:
    ans = Answerer(index, index.config.with_(rerank=5, reader="none"))
    with pytest.raises(QAError, match="needs a reader"):
        ans.retrieve("When did the glassworks open?", 5)

