"""qa.retrieve / qa.retrieval / qa.bm25: ranked passages with exact offsets, fused scores, scoping."""

from __future__ import annotations

import numpy as np
import pytest

import qa
from qa import Config, QuestionError, ScopeError
from qa.bm25 import BM25, tokenize
from qa.retrieval import fuse


def test_hits_are_ranked_passages_with_exact_offsets(index: qa.Index) -> None:
    hits = qa.retrieve("How many nesting herons did the team count?", k=4, index=index)
    assert len(hits) == 4
    assert [h.rank for h in hits] == [1, 2, 3, 4]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len({(h.doc_id, h.start) for h in hits}) == 4
    for h in hits:
        assert h.text == index.doc_by_id[h.doc_id].text[h.start : h.end]
    assert hits[0].doc_id == "alpha.txt" and "412 nesting herons" in hits[0].text
    assert hits[0].bm25_score > 0


@pytest.mark.parametrize(
    ("question", "doc_id", "needle"),
    [
        ("Who proposed moving the first ferry?", "beta.md", "James Whitlock"),
        ("When did the Marlow glassworks open?", "page.html", "1851"),
        ("How many cider apple trees did the Wexcombe orchard plant?", "sub/gamma.txt", "1,200"),
    ],
)
def test_top_hit_for_lexically_clear_questions(
    index: qa.Index, question: str, doc_id: str, needle: str
) -> None:
    top = qa.retrieve(question, k=1, index=index)[0]
    assert top.doc_id == doc_id and needle in top.text


def test_score_is_the_configured_fusion(index: qa.Index) -> None:
    hits = qa.retrieve("nesting herons survey", k=len(index), index=index)
    cfg = index.config
    top_bm25 = max(h.bm25_score for h in hits)
    for h in hits:
        expected = (
            cfg.w_dense * h.dense_score
            + cfg.w_bm25 * h.bm25_score / top_bm25
            + cfg.w_sentence * h.sentence_score
        )
        assert h.score == pytest.approx(expected, abs=1e-5)
        assert -1.0001 <= h.dense_score <= 1.0001 and -1.0001 <= h.sentence_score <= 1.0001


def test_fuse_weights_and_bm25_scaling() -> None:
    dense, bm25, sent = np.array([0.5, 0.1]), np.array([4.0, 2.0]), np.array([0.2, 0.9])
    only_dense = Config(w_dense=1.0, w_bm25=0.0, w_sentence=0.0)
    only_bm25 = Config(w_dense=0.0, w_bm25=1.0, w_sentence=0.0)
    only_sent = Config(w_dense=0.0, w_bm25=0.0, w_sentence=1.0)
    assert fuse(dense, bm25, sent, only_dense).tolist() == [0.5, 0.1]
    assert fuse(dense, bm25, sent, only_bm25).tolist() == [1.0, 0.5]  # scaled by the best candidate
    assert fuse(dense, bm25, sent, only_sent).tolist() == [0.2, 0.9]
    assert fuse(dense, np.zeros(2), sent, only_bm25).tolist() == [
        0.0,
        0.0,
    ]  # no term matched: no division by 0


def test_k_larger_than_the_index_returns_every_passage(index: qa.Index) -> None:
    hits = qa.retrieve("herons", k=1000, index=index)
    assert len(hits) == len(index)


def test_bad_k(index: qa.Index) -> None:
    with pytest.raises(ValueError):
        qa.retrieve("herons", k=0, index=index)


def test_results_are_deterministic(index: qa.Index) -> None:
    a = [h.to_dict() for h in qa.retrieve("ferry council vote", k=5, index=index)]
    b = [h.to_dict() for h in qa.retrieve("ferry council vote", k=5, index=index)]
    assert a == b


def test_only_limits_the_search(index: qa.Index) -> None:
    hits = qa.retrieve("How many nesting herons did the team count?", k=10, index=index, only="sub/*")
    assert hits and all(h.doc_id.startswith("sub/") for h in hits)
    hits = qa.retrieve("herons", k=10, index=index, only=["beta.md", "page.html"])
    assert {h.doc_id for h in hits} <= {"beta.md", "page.html"}


def test_only_unknown_document_is_a_scope_error(index: qa.Index) -> None:
    with pytest.raises(ScopeError, match="nope.txt") as err:
        qa.retrieve("herons", index=index, only="nope.txt")
    ids = sorted(d.doc_id for d in index.documents)
    listed = str(err.value).split("the documents are: ", 1)[1]
    assert listed.startswith(", ".join(ids[:5])) and listed.endswith(", …)" if len(ids) > 5 else f"{ids[-1]})")


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_question(index: qa.Index, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        qa.retrieve(question, index=index)


def test_very_long_question(index: qa.Index) -> None:
    with pytest.raises(QuestionError, match="20,000 characters long; the limit is 2,000"):
        qa.retrieve("x" * 20_000, index=index)


def test_script_text_of_html_is_not_indexed(index: qa.Index) -> None:
    for i in range(len(index)):
        assert "zanzibarSecret" not in index.passage(i).text
        assert "color: red" not in index.passage(i).text
    assert not index.bm25.scores("zanzibarSecret console").any()


# -- BM25 --------------------------------------------------------------------------------------------------


def test_tokenize_drops_stop_words_and_stems() -> None:
    assert tokenize("The herons are Nesting in the lakes") == ["heron", "nest", "lake"]


def test_bm25_scores_and_top() -> None:
    bm = BM25(["the heron nests by the lake", "ferry timetable council", "heron heron heron lake"])
    s = bm.scores("heron")
    assert s[1] == 0 and s[0] > 0 and s[2] > s[0]
    idx, scores = bm.top("heron", 5)
    assert idx.tolist() == [2, 0] and (scores > 0).all()
    assert not bm.scores("unknownword").any()
    assert not bm.scores("the and of").any()  # only stop words


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_bm25_of_stop_words_only_corpus() -> None:
    bm = BM25(["the and of", "a an"])
    assert bm.scores("anything").tolist() == [0.0, 0.0]
