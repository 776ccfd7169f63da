"""qa.verify: [] for a fresh answer; tampered quotes, wrong offsets, missing, changed or deleted documents
are reported; re-loading after an edit re-indexes the document."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import qa
from qa.citations import check_citation
from tests.conftest import HASHING, CountingEmbedder


@pytest.fixture
def fresh(index: qa.Index) -> qa.Answer:
    a = qa.answer("How many nesting herons did the team count?", index=index, threshold=0.0)
    assert a.citations and a.citations[0].doc_id == "alpha.txt"
    return a


def with_citation(a: qa.Answer, **changes) -> qa.Answer:
    return replace(a, citations=(replace(a.citations[0], **changes), *a.citations[1:]))


def test_fresh_answer_verifies(fresh: qa.Answer, index: qa.Index) -> None:
    assert qa.verify(fresh, index=index) == []


def test_no_answer_verifies_its_withheld_guess(index: qa.Index) -> None:
    a = qa.answer("herons", index=index, threshold=1.0)
    assert a.no_answer and not a.citations and a.withheld is not None
    assert qa.verify(a, index=index) == []
    tampered = replace(a, withheld=replace(a.withheld, quote="made up"))
    problems = qa.verify(tampered, index=index)
    assert len(problems) == 1 and problems[0].startswith("withheld guess: quote 'made up' does not equal")


def test_tampered_quote(fresh: qa.Answer, index: qa.Index) -> None:
    bad = with_citation(fresh, quote=fresh.citations[0].quote.replace("412", "413"))
    problems = qa.verify(bad, index=index)
    assert len(problems) == 2 and "citation 1" in problems[1] and "does not equal alpha.txt" in problems[1]
    assert problems[0] == "the answer's text is not the quote of its first citation"  # the text still says 412


def test_wrong_offsets(fresh: qa.Answer, index: qa.Index) -> None:
    c = fresh.citations[0]
    problems = qa.verify(with_citation(fresh, start=c.start + 1, end=c.end + 1), index=index)
    assert any("does not equal" in p for p in problems)


def test_offsets_outside_the_document(fresh: qa.Answer, index: qa.Index) -> None:
    n = len(index.doc_by_id["alpha.txt"].text)
    problems = qa.verify(with_citation(fresh, start=n + 10, end=n + 20), index=index)
    assert problems and "outside alpha.txt" in problems[0]
    assert qa.verify(with_citation(fresh, start=-5), index=index)


def test_span_outside_its_sentence(fresh: qa.Answer, index: qa.Index) -> None:
    c = fresh.citations[0]
    text = index.doc_by_id["alpha.txt"].text
    bad = with_citation(fresh, sentence_start=c.start + 2, sentence_end=c.end, quote=text[c.start : c.end])
    problems = qa.verify(bad, index=index)
    assert len(problems) == 1 and "not inside its sentence" in problems[0]


def test_document_not_in_the_index(fresh: qa.Answer, index: qa.Index) -> None:
    problems = qa.verify(with_citation(fresh, doc_id="ghost.txt"), index=index)
    assert problems == ["citation 1: document 'ghost.txt' is not in the index"]


def test_alternatives_are_checked_too(fresh: qa.Answer, index: qa.Index) -> None:
    alt = with_citation(fresh, quote="made up")
    problems = qa.verify(replace(fresh, alternatives=(alt,)), index=index)
    assert len(problems) == 2 and problems[1].startswith("citation 2:")
    assert problems[0] == "other answer 1's text is not the quote of its first citation"


def test_changed_document_is_reported_then_reindexed(
    fresh: qa.Answer, index: qa.Index, docs_dir: Path, index_dir: Path
) -> None:
    path = docs_dir / "alpha.txt"
    # an edit elsewhere in the file: the quote still stands at its offsets, but the change is reported
    path.write_text(
        path.read_text(encoding="utf-8") + "\nA later addendum about the reed beds of the lake.\n",
        encoding="utf-8",
    )
    problems = qa.verify(fresh, index=index)
    assert len(problems) == 1 and "alpha.txt changed since it was indexed" in problems[0]
    assert "still stands" in problems[0]
    # an edit before the quote: it no longer stands there
    path.write_text("Inserted first line.\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    problems = qa.verify(fresh, index=index)
    assert len(problems) == 1 and "no longer stands" in problems[0]
    # re-loading re-indexes the changed document (and only it); a new answer verifies
    emb = CountingEmbedder()
    updated = qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, embedder=emb, progress=False)
    assert emb.passage_calls == 1
    assert updated.doc_by_id["alpha.txt"].text.startswith("Inserted first line.")
    assert qa.verify(fresh, index=updated)  # the old answer's offsets are stale in the new index
    again = qa.answer("How many nesting herons did the team count?", index=updated, threshold=0.0)
    assert again.citations[0].start == fresh.citations[0].start + len("Inserted first line.\n")
    assert qa.verify(again, index=updated) == []


def test_deleted_document_is_reported(fresh: qa.Answer, index: qa.Index, docs_dir: Path) -> None:
    (docs_dir / "alpha.txt").unlink()
    problems = qa.verify(fresh, index=index)
    assert len(problems) == 1 and "no longer exists" in problems[0]


def test_changed_html_document_is_rechecked_as_text(index: qa.Index, docs_dir: Path) -> None:
    a = qa.answer("When did the Marlow glassworks open?", index=index, threshold=0.0)
    assert a.citations[0].doc_id == "page.html"
    page = docs_dir / "page.html"
    page.write_text(
        page.read_text(encoding="utf-8").replace("</body>", "<p>Appendix.</p></body>"), encoding="utf-8"
    )
    problems = qa.verify(a, index=index)
    assert len(problems) == 1 and "changed" in problems[0] and "still stands" in problems[0]


def test_check_citation_directly() -> None:
    text = "One sentence. Another sentence here."
    c = qa.Citation("d.txt", 14, 21, "Another", 14, 36, 0, 36)
    assert check_citation(c, text, "x") == []
    assert check_citation(replace(c, quote="another"), text, "x")
    assert check_citation(replace(c, end=40), text, "x")


def test_the_reader_cites_each_place_once(index: qa.Index) -> None:
    """The reader reads the windows of the best two sentences; where both point at the same words, the answer
    cites them once (it once listed 'alpha.txt 126-129' twice)."""
    a = qa.answer("How many nesting herons did the team count?", index=index, threshold=0.0, reader="bundled")
    places = [(c.doc_id, c.start, c.end) for c in a.citations]
    assert a.text == "412" and places[0] == ("alpha.txt", 126, 129)
    assert len(places) == len(set(places))
    assert qa.verify(a, index=index) == []


def test_an_answer_s_own_claims_and_its_passages_are_checked(fresh: qa.Answer, index: qa.Index) -> None:
    assert any("marked as no answer but has text" in p for p in qa.verify(replace(fresh, no_answer=True), index=index))
    empty = replace(fresh, text=None, citations=())
    assert "the answer is not marked as no answer but has no text" in qa.verify(empty, index=index)
    assert any("not a probability" in p for p in qa.verify(replace(fresh, confidence=7.0), index=index))
    h = fresh.passages[0]
    forged = replace(fresh, passages=(replace(h, passage=replace(h.passage, text=h.text + " and more")),
                                      *fresh.passages[1:]))
    assert qa.verify(forged, index=index) == [f"passage 1: its text is not the text of {h.doc_id} at {h.start}-{h.end}"]
