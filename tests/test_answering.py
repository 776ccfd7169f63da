"""qa.answer / qa.answering: cited verbatim answers, abstention, alternatives, questions, odd documents."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import qa
from qa import Config, QuestionError
from qa.answering import clean_question
from qa.calibration import FEATURES, Calibrator
from qa.textnorm import normalize_text
from tests.conftest import HASHING, write_docs


def assert_grounded(a: qa.Answer, index: qa.Index) -> None:
    """Every citation of ``a`` (and of its alternatives) is exact and lies inside its sentence and passage."""
    assert not a.no_answer and a.citations
    assert a.text == a.citations[0].quote
    for ans in (a, *a.alternatives):
        for c in ans.citations:
            text = index.doc_by_id[c.doc_id].text
            assert c.quote == text[c.start : c.end] and c.quote
            assert c.passage_start <= c.sentence_start <= c.start < c.end <= c.sentence_end <= c.passage_end
    assert qa.verify(a, index=index) == []


def test_answer_is_a_cited_verbatim_sentence(index: qa.Index) -> None:
    a = qa.answer("How many nesting herons did the team count?", index=index, threshold=0.0, reader="sentence")
    assert_grounded(a, index)
    c = a.citations[0]
    assert c.doc_id == "alpha.txt" and "412" in a.text
    assert a.method == "sentence" and 0.0 <= a.confidence <= 1.0
    assert a.query == a.question == "How many nesting herons did the team count?"
    assert c.page is None
    assert a.passages and a.passages[0].doc_id == "alpha.txt"
    assert any(h.start == c.passage_start and h.end == c.passage_end for h in a.passages)


def test_k_sets_how_many_passages_come_with_the_answer(index: qa.Index) -> None:
    assert len(qa.answer("ferry timetable", index=index, k=2).passages) == 2
    assert len(qa.answer("ferry timetable", index=index, k=7).passages) == 7


def test_threshold_withholds_the_answer(index: qa.Index) -> None:
    a = qa.answer("How many nesting herons did the team count?", index=index, threshold=1.0)
    assert a.no_answer and a.text is None and a.citations == () and a.alternatives == ()
    assert a.passages  # the nearest passages are still shown
    assert qa.verify(a, index=index) == []


def test_confidence_does_not_depend_on_threshold(index: qa.Index) -> None:
    q = "Who proposed moving the first ferry?"
    assert (
        qa.answer(q, index=index, threshold=0.0).confidence
        == qa.answer(q, index=index, threshold=1.0).confidence
    )


def test_top_n_gives_distinct_grounded_alternatives(index: qa.Index) -> None:
    a = qa.answer(
        "When did things happen at the lake and the glassworks?", index=index, top_n=3, threshold=0.0
    )
    assert_grounded(a, index)
    assert 1 <= len(a.alternatives) <= 2
    quotes = [a.text] + [alt.text for alt in a.alternatives]
    assert len({normalize_text(q) for q in quotes}) == len(quotes)
    with pytest.raises(ValueError):
        qa.answer("ferry", index=index, top_n=0)


def test_other_answers_never_outrank_or_change_the_answer(index: qa.Index) -> None:
    q = "When did things happen at the lake and the glassworks?"
    one = qa.answer(q, index=index, threshold=0.0)
    three = qa.answer(q, index=index, top_n=3, threshold=0.0)
    assert (three.text, three.confidence) == (one.text, one.confidence)  # top_n only adds answers
    assert three.alternatives and all(alt.confidence <= three.confidence for alt in three.alternatives)
    withheld = qa.answer(q, index=index, top_n=3, threshold=three.confidence + 1e-6)
    assert withheld.no_answer and withheld.alternatives == ()  # no "other answers" when the documents do not say


def test_only_limits_the_answer(index: qa.Index) -> None:
    a = qa.answer("How many nesting herons did the team count?", index=index, only="beta.md", threshold=0.0)
    assert all(c.doc_id == "beta.md" for c in a.citations) and a.citations
    assert all(h.doc_id == "beta.md" for h in a.passages)


def test_html_document_is_answered_as_plain_text(index: qa.Index) -> None:
    a = qa.answer("When did the Marlow glassworks open?", index=index, threshold=0.0)
    assert_grounded(a, index)
    assert a.citations[0].doc_id == "page.html"
    assert "1851" in a.text and "<" not in a.text and "&amp;" not in a.text


def test_markup_inside_a_txt_file_is_quoted_literally(docs_dir: Path, index_dir: Path) -> None:
    raw = (
        "Browser Notes\n\nThe snippet <script>alert('kestrel')</script> was pasted into the kestrel "
        "wiki page by mistake on Friday.\n"
    )
    write_docs(docs_dir, {"notes.txt": raw})
    index = qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, progress=False)
    a = qa.answer("What snippet was pasted into the kestrel wiki page?", index=index, threshold=0.0,
                  reader="sentence")
    assert_grounded(a, index)
    c = a.citations[0]
    assert c.doc_id == "notes.txt"
    assert "<script>alert('kestrel')</script>" in a.text
    assert raw[c.start : c.end] == a.text  # offsets are into the file's own text
    # the reader (the default) points inside the sentence: still the file's own characters at its offsets
    r = qa.answer("What snippet was pasted into the kestrel wiki page?", index=index, threshold=0.0)
    assert_grounded(r, index)
    assert r.method == "reader:bundled" and raw[r.citations[0].start : r.citations[0].end] == r.text


def test_a_latin1_document_is_indexed_and_cited(docs_dir: Path, index_dir: Path, caplog) -> None:
    data = "Caf\xe9 Rossi on Mill Street was opened by Anna Rossi in 1999 with a loan.\n".encode("latin-1")
    write_docs(docs_dir, {"latin1.txt": data})
    index = qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, progress=False)
    assert "latin1.txt" in caplog.text and "UTF-8" in caplog.text
    a = qa.answer("Who opened Caf\xe9 Rossi on Mill Street?", index=index, threshold=0.0, reader="sentence")
    assert_grounded(a, index)
    assert a.citations[0].doc_id == "latin1.txt" and "Caf\xe9 Rossi" in a.text
    r = qa.answer("Who opened Caf\xe9 Rossi on Mill Street?", index=index, threshold=0.0)  # the reader
    assert_grounded(r, index)
    assert r.citations[0].doc_id == "latin1.txt" and r.text == "Anna Rossi"


# -- questions ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", " ", "\n\n\t ", "\x00\x07\x1f"])
def test_empty_question_is_refused(index: qa.Index, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        qa.answer(question, index=index)


def test_question_of_20000_characters_is_refused(index: qa.Index) -> None:
    with pytest.raises(QuestionError) as err:
        qa.answer("herons " * 2858, index=index)
    msg = str(err.value)
    assert "20,005 characters" in msg and "limit is 2,000" in msg and "\n" not in msg


def test_non_text_question_is_refused(index: qa.Index) -> None:
    with pytest.raises(QuestionError, match="must be text"):
        qa.answer(None, index=index)  # type: ignore[arg-type]


def test_clean_question() -> None:
    assert clean_question("  Who\x00 is\n\nthe   minister?\t", 100) == "Who is the minister?"
    assert clean_question("x" * 50, 50) == "x" * 50
    with pytest.raises(QuestionError):
        clean_question("x" * 51, 50)
    # characters that show as nothing: dropped where they split a word, and alone they are no question
    assert clean_question("Who left Kaz\u200bakhstan\u00ad?\ufeff", 100) == "Who left Kazakhstan?"
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # its zero-width non-joiner shapes the word
    assert clean_question(persian, 100) == persian
    for nothing in ("\u200b\u200b", "\ufeff \u200e\u2060", "\u200d\u202e"):
        with pytest.raises(QuestionError, match="the question is empty"):
            clean_question(nothing, 100)


def test_question_limit_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("QA_MAX_QUESTION_CHARS", "10")
    with pytest.raises(QuestionError, match="limit is 10"):
        clean_question("a question that is too long", Config.from_env().max_question_chars)


def test_normalize_text() -> None:
    assert normalize_text("The  Cat, sat — on “a” mat!") == "cat sat on mat"
    assert normalize_text("An apple") == "apple"


# -- confidence --------------------------------------------------------------------------------------------


def test_a_reader_without_calibration_borrows_the_sentence_answerers(caplog: pytest.LogCaptureFixture) -> None:
    from qa.calibration import calibrator_for
    from qa.embedding import DEFAULT_MODEL

    sentence = calibrator_for(DEFAULT_MODEL, "sentence")
    assert sentence.fitted and sentence.threshold is not None
    with caplog.at_level(logging.WARNING, logger="qa.calibration"):
        for _ in range(2):
            brought = calibrator_for(DEFAULT_MODEL, "reader:/models/someone-elses-squad-reader")
            assert brought == sentence  # its threshold too, not 0.5 on an uncalibrated average
    assert caplog.text.count("no confidence calibration for reader:/models/someone-elses-squad-reader") == 1
    assert calibrator_for(DEFAULT_MODEL, "reader:bundled") != sentence  # the shipped reader has its own
    assert not calibrator_for("hashing-256", "reader:x").fitted  # no calibration for the model at all


def test_the_shipped_calibrations_were_fitted_with_the_default_weights() -> None:
    """A calibration is fitted on the answers some weights pick (tune_reader.py, tune_answer.py record them):
    the defaults in Config must be those weights, or the confidence is of answers the engine does not give."""
    import json
    from importlib import resources

    from qa.embedding import DEFAULT_MODEL

    shipped = json.loads(resources.files("qa").joinpath("data/calibration.json").read_text())
    cfg = Config()
    reader = shipped[f"{DEFAULT_MODEL}|reader:bundled"]
    for key in ("w_reader", "reader_windows", "reader_lead", "read_passages"):
        assert reader[key] == getattr(cfg, key), key
    sentence = shipped[f"{DEFAULT_MODEL}|sentence"]
    assert sentence["read_passages"] == cfg.read_passages
    assert tuple(sentence["w_answer"]) == tuple(cfg.w_answer)
    assert (sentence["w_type"], sentence["w_near"]) == (cfg.w_type, cfg.w_near)


def test_calibrator() -> None:
    values = [0.8, 0.6, 0.4, 0.2] + [0.5] * (len(FEATURES) - 4)
    feats = dict(zip(FEATURES, values, strict=True))
    assert Calibrator((), 0.0, fitted=False).prob(feats) == pytest.approx(0.5)
    zeros = (0.0,) * (len(FEATURES) - 1)
    fitted = Calibrator((1.0, *zeros), 0.0)
    assert fitted.prob(feats) == pytest.approx(1 / (1 + 2.718281828459045**-0.8))
    assert Calibrator((1000.0, *zeros), 0.0).prob(feats) == pytest.approx(1.0)  # no overflow


def test_a_feature_missing_from_a_candidate_counts_as_zero() -> None:
    fitted = Calibrator((1.0,) * len(FEATURES), 0.0)
    assert fitted.prob({"sent_cos": 0.0}) == pytest.approx(0.5)


# -- the default answerer --------------------------------------------------------------------------------


def test_the_bundled_reader_answers_by_default_and_sentence_turns_it_off(index: qa.Index, monkeypatch) -> None:
    from qa.api import get_reader

    q = "How many nesting herons did the team count?"
    assert qa.answer(q, index=index, threshold=0.0).method == "reader:bundled"
    assert qa.answer(q, index=index, threshold=0.0, reader="sentence").method == "sentence"
    monkeypatch.setenv("QA_READER", "sentence")
    assert get_reader(None, Config.from_env()) is None


def test_without_the_bundled_reader_the_default_falls_back_to_sentences_with_one_warning(
    index: qa.Index, monkeypatch, caplog
) -> None:
    import qa.api

    monkeypatch.setattr(qa.api, "bundled_reader_path", lambda: None)
    monkeypatch.setattr("qa.answering.bundled_reader_path", lambda: None)  # re-ranking's reader is missing too
    monkeypatch.setattr(qa.api, "_warned_missing", False)
    monkeypatch.setattr(qa.api, "_readers", {})
    with caplog.at_level("WARNING"):
        a = qa.answer("How many nesting herons did the team count?", index=index, threshold=0.0)
        b = qa.answer("Who proposed moving the first ferry?", index=index, threshold=0.0)
    assert a.method == b.method == "sentence"
    assert caplog.text.count("the bundled reader is not installed") == 1
    with pytest.raises(qa.QAError, match="bundled reader is not installed"):  # asked for by name: an error
        monkeypatch.setattr("qa.reader.bundled_reader_path", lambda: None)
        qa.answer("Who proposed moving the first ferry?", index=index, reader="bundled")


def test_a_question_about_what_was_said_is_answered_with_the_statement(docs_dir: Path, index_dir: Path) -> None:
    raw = ("Harbour Council\n\nThe harbour master is Ines Caskey. \"Ferries will not sail before dawn,\" "
           "Caskey said about the new timetable on Monday. The council meets in the old customs house.\n")
    write_docs(docs_dir, {"council.txt": raw})
    index = qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, progress=False)
    a = qa.answer("What did Caskey say about the new timetable?", index=index, threshold=0.0)
    assert_grounded(a, index)
    assert a.method == "reader:bundled"
    assert a.text.startswith('"Ferries will not sail before dawn,"') and a.text.endswith("on Monday.")
    c = a.citations[0]
    assert raw[c.start:c.end] == a.text and c.start == c.sentence_start and c.end == c.sentence_end
