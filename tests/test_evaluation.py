"""qa.evaluation: SQuAD normalisation/EM/F1, recall@k (gold document and character range), abstention as the
empty answer, the summary's keys, question files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import qa
import qa.evaluation as ev
from qa import Answer, Citation, Hit, Passage, QAError
from qa.evaluation import (
    KEYS,
    Gold,
    covers,
    evaluate,
    exact_score,
    f1_score,
    first_relevant,
    gold_problems,
    golds,
    read_questions,
    score_answer,
    summarize,
)
from tests.conftest import ALPHA, BETA, DATA

# -- SQuAD scores ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "truth", "f1"),
    [
        ("the cat sat", "cat sat on", 0.8),  # "cat sat" vs "cat sat on": P=1, R=2/3
        ("cat sat on", "the cat sat", 0.8),
        ("The Cat, sat.", "cat sat", 1.0),
        ("a dog", "the cat", 0.0),
        ("cat cat", "cat", 2 * 0.5 * 1.0 / 1.5),  # multiset overlap
        ("", "", 1.0),
        ("", "cat", 0.0),
        ("cat", "", 0.0),
        ("the", "a", 1.0),  # both normalise to empty
    ],
)
def test_f1(pred: str, truth: str, f1: float) -> None:
    assert f1_score(pred, truth) == pytest.approx(f1)


def test_exact() -> None:
    assert exact_score("The  Eiffel Tower!", "eiffel tower") == 1.0
    assert exact_score("Eiffel Tower in Paris", "Eiffel Tower") == 0.0
    assert exact_score("", "") == 1.0


def _answer(text: str | None, doc: str = "a.txt", start: int = 0) -> Answer:
    if text is None:
        return Answer("q", None, True, 0.1)
    c = Citation(doc, start, start + len(text), text, start, start + len(text), start, start + len(text))
    return Answer("q", text, False, 0.9, (c,))


def test_abstention_counts_as_the_empty_answer() -> None:
    impossible = {"question": "q", "answers": [], "is_impossible": True}
    answerable = {"question": "q", "answers": [{"text": "412", "doc": "a.txt", "start": 0}]}
    assert score_answer(_answer(None), impossible) == (1.0, 1.0)
    assert score_answer(_answer("anything"), impossible) == (0.0, 0.0)
    assert score_answer(_answer(None), answerable) == (0.0, 0.0)
    assert score_answer(_answer("412"), answerable) == (1.0, 1.0)
    # an answer flagged no_answer scores as empty even if it carries text
    flagged = Answer("q", "412", True, 0.1)
    assert score_answer(flagged, answerable) == (0.0, 0.0)


def test_best_of_several_gold_answers() -> None:
    q = {
        "question": "q",
        "answers": [
            {"text": "about 100,000", "doc": "a", "start": 0},
            {"text": "100,000", "doc": "b", "start": 5},
        ],
    }
    assert score_answer(_answer("100,000"), q) == (1.0, 1.0)
    em, f1 = score_answer(_answer("almost 100,000 people"), q)
    assert em == 0.0 and f1 == pytest.approx(0.5)


# -- recall@k ----------------------------------------------------------------------------------------------


def _hit(doc: str, start: int, end: int) -> Hit:
    return Hit(Passage(doc, start, end, "x" * (end - start)), 1.0, 0.0, 0.0)


def test_covers_needs_gold_document_and_whole_range() -> None:
    g = Gold("a.txt", 10, 20, "x" * 10)
    assert covers("a.txt", 0, 20, g) and covers("a.txt", 10, 20, g)
    assert not covers("a.txt", 11, 30, g)  # starts after the answer
    assert not covers("a.txt", 0, 19, g)  # ends inside it
    assert not covers("b.txt", 0, 100, g)  # right place, wrong document
    assert covers("collection/a.txt", 0, 30, g)  # gold names the file, the index a path below the folder
    assert not covers("xa.txt", 0, 30, g)


def test_first_relevant_is_the_rank_of_the_first_covering_hit() -> None:
    gs = [Gold("a.txt", 10, 20, "x" * 10), Gold("b.txt", 0, 5, "y" * 5)]
    hits = [_hit("c.txt", 0, 100), _hit("a.txt", 15, 40), _hit("b.txt", 0, 50), _hit("a.txt", 0, 30)]
    assert first_relevant(hits, gs) == 3
    assert first_relevant(hits[:2], gs) is None
    assert first_relevant([], gs) is None


def test_summarize_definitions() -> None:
    rows = [
        {"answerable": True, "rank": 1, "contains": True, "exact": 1.0, "f1": 1.0, "no_answer": False},
        {"answerable": True, "rank": 3, "contains": False, "exact": 0.0, "f1": 0.5, "no_answer": False},
        {"answerable": True, "rank": None, "contains": False, "exact": 0.0, "f1": 0.0, "no_answer": True},
        {"answerable": True, "rank": 7, "contains": False, "exact": 0.0, "f1": 0.0, "no_answer": False},
        {"answerable": False, "rank": None, "contains": False, "exact": 1.0, "f1": 1.0, "no_answer": True},
        {"answerable": False, "rank": None, "contains": False, "exact": 0.0, "f1": 0.0, "no_answer": False},
    ]
    # where the sentence holds the gold: the second's span missed it, the third's withheld guess found it
    for r, sent, guess in zip(rows, [1, 1, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0], strict=True):
        r["sentence_contains"], r["guess_sentence_contains"] = bool(sent), bool(guess)
    s = summarize(rows, cites_ok=3, cites_all=4, r_ms=[1.0, 2.0, 3.0], a_ms=[5.0, 7.0])
    assert tuple(s) == KEYS
    assert s["n"] == 6
    assert s["recall@1"] == 0.25 and s["recall@5"] == 0.5 and s["recall@10"] == 0.75
    assert s["mrr"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 7) / 4)
    assert s["answer_contains@1"] == 0.25
    assert s["sentence_contains@1"] == 0.5 and s["guess_sentence_contains@1"] == 0.75
    assert s["HasAns_exact"] == 0.25 and s["HasAns_f1"] == pytest.approx(1.5 / 4)
    assert s["NoAns_exact"] == 0.5
    assert s["exact"] == pytest.approx(2 / 6) and s["f1"] == pytest.approx(2.5 / 6)
    assert s["citations_valid"] == 0.75
    assert s["retrieve_ms_p50"] == 2.0 and s["answer_ms_p50"] == 6.0
    empty = summarize([], 0, 0, [], [])
    assert empty["citations_valid"] == 1.0 and math.isnan(empty["recall@1"])


# -- question files ----------------------------------------------------------------------------------------


def test_read_questions(tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(
        '{"question": "a?", "answers": [{"text": "x", "doc": "d", "start": 3}]}\n\n{"question": "b?"}\n',
        encoding="utf-8",
    )
    qs = read_questions(f)
    assert [q["is_impossible"] for q in qs] == [False, True] and qs[1]["answers"] == []
    assert golds(qs[0]) == [Gold("d", 3, 4, "x")]


@pytest.mark.parametrize("content", ["not json\n", '{"answers": []}\n', "[1, 2]\n", "", "\n\n"])
def test_bad_question_files(tmp_path: Path, content: str) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(content)
    with pytest.raises(QAError):
        read_questions(f)


def test_missing_question_file(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="not found"):
        read_questions(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("name", ["seeds-questions.jsonl", "seeds-followups.jsonl"])
def test_seed_question_sets_are_consistent(name: str) -> None:
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    for q in read_questions(DATA / name):
        for g in golds(q):
            assert (seeds / g.doc).read_bytes().decode("utf-8")[g.start : g.end] == g.text, q["id"]
        assert q["is_impossible"] == (not q["answers"])


# -- evaluate() on the fake-embedder index -----------------------------------------------------------------


def _q(qid: str, question: str, doc: str, text: str, source: str, **extra) -> dict:
    return {
        "id": qid,
        "question": question,
        "answers": [{"text": text, "doc": doc, "start": source.index(text)}],
        "is_impossible": False,
        **extra,
    }


QUESTIONS = [
    _q("h1", "How many nesting herons did the team count?", "alpha.txt", "412", ALPHA),
    _q("h2", "Who proposed moving the first ferry of the day?", "beta.md", "James Whitlock", BETA),
    _q(
        "h3",
        "What time did he want?",
        "beta.md",
        "six o'clock",
        BETA,
        history=["Who proposed moving the first ferry of the day?"],
    ),
    {"id": "n1", "question": "What is the population of the island?", "answers": [], "is_impossible": True},
]


def test_evaluate_on_a_small_set(index: qa.Index) -> None:
    summary, rows = evaluate(index, QUESTIONS)
    assert tuple(summary) == KEYS and summary["n"] == 4
    assert [r["id"] for r in rows] == ["h1", "h2", "h3", "n1"]
    assert summary["citations_valid"] == 1.0
    by_id = {r["id"]: r for r in rows}
    assert by_id["h1"]["rank"] == 1
    assert by_id["n1"]["rank"] is None and by_id["n1"]["answerable"] is False
    for r in rows:
        if r["no_answer"]:
            assert r["prediction"] is None and not r["contains"] and not r["sentence_contains"]
        assert r["contains"] <= r["sentence_contains"] <= r["guess_sentence_contains"]
    has = [r for r in rows if r["answerable"]]
    assert summary["recall@1"] == pytest.approx(sum(r["rank"] == 1 for r in has) / 3)
    assert summary["answer_contains@1"] == pytest.approx(sum(r["contains"] for r in has) / 3)
    assert summary["NoAns_exact"] == float(by_id["n1"]["no_answer"])
    assert summary["exact"] == pytest.approx(sum(r["exact"] for r in rows) / 4)


def test_a_withheld_answer_keeps_its_best_guess(index: qa.Index) -> None:
    # the same question, answered and withheld: the withheld answer names the place it would have cited
    answered = qa.answer(QUESTIONS[0]["question"], index=index, threshold=0.0)
    withheld = qa.answer(QUESTIONS[0]["question"], index=index, threshold=1.0)
    assert answered.withheld is None and withheld.no_answer and withheld.text is None and not withheld.citations
    assert withheld.withheld == answered.citations[0] and withheld.confidence == answered.confidence
    assert qa.Answer.from_dict(withheld.to_dict()).withheld == withheld.withheld  # kept in the JSON
    _, rows = evaluate(index, QUESTIONS[:1], qa.answering.Answerer(index, index.config.with_(no_answer_threshold=1.0)))
    assert rows[0]["no_answer"] and not rows[0]["sentence_contains"] and rows[0]["guess_sentence_contains"]


def test_evaluate_rows_agree_with_the_answers(index: qa.Index) -> None:
    answerer = qa.answering.Answerer(index, config=index.config.with_(no_answer_threshold=0.0))
    _, rows = evaluate(index, QUESTIONS[:2], answerer)
    for r, q in zip(rows, QUESTIONS[:2], strict=True):
        a = answerer.answer(q["question"], k=10)
        assert r["prediction"] == a.text and r["confidence"] == a.confidence
        assert r["contains"] == any(
            covers(a.citations[0].doc_id, a.citations[0].start, a.citations[0].end, g) for g in golds(q)
        )


def test_follow_up_retrieval_is_timed(index: qa.Index, monkeypatch: pytest.MonkeyPatch) -> None:
    """Retrieval time is measured for follow-ups as well, and an answer's time includes its retrieval (a fake
    clock: each retrieval takes one second, nothing else takes any time)."""
    import qa.answering

    clock = {"t": 0.0}
    real_rank = qa.answering.rank

    def slow_rank(*args, **kwargs):  # type: ignore[no-untyped-def]
        clock["t"] += 1.0
        return real_rank(*args, **kwargs)

    monkeypatch.setattr(qa.answering, "rank", slow_rank)
    monkeypatch.setattr(ev.time, "perf_counter", lambda: clock["t"])
    # the follow-up: its history question is answered first, then it is (two retrievals); then measured afresh
    summary, _ = evaluate(index, [QUESTIONS[2]])
    assert summary["retrieve_ms_p50"] == 1000.0
    assert summary["answer_ms_p50"] == 2000.0
    # a plain question: retrieved once, and the answer, which re-uses that ranking, is timed with it
    summary, _ = evaluate(index, [QUESTIONS[0]])
    assert summary["retrieve_ms_p50"] == 1000.0
    assert summary["answer_ms_p50"] == 1000.0


def test_rows_are_json_serialisable(index: qa.Index) -> None:
    summary, rows = evaluate(index, QUESTIONS)
    assert json.loads(json.dumps(rows)) == rows
    assert json.loads(json.dumps(summary)) == summary


def test_question_files_name_the_line_of_a_bad_offset_or_an_over_long_question(tmp_path: Path, caplog) -> None:
    f = tmp_path / "q.jsonl"
    gold = '"answers": [{"text": "x", "doc": "d", "start": %s}]'
    for start in ("true", "-5", '"3"'):
        f.write_text('{"question": "a?"}\n{"question": "b?", %s}\n' % (gold % start), encoding="utf-8")
        with pytest.raises(QAError, match=r"q\.jsonl:2: \"answers\""):
            read_questions(f)
    f.write_text('{"question": "a?"}\n{"question": "%s"}\n' % ("why " * 600), encoding="utf-8")
    assert len(read_questions(f)) == 2  # no limit given: the engine says it, per question
    with pytest.raises(QAError, match=r"q\.jsonl:2: the question is 2,399 characters long; the limit is 2,000"):
        read_questions(f, 2000)
    f.write_text('{"question": "b?", "history": ["%s"]}\n' % ("why " * 600), encoding="utf-8")
    with pytest.raises(QAError, match=r"q\.jsonl:1: history item 1: the question is 2,399 characters"):
        read_questions(f, 2000)
    f.write_text('{"id": 1, "question": "a?"}\n{"id": 1, "question": "b?", "is_impossible": true, %s}\n'
                 % (gold % 0), encoding="utf-8")
    with caplog.at_level("WARNING"):
        read_questions(f)
    assert "q.jsonl:2: id 1 repeats line 1" in caplog.text
    assert "q.jsonl:2: \"is_impossible\" is true but it lists answers; scored as answerable" in caplog.text


def test_gold_answers_that_do_not_match_the_documents_are_reported(index: qa.Index, tmp_path: Path,
                                                                     caplog) -> None:
    text = index.doc_by_id["alpha.txt"].text
    at = text.index("412")
    f = tmp_path / "q.jsonl"
    lines = [{"question": "How many nesting herons did the team count?", "answers": [a]} for a in (
        {"text": "412", "doc": "alpha.txt", "start": at},  # right
        {"text": "WRONG", "doc": "alpha.txt", "start": at},
        {"text": "412", "doc": "zzz.txt", "start": at},
        {"text": "412", "doc": "alpha.txt", "start": len(text) + 50},
    )]
    f.write_text("".join(json.dumps(q) + "\n" for q in lines), encoding="utf-8")
    problems = gold_problems(index, read_questions(f))
    assert [p.split(": ", 1)[0] for p in problems] == [f"{f}:2", f"{f}:3", f"{f}:4"]
    assert "'WRONG' is not the text of alpha.txt" in problems[0] and "not in the index" in problems[1]
    with caplog.at_level("WARNING"):
        evaluate(index, read_questions(f)[:2])
    assert "'WRONG' is not the text of alpha.txt" in caplog.text
