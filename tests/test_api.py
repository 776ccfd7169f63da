"""The public API (qa.load_index / retrieve / answer / verify) on bad input, and the default index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import qa
import qa.api
from qa import DocumentsError, QuestionError
from tests.conftest import HASHING, SEEDS, deny_listing, write_docs


def test_public_names() -> None:
    for name in (
        "answer",
        "retrieve",
        "verify",
        "load_index",
        "Answer",
        "Citation",
        "Hit",
        "Passage",
        "Index",
        "Config",
        "QAError",
        "QuestionError",
        "DocumentsError",
        "IndexFileError",
        "ScopeError",
    ):
        assert hasattr(qa, name), name
    assert issubclass(QuestionError, qa.QAError) and issubclass(DocumentsError, qa.QAError)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DocumentsError, match="not found"):
        qa.load_index(docs=tmp_path / "nowhere", index_dir=tmp_path / "idx", config=HASHING)
    assert not (tmp_path / "idx").exists()


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DocumentsError, match="no documents"):
        qa.load_index(docs=tmp_path / "empty", index_dir=tmp_path / "idx", config=HASHING)


def test_folder_of_empty_files(tmp_path: Path, caplog) -> None:
    folder = write_docs(tmp_path / "docs", {"a.txt": "", "b.md": "\n\n"})
    with pytest.raises(DocumentsError, match="no documents"):
        qa.load_index(docs=folder, index_dir=tmp_path / "idx", config=HASHING)
    assert "a.txt" in caplog.text and "b.md" in caplog.text


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root from reading (simulated below)",
)
def test_unreadable_folder_chmod(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "locked", {"a.txt": "Some text that cannot be read at all."})
    folder.chmod(0)
    try:
        with pytest.raises(DocumentsError, match="permission denied"):
            qa.load_index(docs=folder, index_dir=tmp_path / "idx", config=HASHING)
    finally:
        folder.chmod(0o755)


def test_unreadable_folder_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_docs(tmp_path / "locked", {"a.txt": "Some text that cannot be read at all."})
    deny_listing(monkeypatch, folder)
    with pytest.raises(DocumentsError, match="permission denied"):
        qa.load_index(docs=folder, index_dir=tmp_path / "idx", config=HASHING)


def test_no_default_documents_here() -> None:
    # the default collection is seeds/ under the working directory; there is none in the test's directory
    with pytest.raises(DocumentsError, match="seeds"):
        qa.answer("Who is the minister of internal affairs?")


def test_default_index_built_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing")
    (Path.cwd() / "seeds").mkdir()
    for f in SEEDS.iterdir():
        (Path.cwd() / "seeds" / f.name).write_bytes(f.read_bytes())
    a = qa.answer("Who is the minister of internal affairs?", threshold=0.0)
    assert (Path.cwd() / "embeddings" / "seeds" / "manifest.json").is_file()
    assert a.citations and qa.verify(a) == []
    assert qa.api._default is not None and qa.api._default.embedder.model_id == "hashing-256"
    hits = qa.retrieve("Akhmetzhanov extradition", k=1)
    assert hits[0].doc_id == "004_c959e5419f16b652.txt"


@pytest.mark.parametrize("question", ["", "  \n ", 42, None])
def test_bad_questions_everywhere(index: qa.Index, question: object) -> None:
    with pytest.raises(QuestionError):
        qa.answer(question, index=index)  # type: ignore[arg-type]
    with pytest.raises(QuestionError):
        qa.retrieve(question, index=index)  # type: ignore[arg-type]


def test_twenty_thousand_character_question(index: qa.Index) -> None:
    long_q = ("Who counted the herons on the lake? " * 600)[:20_000]
    for call in (qa.answer, qa.retrieve):
        with pytest.raises(QuestionError, match="limit is 2,000"):
            call(long_q, index=index)


@pytest.mark.parametrize("bad", [None, "abc", {"text": "x"}])
def test_verify_of_something_that_is_not_an_answer_is_an_argument_error(index: qa.Index, bad: object) -> None:
    with pytest.raises(qa.ArgumentError, match="verify takes a qa.Answer"):
        qa.verify(bad, index=index)  # type: ignore[arg-type]


def test_an_empty_scope_is_an_error_not_an_empty_answer(index: qa.Index) -> None:
    for only in ([], ()):
        with pytest.raises(qa.ScopeError, match="names no document"):
            qa.answer("How many nesting herons did the team count?", index=index, only=only)
    with pytest.raises(qa.ArgumentError, match="threshold must be a number"):
        qa.answer("How many nesting herons did the team count?", index=index, threshold=1.5)


def test_history_given_as_one_question_is_one_turn_and_bad_turns_are_argument_errors(index: qa.Index) -> None:
    as_list = qa.answer("How many did they count?", index=index, history=["What did the team count?"])
    as_text = qa.answer("How many did they count?", index=index, history="What did the team count?")
    assert as_text.query == as_list.query and as_text.text == as_list.text  # not read letter by letter
    for bad in ([None], [5], [{}], [{"answer": "x"}], 5):
        with pytest.raises(qa.ArgumentError, match="history"):
            qa.answer("How many did they count?", index=index, history=bad)
    with pytest.raises(qa.QuestionError, match="^an earlier question in the history: the question is 2,399 char"):
        qa.answer("How many did they count?", index=index, history=["why " * 600])


@pytest.mark.parametrize("call", [
    lambda index: qa.answer("What did the team count?", index="seeds"),
    lambda index: qa.retrieve("What did the team count?", index=index, only=[None]),
    lambda index: qa.load_index(5),
    lambda index: qa.load_index("seeds", config={"model": "x"}),
    lambda index: qa.Answer.from_dict([]),
    lambda index: qa.answer("What did the team count?", index=index, reader=3),
    lambda index: qa.retrieve("What did the team count?", index),
    lambda index: qa.answer("What did the team count?", index=index, reader=["bundled"]),
    lambda index: qa.Answer.from_dict({"citations": [], "no_answer": True, "passages": [{"text": "x"}]}),
    lambda index: qa.Answer.from_dict({"citations": [], "no_answer": True, "passages": [
        {"doc_id": "a.txt", "start": "0", "end": 1, "text": "x", "score": 1, "dense_score": 1, "bm25_score": 1}]}),
])
def test_arguments_of_the_wrong_type_are_argument_errors(index: qa.Index, call) -> None:
    with pytest.raises(qa.ArgumentError):
        call(index)


def test_a_saved_withheld_answer_as_history_stands_for_its_guess(index: qa.Index) -> None:
    """``qa ask --json`` output (an Answer's to_dict()) as a turn of history reads as the Answer itself does:
    a withheld answer stands for its best guess."""
    first = qa.answer("What did the team count?", index=index, threshold=1.0)  # every answer withheld
    assert first.no_answer and first.withheld is not None
    follow = "How many of them were there?"
    from_object = qa.answer(follow, index=index, history=[first], threshold=0.0)
    from_saved = qa.answer(follow, index=index, history=[first.to_dict()], threshold=0.0)
    assert from_saved.query == from_object.query and from_saved.text == from_object.text
    assert first.withheld.quote.split()[0] in from_saved.query  # the guess, not nothing, is what "them" is


def test_results_and_the_index_have_short_reprs(index: qa.Index) -> None:
    a = qa.answer("How many nesting herons did the team count?", index=index, threshold=0.0)
    shown = repr(a)
    assert len(shown) < 300 and shown.startswith(f"Answer(text={a.text!r}, confidence=")
    assert f"{a.citations[0].doc_id}:{a.citations[0].start}-{a.citations[0].end}" in shown
    assert "no_answer=True" in repr(qa.answer("What is the capital of Georgia?", index=index, threshold=1.0))
    doc = index.documents[0]
    assert repr(doc) == f"Document({doc.doc_id!r}, {len(doc.text):,} characters, title={doc.title!r})"
    assert repr(index).startswith(f"<qa.Index: {len(index.documents)} documents, {len(index)} passages, ")
    hit = qa.retrieve("How many nesting herons did the team count?", index=index)[0]
    assert repr(hit).startswith(f"Hit({hit.doc_id}:{hit.start}-{hit.end}, rank=1, score=") and len(repr(hit)) < 200


def test_load_index_with_index_dir_alone_is_that_index_and_a_moved_folder_is_recorded(
        tmp_path: Path, caplog, monkeypatch) -> None:
    import logging

    docs, idx = write_docs(tmp_path / "docs"), tmp_path / "idx"
    built = qa.load_index(docs=docs, index_dir=idx, config=HASHING)
    monkeypatch.chdir(tmp_path)  # where no seeds/ is: the default documents must not be what it reads
    with caplog.at_level(logging.WARNING, logger="qa"):
        again = qa.load_index(index_dir=idx, config=HASHING)  # as `qa ask --index DIR`: never seeds/ over it
    assert caplog.text == "" and again.docs_folder == docs.resolve() and len(again) == len(built)
    moved = docs.rename(tmp_path / "moved")
    with caplog.at_level(logging.WARNING, logger="qa"):
        alone = qa.load_index(index_dir=idx, config=HASHING)  # its folder gone: the index as saved, said once
    assert "is not there; using the index as saved" in caplog.text and len(alone) == len(built)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qa"):
        qa.load_index(docs=moved, index_dir=idx, config=HASHING)
    assert "replacing it" in caplog.text  # another folder, as far as it can tell: said, and recorded
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qa"):
        qa.load_index(docs=moved, index_dir=idx, config=HASHING)
        assert qa.load_index(index_dir=idx, config=HASHING).docs_folder == moved.resolve()
    assert caplog.text == ""  # recorded the first time: not said again
