"""The ``qa`` command, run as a subprocess (``python -m qa``) with the fake model and a temporary index.

Every error is one line on stderr, with a non-zero exit code and no traceback.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import qa
from qa.evaluation import KEYS
from tests.conftest import ALPHA, BETA, HASHING, REPO, cli_env, deny_listing, run_qa, write_docs

HERONS = "How many nesting herons did the team count?"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The command failed cleanly: exit code != 0, one line on stderr saying why, no traceback."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0]
    return lines[0]


@pytest.fixture
def built(docs_dir: Path, index_dir: Path) -> tuple[Path, Path]:
    """``qa index`` of the small collection into a temporary index folder (a test may change both)."""
    ok(run_qa("index", str(docs_dir), "--index", str(index_dir), "--model", "hashing"))
    return docs_dir, index_dir


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Like ``built``, built once for the tests that change neither the documents nor the index."""
    root = tmp_path_factory.mktemp("cli-shared")
    docs, idx = write_docs(root / "docs"), root / "index"
    ok(run_qa("index", str(docs), "--index", str(idx), "--model", "hashing", cwd=root))
    return docs, idx


def common(built: tuple[Path, Path]) -> list[str]:
    docs, idx = built
    return ["--docs", str(docs), "--index", str(idx), "--model", "hashing"]


# -- index -------------------------------------------------------------------------------------------------


def test_index_json(docs_dir: Path, index_dir: Path) -> None:
    r = ok(run_qa("index", str(docs_dir), "--index", str(index_dir), "--model", "hashing", "--json"))
    info = json.loads(r.stdout)
    assert set(info) == {"index", "documents", "passages", "sentences", "model", "index_type"}
    assert info["documents"] == 4 and info["model"] == "hashing-256" and info["index_type"] == "Flat"
    assert info["index"] == str(index_dir) and (index_dir / "manifest.json").is_file()
    assert info["passages"] == len(qa.load_index(docs=None, index_dir=index_dir, config=HASHING))
    assert not (Path.cwd() / "embeddings").exists()
    assert r.stderr == ""


def test_index_waits_for_another_process_building_it(docs_dir: Path, index_dir: Path) -> None:
    """Two `qa index` of one folder at once: the second says it waits, and builds only once the first is done
    (its lock released), so neither sees or leaves a half-written index."""
    import time

    import filelock

    from qa.files import LOCK_NAME

    index_dir.mkdir()
    held = filelock.FileLock(index_dir / LOCK_NAME)
    held.acquire()  # as another process building it would
    try:
        proc = subprocess.Popen([sys.executable, "-m", "qa", "index", str(docs_dir), "--index", str(index_dir),
                                 "--model", "hashing"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=cli_env())
        waited, deadline = "", time.monotonic() + 120
        assert proc.stderr is not None
        while "waiting" not in waited and time.monotonic() < deadline and proc.poll() is None:
            waited += proc.stderr.readline()
        assert "another process is building or updating the index; waiting for it to finish" in waited, waited
        time.sleep(1)
        assert proc.poll() is None and not (index_dir / "manifest.json").exists()  # still waiting, nothing written
    finally:
        held.release()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and out.startswith("indexed 4 documents"), err
    assert "Traceback" not in err and len(qa.load_index(docs=None, index_dir=index_dir, config=HASHING)) > 0


def test_a_failed_first_build_leaves_no_index_folder(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(run_qa("index", str(empty), "--index", str(tmp_path / "idx"), "--model", "hashing"), "empty")
    assert not (tmp_path / "idx").exists()


def test_index_text_and_default_location(docs_dir: Path) -> None:
    r = ok(run_qa("index", "--docs", str(docs_dir), "--model", "hashing"))
    assert r.stdout.startswith("indexed 4 documents")
    assert (Path.cwd() / "embeddings" / "docs" / "manifest.json").is_file()


# -- retrieve ----------------------------------------------------------------------------------------------


def test_retrieve_json(shared: tuple[Path, Path]) -> None:
    r = ok(run_qa("retrieve", HERONS, "-k", "3", "--json", *common(shared)))
    hits = json.loads(r.stdout)
    assert len(hits) == 3 and [h["rank"] for h in hits] == [1, 2, 3]
    assert set(hits[0]) == {
        "rank",
        "doc_id",
        "start",
        "end",
        "text",
        "score",
        "dense_score",
        "bm25_score",
        "sentence_score",
        "title",
    }
    assert hits[0]["doc_id"] == "alpha.txt"
    assert ALPHA[hits[0]["start"] : hits[0]["end"]] == hits[0]["text"]
    index = qa.load_index(docs=None, index_dir=shared[1], config=HASHING)
    assert hits == [h.to_dict() for h in qa.retrieve(HERONS, k=3, index=index)]


def test_retrieve_text_and_only(shared: tuple[Path, Path]) -> None:
    r = ok(run_qa("retrieve", HERONS, "--only", "beta.md", *common(shared)))
    assert r.stdout.startswith("1. beta.md:")
    assert "alpha.txt" not in r.stdout
    one_line_error(run_qa("retrieve", HERONS, "--only", "ghost.txt", *common(shared)), "ghost.txt")


def test_cli_retrieve_with_rerank_shows_the_reader_score(shared: tuple[Path, Path]) -> None:
    args = common(shared)  # the reader that re-ranks is the bundled one
    r = run_qa("retrieve", "When did the glassworks open?", "-k", "3", "--rerank", "5", "--json", *args,
               env={"QA_RERANK_MARGIN": "1"})  # every question, however sure retrieval is
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    hits = json.loads(r.stdout)
    assert len(hits) == 3 and all("reader_score" in h and "rerank_score" in h for h in hits)
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert [h["rerank_score"] for h in hits] == sorted((h["rerank_score"] for h in hits), reverse=True)
    text = run_qa("retrieve", "When did the glassworks open?", "-k", "3", "--rerank", "5", *args,
                  env={"QA_RERANK_MARGIN": "1"}).stdout  # the order's score leads each line
    assert text.count(" re-ranked ") == 3 and "(retrieval " in text and "reader " in text, text
    plain = json.loads(run_qa("retrieve", "When did the glassworks open?", "-k", "3", "--rerank", "0", "--json",
                              *args).stdout)
    assert all("reader_score" not in h for h in plain)


# -- ask and verify ----------------------------------------------------------------------------------------


def test_ask_json_is_exactly_to_dict(shared: tuple[Path, Path]) -> None:
    r = ok(run_qa("ask", HERONS, "--json", *common(shared)))
    printed = json.loads(r.stdout)
    index = qa.load_index(docs=None, index_dir=shared[1], config=HASHING)
    expected = qa.answer(HERONS, index=index).to_dict()
    assert printed == json.loads(json.dumps(expected))
    assert qa.Answer.from_dict(printed).to_dict() == printed


def test_ask_text(shared: tuple[Path, Path]) -> None:
    r = ok(run_qa("ask", HERONS, "--threshold", "0", *common(shared)))
    lines = r.stdout.splitlines()
    assert "412" in lines[0]
    assert "[1] alpha.txt, characters" in r.stdout and "confidence" in r.stdout
    # the reader's span is shown in its sentence, marked with brackets
    context = next(line for line in lines if line.strip().startswith("in: "))
    assert f"[{lines[0]}]" in context and len(context.strip()) > len(lines[0]) + 6
    # the brackets add no space the document does not have ("went to [Kazakhstan]." where it says "Kazakhstan.")
    doc = " ".join((shared[0] / "alpha.txt").read_text(encoding="utf-8").split())
    assert context.strip().removeprefix("in: ").replace("[", "").replace("]", "").strip("…") in doc, context
    r = ok(run_qa("ask", HERONS, "--threshold", "0", "--reader", "sentence", *common(shared)))
    assert "412" in r.stdout.splitlines()[0] and "in: " not in r.stdout  # a whole sentence needs no context
    r = ok(run_qa("ask", HERONS, "--threshold", "1", *common(shared)))
    assert r.stdout.startswith("The documents do not say")
    for k in (1, 2):  # the nearest passages listed: -k of them
        r = ok(run_qa("ask", HERONS, "--threshold", "1", "-k", str(k), *common(shared)))
        assert sum(line.startswith("  - ") for line in r.stdout.splitlines()) == k


@pytest.mark.parametrize("option", ["--reader", "--model"])
def test_a_hub_name_with_no_hub_to_reach_is_one_line_at_once(shared: tuple[Path, Path], option: str) -> None:
    """Online mode, but the hub cannot be reached (here: an endpoint nobody listens on) and the name is not in
    the cache: one line that says both, without the libraries' minute of retries and their messages."""
    env = {k: v for k, v in cli_env().items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    docs, idx = shared
    args = ["ask", HERONS, "--docs", str(docs), "--index", str(idx)]
    args += ["--reader", "some-org/no-such-reader", "--model", "hashing"] if option == "--reader" else [
        "--model", "some-org/no-such-model"]
    r = subprocess.run([sys.executable, "-m", "qa", *args], env=env, capture_output=True, text=True, timeout=300)
    line = one_line_error(r, "some-org/no-such-", "not in the local cache", "(127.0.0.1:9) cannot be reached")
    assert "Retrying" not in r.stderr and "calibration" not in line


def test_a_reader_folder_that_is_not_there_is_one_line(shared: tuple[Path, Path], tmp_path: Path) -> None:
    r = run_qa("ask", HERONS, "--reader", str(tmp_path / "no-such-reader"), *common(shared))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [f"error: reader folder not found: {tmp_path / 'no-such-reader'} "
                                             "(QA_READER / --reader: 'bundled', 'sentence', a local model folder "
                                             "or a hub name)"]


@pytest.mark.parametrize("flag", ["--reader", "--model"])
def test_a_hub_name_that_cannot_be_fetched_is_one_line(shared: tuple[Path, Path], flag: str) -> None:
    # offline (HF_HUB_OFFLINE=1), a name that is not a folder is looked for in the hub and fails: the library's
    # message of several lines is printed as one, after any warnings
    args = [*common(shared), flag, "no-such-model-anywhere"]
    if flag == "--model":
        args.remove("hashing")
        args.remove("--model")
    r = run_qa("ask", HERONS, *args)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and "no-such-model-anywhere" in lines[-1], r.stderr
    assert all(line.startswith("warning: ") for line in lines[:-1]), r.stderr


def test_output_into_a_closed_pipe_is_quiet(shared: tuple[Path, Path]) -> None:
    """`qa ask ... | head -1`: once the reader of the output has gone, no error and no traceback."""
    from tests.conftest import cli_env

    proc = subprocess.Popen([sys.executable, "-m", "qa", "ask", HERONS, "--top-n", "3", *common(shared)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env())
    proc.stdout.close()  # like `head` exiting before the answer is printed
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0 and err.decode() == "", err.decode()


def test_ask_follow_up_with_history(shared: tuple[Path, Path]) -> None:
    r = ok(
        run_qa(
            "ask",
            "What time did he want?",
            "--history",
            "Who proposed moving the first ferry of the day?",
            "--threshold",
            "0",
            "--json",
            *common(shared),
        )
    )
    a = json.loads(r.stdout)
    assert a["query"] == "What time did James Whitlock want?"  # "he", named from the previous answer
    assert a["citations"][0]["doc_id"] == "beta.md" and "six o'clock" in a["text"]


def test_terminal_escapes_in_documents_and_file_names_are_shown_not_obeyed(tmp_path: Path) -> None:
    """A document can hold escape sequences (clear the screen, recolour) and a file name a newline that would
    print a forged citation line: the terminal output shows both as code points; --json keeps the exact text."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Report\n\nThe treasurer \x1b[2J\x1b[31mMallory Quince\x1b[0m approved the budget "
                                "of 400 pounds in 2021.\n", encoding="utf-8")
    (docs / "b\n  [2] forged.txt, characters 0-5.txt").write_text(
        "Ferry\n\nThe ferry leaves the harbour pier at six o'clock every morning.\n", encoding="utf-8")
    args = ["--docs", str(docs), "--index", str(tmp_path / "idx"), "--model", "hashing"]
    for cmd in (["ask", "Who approved the budget of 400 pounds?", "--threshold", "0", "--top-n", "3"],
                ["retrieve", "When does the ferry leave the harbour pier?"]):
        r = ok(run_qa(*cmd, *args))
        assert "\x1b" not in r.stdout and "‹U+001B›[2J" in r.stdout, r.stdout
        assert not any(line.lstrip().startswith("[2] forged") for line in r.stdout.splitlines()), r.stdout
        assert "b‹U+000A›  [2] forged.txt" in r.stdout, r.stdout
    r = ok(run_qa("ask", "Who approved the budget of 400 pounds?", "--threshold", "0", "--json", *args))
    a = json.loads(r.stdout)
    assert any("The treasurer \x1b[2J\x1b[31mMallory Quince" in h["text"] for h in a["passages"])  # exact characters


def test_ask_html_is_quoted_as_text(shared: tuple[Path, Path]) -> None:
    r = ok(
        run_qa("ask", "When did the Marlow glassworks open?", "--threshold", "0", "--json", *common(shared))
    )
    a = json.loads(r.stdout)
    assert a["citations"][0]["doc_id"] == "page.html" and "1851" in a["text"] and "<" not in a["text"]


def test_verify_saved_answer_then_tampered(shared: tuple[Path, Path], tmp_path: Path) -> None:
    r = ok(run_qa("ask", HERONS, "--threshold", "0", "--json", *common(shared)))
    answer_file = tmp_path / "answer.json"
    answer_file.write_text(r.stdout, encoding="utf-8")
    v = ok(run_qa("verify", str(answer_file), *common(shared)))
    assert v.stdout.strip() == "ok: 1 citation(s) verified"
    # without --docs (and no seeds/ here) the saved index is used as is
    v = ok(run_qa("verify", str(answer_file), "--index", str(shared[1]), "--model", "hashing", "--json"))
    assert json.loads(v.stdout) == {"citations": 1, "withheld_guess": False, "problems": [], "ok": True}

    data = json.loads(r.stdout)
    data["citations"][0]["quote"] = data["citations"][0]["quote"].replace("412", "999")
    answer_file.write_text(json.dumps(data), encoding="utf-8")
    v = run_qa("verify", str(answer_file), *common(shared))
    assert v.returncode == 1 and "Traceback" not in v.stderr
    assert "citation 1" in v.stdout and "does not equal alpha.txt" in v.stdout

    data = json.loads(r.stdout)
    data["citations"][0]["start"] += 3
    answer_file.write_text(json.dumps(data), encoding="utf-8")
    v = run_qa("verify", str(answer_file), "--json", *common(shared))
    assert v.returncode == 1
    out = json.loads(v.stdout)
    assert out["ok"] is False and out["problems"]

    data = json.loads(r.stdout)  # a real citation under text it does not quote
    data["text"] = "Vladimir Putin"
    answer_file.write_text(json.dumps(data), encoding="utf-8")
    v = run_qa("verify", str(answer_file), *common(shared))
    assert v.returncode == 1 and "the answer's text is not the quote of its first citation" in v.stdout
    data["citations"] = []  # text with nothing to check it by
    answer_file.write_text(json.dumps(data), encoding="utf-8")
    v = run_qa("verify", str(answer_file), *common(shared))
    assert v.returncode == 1 and "the answer has text but no citation" in v.stdout


def test_verify_after_the_document_changed(built: tuple[Path, Path], tmp_path: Path) -> None:
    docs, idx = built
    r = ok(run_qa("ask", HERONS, "--threshold", "0", "--json", *common(built)))
    answer_file = tmp_path / "answer.json"
    answer_file.write_text(r.stdout, encoding="utf-8")
    (docs / "alpha.txt").write_text("New first line.\n" + ALPHA, encoding="utf-8")
    v = run_qa("verify", str(answer_file), "--index", str(idx), "--model", "hashing")  # saved index as is
    assert v.returncode == 1 and "alpha.txt changed since it was indexed" in v.stdout
    v = run_qa("verify", str(answer_file), *common(built))  # with the folder too: against the index as saved
    assert v.returncode == 1 and "alpha.txt changed since it was indexed" in v.stdout
    a = json.loads(ok(run_qa("ask", HERONS, "--threshold", "0", "--json", *common(built))).stdout)
    assert a["citations"][0]["start"] == json.loads(r.stdout)["citations"][0]["start"] + len(
        "New first line.\n"
    )


@pytest.mark.parametrize("content", ["not json at all", '{"citations": [{"doc_id": "a"}]}', "[]", "{}",
                                     '{"citations": []}'])
def test_verify_bad_answer_file(shared: tuple[Path, Path], tmp_path: Path, content: str) -> None:
    f = tmp_path / "answer.json"
    f.write_text(content)
    one_line_error(run_qa("verify", str(f), *common(shared)), "answer.json")


def test_verify_answer_file_with_a_field_of_the_wrong_type(shared: tuple[Path, Path], tmp_path: Path) -> None:
    saved = json.loads(ok(run_qa("ask", HERONS, "--threshold", "0", "--json", *common(shared))).stdout)
    saved["citations"][0]["start"] = "x"
    f = tmp_path / "answer.json"
    f.write_text(json.dumps(saved))
    one_line_error(run_qa("verify", str(f), *common(shared)), "answer.json", "'start' must be a whole number")


def test_verify_counts_a_withheld_guess(shared: tuple[Path, Path], tmp_path: Path) -> None:
    f = tmp_path / "answer.json"
    f.write_text(ok(run_qa("ask", HERONS, "--json", "--threshold", "1", *common(shared))).stdout)
    assert ok(run_qa("verify", str(f), *common(shared))).stdout.strip() == (
        "ok: 0 citation(s) and the withheld guess verified")


@pytest.mark.parametrize("n", ["0", "-2"])
def test_ask_top_n_below_one_is_one_line(shared: tuple[Path, Path], n: str) -> None:
    one_line_error(run_qa("ask", HERONS, "--top-n", n, *common(shared)),
                   "argument --top-n: must be a whole number of at least 1")  # the option's name, not the API's


def test_verify_missing_answer_file(shared: tuple[Path, Path], tmp_path: Path) -> None:
    one_line_error(run_qa("verify", str(tmp_path / "nope.json"), *common(shared)), "not found")


# -- eval --------------------------------------------------------------------------------------------------


def test_eval_json_keys(shared: tuple[Path, Path], tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    rows_file = tmp_path / "rows.jsonl"
    items = [
        {
            "id": "a",
            "question": HERONS,
            "answers": [{"text": "412", "doc": "alpha.txt", "start": ALPHA.index("412")}],
        },
        {
            "id": "b",
            "question": "Who proposed moving the first ferry?",
            "answers": [{"text": "James Whitlock", "doc": "beta.md", "start": BETA.index("James Whitlock")}],
        },
        {
            "id": "c",
            "question": "What is the population of the island?",
            "answers": [],
            "is_impossible": True,
        },
    ]
    questions.write_text("".join(json.dumps(q) + "\n" for q in items), encoding="utf-8")
    r = ok(run_qa("eval", "--questions", str(questions), "--json", "--out", str(rows_file), *common(shared)))
    summary = json.loads(r.stdout)
    assert list(summary) == list(KEYS)
    assert list(summary) == [
        "n",
        "HasAns_total",
        "NoAns_total",
        "recall@1",
        "recall@5",
        "recall@10",
        "mrr",
        "answer_contains@1",
        "sentence_contains@1",
        "guess_sentence_contains@1",
        "HasAns_exact",
        "HasAns_f1",
        "NoAns_exact",
        "exact",
        "f1",
        "citations_valid",
        "retrieve_ms_p50",
        "answer_ms_p50",
    ]
    assert summary["n"] == 3 and summary["citations_valid"] == 1.0 and summary["recall@1"] > 0
    assert (summary["HasAns_total"], summary["NoAns_total"]) == (2, 1)
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["a", "b", "c"]
    # --threshold: at 1 every answer is withheld, at 0 none; out of range is a one-line error
    for threshold, withheld in (("1", True), ("0", False)):
        r = ok(run_qa("eval", "--questions", str(questions), "--threshold", threshold, "--json", *common(shared)))
        assert json.loads(r.stdout)["NoAns_exact"] == (1.0 if withheld else 0.0)
    one_line_error(run_qa("eval", "--questions", str(questions), "--threshold", "1.5", *common(shared)),
                   "argument --threshold: must be a confidence from 0 to 1")
    r = ok(run_qa("eval", "--questions", str(questions), "--limit", "1", *common(shared)))
    assert r.stdout.startswith("measure") and "recall@1" in r.stdout and "1.000" in r.stdout


def test_eval_bad_question_file(shared: tuple[Path, Path], tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text("{not json\n")
    one_line_error(run_qa("eval", "--questions", str(f), *common(shared)), "q.jsonl:1", "not JSON")
    one_line_error(run_qa("eval", "--questions", str(tmp_path / "nope.jsonl"), *common(shared)), "not found")
    for line, says in (('{"foo": 1}', "not a question object"), ('["a question?"]', "not a question object"),
                       ('{"question": "Q?", "answers": [{"text": "x"}]}', '"answers" must be a list')):
        f.write_text(line + "\n")
        one_line_error(run_qa("eval", "--questions", str(f), *common(shared)), "q.jsonl:1", says)


# -- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\t\n", "\u200b\u200b", "\ufeff \u200e"])
@pytest.mark.parametrize("command", ["ask", "retrieve"])
def test_empty_question(shared: tuple[Path, Path], command: str, question: str) -> None:
    r = run_qa(command, question, *common(shared))
    one_line_error(r, "question is empty")
    assert r.stdout == ""


def test_a_bad_question_is_refused_before_any_index_is_built(tmp_path: Path) -> None:
    docs, idx = write_docs(tmp_path / "docs"), tmp_path / "index"
    r = run_qa("ask", "  ", "--docs", str(docs), "--index", str(idx), "--model", "hashing")
    one_line_error(r, "question is empty")
    assert not idx.exists()


def test_question_of_20000_characters(shared: tuple[Path, Path]) -> None:
    r = run_qa("ask", "x" * 20_000, *common(shared))
    one_line_error(r, "20,000 characters", "limit")
    assert r.stdout == ""


def test_missing_folder(tmp_path: Path, index_dir: Path) -> None:
    one_line_error(
        run_qa("index", str(tmp_path / "nowhere"), "--index", str(index_dir), "--model", "hashing"),
        "not found",
    )
    one_line_error(
        run_qa(
            "ask",
            "herons?",
            "--docs",
            str(tmp_path / "nowhere"),
            "--index",
            str(index_dir),
            "--model",
            "hashing",
        ),
        "not found",
    )


def test_empty_folder(tmp_path: Path, index_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    one_line_error(
        run_qa("index", str(tmp_path / "empty"), "--index", str(index_dir), "--model", "hashing"),
        "no documents", ".pdf", ".docx",
    )


def test_default_docs_missing(index_dir: Path) -> None:
    # no seeds/ in the working directory and no index saved: a clear error, not a crash
    one_line_error(run_qa("ask", "herons?", "--model", "hashing"), "seeds")
    one_line_error(run_qa("ask", "herons?", "--index", str(index_dir), "--model", "hashing"))


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root from reading (see the simulated test)",
)
def test_unreadable_folder_chmod(tmp_path: Path, index_dir: Path) -> None:
    folder = write_docs(tmp_path / "locked", {"a.txt": "Some text that cannot be read at all."})
    folder.chmod(0)
    try:
        one_line_error(
            run_qa("index", str(folder), "--index", str(index_dir), "--model", "hashing"), "permission denied"
        )
    finally:
        folder.chmod(0o755)


def test_unreadable_folder_simulated(
    tmp_path: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys, cli_main
) -> None:
    folder = write_docs(tmp_path / "locked", {"a.txt": "Some text that cannot be read at all."})
    deny_listing(monkeypatch, folder)
    code = cli_main(["index", str(folder), "--index", str(index_dir), "--model", "hashing"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [f"error: cannot read documents folder {folder}: permission denied"]


def test_undecodable_and_empty_files_warn(tmp_path: Path, index_dir: Path) -> None:
    folder = write_docs(
        tmp_path / "docs",
        {
            "latin1.txt": "Caf\xe9 Rossi on Mill Street was opened by Anna Rossi in 1999.\n".encode(
                "latin-1"
            ),
            "empty.txt": "",
            "ok.txt": "A perfectly ordinary document about the ferry timetable.\n",
        },
    )
    r = ok(run_qa("index", str(folder), "--index", str(index_dir), "--model", "hashing", "--json"))
    assert json.loads(r.stdout)["documents"] == 2
    warnings = r.stderr.strip().splitlines()
    assert "warning: latin1.txt: not UTF-8 (byte 3); read as Windows-1252 (Western European)" in warnings
    assert any(w.startswith("warning: empty.txt: empty") for w in warnings)
    a = json.loads(
        ok(
            run_qa(
                "ask",
                "Who opened Caf\xe9 Rossi on Mill Street?",
                "--threshold",
                "0",
                "--reader",
                "sentence",
                "--json",
                "--docs",
                str(folder),
                "--index",
                str(index_dir),
                "--model",
                "hashing",
            )
        ).stdout
    )
    assert a["citations"][0]["doc_id"] == "latin1.txt" and "Caf\xe9 Rossi" in a["text"]
    f = tmp_path / "a.json"
    f.write_text(json.dumps(a), encoding="utf-8")
    ok(run_qa("verify", str(f), "--docs", str(folder), "--index", str(index_dir), "--model", "hashing"))


def _corrupt(idx: Path) -> None:
    f = idx / "passage_vectors.npy"
    data = bytearray(f.read_bytes())
    data[-8:] = b"\xff" * 8
    f.write_bytes(bytes(data))


def test_an_index_whose_manifest_is_unreadable_is_never_rebuilt_from_the_default_documents(
        built: tuple[Path, Path]) -> None:
    _, idx = built
    (idx / "manifest.json").write_text("{broken")
    for cmd in (["ask", HERONS], ["retrieve", HERONS]):  # run where seeds/ is, the default documents
        r = run_qa(*cmd, "--index", str(idx), "--model", "hashing", cwd=REPO)
        one_line_error(r, "manifest.json: unreadable", "give the documents folder (--docs) to rebuild")
    assert (idx / "manifest.json").read_text() == "{broken"  # left as it was, not an index of seeds/


def test_corrupted_index_is_rebuilt_with_warning(built: tuple[Path, Path], tmp_path: Path) -> None:
    docs, idx = built
    _corrupt(idx)
    r = ok(run_qa("ask", HERONS, "--threshold", "0", *common(built)))
    assert "warning: saved index not used, rebuilding" in r.stderr and "412" in r.stdout
    r = ok(run_qa("ask", HERONS, "--threshold", "0", *common(built)))
    assert r.stderr == ""  # rebuilt and saved: sound now
    _corrupt(idx)  # --index alone: rebuilt from the folder the manifest names
    r = ok(run_qa("ask", HERONS, "--threshold", "0", "--index", str(idx), "--model", "hashing"))
    assert "rebuilding" in r.stderr and "412" in r.stdout
    _corrupt(idx)
    docs.rename(tmp_path / "moved")  # without the documents there is nothing to rebuild from: a clear error
    one_line_error(run_qa("ask", HERONS, "--index", str(idx), "--model", "hashing"), "corrupted")


def test_model_mismatch_rebuilds(built: tuple[Path, Path]) -> None:
    docs, idx = built
    r = ok(run_qa("index", str(docs), "--index", str(idx), "--model", "hashing-64", "--json"))
    assert json.loads(r.stdout)["model"] == "hashing-64"
    assert "rebuilding" in r.stderr and "hashing-256" in r.stderr


def test_usage_errors_do_not_trace() -> None:
    r = run_qa()
    assert r.returncode == 2 and "usage: qa" in r.stderr and "Traceback" not in r.stderr
    one_line_error(run_qa("ask", "q", "-k", "many"), "argument -k", "must be a whole number", "see: qa ask --help")
    one_line_error(run_qa("retrieve", "q", "-k", "0"), "argument -k: must be a whole number of at least 1")
    one_line_error(run_qa("ask", "q", "--rerank", "-1"), "argument --rerank: must be a whole number of at least 0")
    assert run_qa("ask", "q", "-k", "many").returncode == 2
    one_line_error(run_qa("index", "seeds", "--docs", "other"), "two documents folders, seeds and --docs other")
    # an option the command does not have points at the command's own help, where its options are
    one_line_error(run_qa("ask", "q", "--jsn"), "unrecognized arguments: --jsn", "see: qa ask --help")


@pytest.mark.parametrize("command", ["ask", "retrieve"])
def test_an_unquoted_question_is_its_words_joined(shared: tuple[Path, Path], command: str) -> None:
    quoted = ok(run_qa(command, "When does the ferry leave?", "--json", *common(shared)))
    unquoted = ok(run_qa(command, "When", "does", "the", "ferry", "leave?", "--json", *common(shared)))
    a, b = json.loads(quoted.stdout), json.loads(unquoted.stdout)
    if command == "ask":
        assert b["question"] == "When does the ferry leave?" and b["citations"] == a["citations"]
    else:
        assert b == a


@pytest.mark.skipif(shutil.which("qa") is None, reason="the qa script is not installed")
def test_installed_script(shared: tuple[Path, Path]) -> None:
    r = subprocess.run(
        ["qa", "retrieve", HERONS, "-k", "1", "--json", *common(shared)],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=Path.cwd(),
        timeout=120,
    )
    assert r.returncode == 0 and json.loads(r.stdout)[0]["doc_id"] == "alpha.txt"


def test_eval_json_is_strict_when_a_metric_has_nothing_to_measure(shared: tuple[Path, Path], tmp_path: Path) -> None:
    questions = tmp_path / "q.jsonl"
    gold = {"text": "412", "doc": "alpha.txt", "start": ALPHA.index("412")}
    item = {"id": "a", "question": HERONS, "answers": [gold]}
    questions.write_text(json.dumps(item) + "\n", encoding="utf-8")
    r = ok(run_qa("eval", "--questions", str(questions), "--json", *common(shared)))
    assert "NaN" not in r.stdout
    summary = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert summary["NoAns_exact"] is None and summary["n"] == 1


def test_index_alone_keeps_to_the_folder_it_was_built_from(built: tuple[Path, Path], tmp_path: Path) -> None:
    """`--index DIR` without `--docs` answers from that index's own folder (brought up to date), even where a
    default `seeds/` folder exists: it is never rebuilt over with other documents."""
    docs, idx = built
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "other.txt").write_text("An unrelated document about orbital mechanics.\n" * 3)
    r = ok(run_qa("ask", HERONS, "--index", str(idx), "--model", "hashing", "--threshold", "0", "--json",
                  cwd=tmp_path))
    assert json.loads(r.stdout)["citations"][0]["doc_id"] == "alpha.txt"
    assert json.loads((idx / "manifest.json").read_text())["docs_folder"] == str(docs.resolve())
    (docs / "sub" / "gamma.txt").unlink()  # brought up to date with its own folder
    ok(run_qa("ask", HERONS, "--index", str(idx), "--model", "hashing", cwd=tmp_path))
    manifest = json.loads((idx / "manifest.json").read_text())
    assert "sub/gamma.txt" not in [d["doc_id"] for d in manifest["documents"]]
    assert "other.txt" not in [d["doc_id"] for d in manifest["documents"]]


@pytest.mark.parametrize(("name", "value", "says"), [
    ("QA_RERANK", "abc", "QA_RERANK must be a whole number, not 'abc'"),
    ("QA_W_RERANK", "lots", "QA_W_RERANK must be a number, not 'lots'"),
    ("QA_W_ANSWER", "1,x", "QA_W_ANSWER must be numbers separated by commas, not '1,x'"),
    ("QA_W_ANSWER", "1,2", "w_answer (QA_W_ANSWER) must be three numbers separated by commas (cosine, coverage, "
                           "passage), not (1.0, 2.0)"),
    ("QA_NO_ANSWER", "abc", "QA_NO_ANSWER must be a number, not 'abc'"),
    ("QA_NO_ANSWER", "5", "the no-answer threshold (QA_NO_ANSWER) must be a confidence from 0 to 1, not 5.0"),
    ("QA_NO_ANSWER_THRESHOLD", "nan", "the no-answer threshold (QA_NO_ANSWER) must be a confidence from 0 to 1, "
                                      "not nan"),
    ("QA_READ_PASSAGES", "0", "read_passages (QA_READ_PASSAGES) must be a whole number of at least 1, not 0"),
    ("QA_MAX_TOKENS", "-1", "max_tokens (QA_MAX_TOKENS) must be a whole number of at least 16, not -1"),
    ("QA_RERANK_MARGIN", "nan", "rerank_margin (QA_RERANK_MARGIN) must be a number of at least 0, not nan"),
    ("QA_TITLE_IN_PASSAGE", "maybe", "QA_TITLE_IN_PASSAGE must be 1/true/yes/on or 0/false/no/off, not 'maybe'"),
    ("QA_DEVICE", "bogus", "device (QA_DEVICE) must be empty (a GPU if there is one), cpu, cuda, cuda:N or mps, "
                           "not 'bogus'"),
])
def test_a_setting_that_does_not_parse_is_one_line(
    shared: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys, cli_main, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    code = cli_main(["retrieve", HERONS, *common(shared)])
    assert code != 0
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {says}"]


def test_bad_values_of_ask_are_one_line_errors(shared: tuple[Path, Path], tmp_path: Path) -> None:
    for t in ("-1", "2", "inf"):
        one_line_error(run_qa("ask", HERONS, "--threshold", t, *common(shared)),
                       "argument --threshold: must be a confidence from 0 to 1")
    r = ok(run_qa("ask", "How many nesting herons did the \udcff team count?", "--threshold", "0",
                  *common(shared)))  # an undecodable byte in the argument
    assert "412" in r.stdout
    empty = tmp_path / "empty-model"
    empty.mkdir()
    one_line_error(run_qa("ask", HERONS, "--docs", str(shared[0]), "--index", str(tmp_path / "i"), "--model",
                          str(empty)), "cannot load the embedding model")
    one_line_error(run_qa("ask", HERONS, "--reader", str(empty), *common(shared)), "cannot load the reader")


def test_eval_refuses_a_history_or_is_impossible_of_the_wrong_type(shared: tuple[Path, Path], tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    f.write_text(json.dumps({"question": HERONS, "history": 5}) + "\n")
    one_line_error(run_qa("eval", "--questions", str(f), *common(shared)), "q.jsonl:1", "\"history\" must be a list")
    f.write_text(json.dumps({"question": HERONS, "is_impossible": "yes"}) + "\n")
    one_line_error(run_qa("eval", "--questions", str(f), *common(shared)), "q.jsonl:1",
                   "\"is_impossible\" must be true or false")


def test_paths_of_the_wrong_kind_and_bad_limits_are_one_line_errors(shared: tuple[Path, Path], tmp_path: Path) -> None:
    f = tmp_path / "a-file"
    f.write_text("x")
    one_line_error(run_qa("ask", HERONS, "--docs", str(shared[0]), "--index", str(f), "--model", "hashing"),
                   "is a file, not an index folder")
    one_line_error(run_qa("verify", str(tmp_path), *common(shared)), "cannot read the answer file")
    q = tmp_path / "q.jsonl"
    q.write_text(json.dumps({"question": HERONS}) + "\n" + json.dumps({"question": "  "}) + "\n")
    for limit in ("0", "-1"):
        one_line_error(run_qa("eval", "--questions", str(q), "--limit", limit, *common(shared)),
                       "--limit", "at least 1")
    one_line_error(run_qa("eval", "--questions", str(q), *common(shared)), "q.jsonl:2: the question is empty")


def test_a_missing_model_folder_is_said_before_any_word_about_the_saved_index(built: tuple[Path, Path],
                                                                              tmp_path: Path) -> None:
    docs, idx = built
    r = run_qa("ask", HERONS, "--docs", str(docs), "--index", str(idx), "--model", str(tmp_path / "no-such-model"))
    one_line_error(r, "embedding model folder not found")  # not "saved index not used, rebuilding" first
    assert (idx / "manifest.json").is_file()


def test_the_sentence_around_a_span_is_quoted_with_the_document_s_own_spacing() -> None:
    from types import SimpleNamespace as NS

    from qa.cli import _in_sentence

    text = "An estimated half went to Kazakhstan. Others left for Georgia, Finland and Mongolia."
    passage = NS(doc_id="a.txt", start=100, end=100 + len(text), text=text)
    answer = NS(passages=[passage])

    def cite(span: str, sentence: str) -> NS:
        s, ss = 100 + text.index(span), 100 + text.index(sentence)
        return NS(doc_id="a.txt", start=s, end=s + len(span), sentence_start=ss, sentence_end=ss + len(sentence))

    first, second = "An estimated half went to Kazakhstan.", "Others left for Georgia, Finland and Mongolia."
    assert _in_sentence(answer, cite("Kazakhstan", first)) == "An estimated half went to [Kazakhstan]."
    assert _in_sentence(answer, cite("Georgia", second)) == "Others left for [Georgia], Finland and Mongolia."
    assert _in_sentence(answer, cite("Others", second)) == "[Others] left for Georgia, Finland and Mongolia."


def test_eval_out_never_replaces_the_question_file_and_says_why_before_the_run(shared: tuple[Path, Path],
                                                                                tmp_path: Path) -> None:
    f = tmp_path / "q.jsonl"
    gold = {"text": "412", "doc": "alpha.txt", "start": ALPHA.index("412")}
    f.write_text(json.dumps({"id": "a", "question": HERONS, "answers": [gold]}) + "\n", encoding="utf-8")
    before = f.read_bytes()
    one_line_error(run_qa("eval", "--questions", str(f), "--out", str(f), *common(shared)), "is the question file")
    one_line_error(run_qa("eval", "--questions", str(f), "--out", str(tmp_path), *common(shared)), "is a folder")
    one_line_error(run_qa("eval", "--questions", str(f), "--out", str(tmp_path / "no" / "rows.jsonl"),
                          *common(shared)), "does not exist")
    assert f.read_bytes() == before
    ok(run_qa("eval", "--questions", str(f), "--out", str(tmp_path / "rows.jsonl"), *common(shared)))
    assert json.loads((tmp_path / "rows.jsonl").read_text(encoding="utf-8"))["id"] == "a"


def test_an_index_that_cannot_be_saved_still_answers_and_one_whose_folder_is_gone_says_so(
        built: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, cli_main) -> None:
    docs, idx = built
    (docs / "delta.txt").write_text("The delta survey counted 77 kingfishers along the canal.\n", encoding="utf-8")

    def read_only(self, path=None):  # type: ignore[no-untyped-def]  # what a read-only index folder does
        raise OSError(errno.EROFS, "Read-only file system")

    with monkeypatch.context() as m:  # (chmod would not stop root, as the tests run in CI)
        m.setattr(qa.index.Index, "save", read_only)
        code = cli_main(["ask", "How many kingfishers did the delta survey count?", "--threshold", "0",
                         *common(built)])
    out = capsys.readouterr()
    assert code == 0 and "77" in out.out.splitlines()[0], out
    assert [line for line in out.err.splitlines() if "cannot save" in line] == [
        f"warning: cannot save the updated index in {idx} (Read-only file system); using it from memory, and it "
        "will be brought up to date again next time"], out.err
    moved = tmp_path / "moved"
    docs.rename(moved)
    r = ok(run_qa("ask", HERONS, "--index", str(idx), "--model", "hashing", "--threshold", "0", cwd=tmp_path))
    assert "412" in r.stdout and "is not there; using the index as saved" in r.stderr


def test_an_index_of_another_folder_is_replaced_with_a_warning(built: tuple[Path, Path], tmp_path: Path) -> None:
    docs, idx = built
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("An unrelated note about tidal mills on the estuary.\n", encoding="utf-8")
    r = ok(run_qa("index", str(other), "--index", str(idx), "--model", "hashing"))
    assert f"holds the index of {docs.resolve()}; replacing it with the index of {other.resolve()}" in r.stderr


def test_an_empty_folder_name_is_an_error_not_the_default_documents(tmp_path: Path) -> None:
    one_line_error(run_qa("index", "", "--model", "hashing", cwd=tmp_path), "empty name")
    one_line_error(run_qa("ask", HERONS, "--docs", "", "--model", "hashing", cwd=tmp_path), "empty name")
    one_line_error(run_qa("chat", "--docs", "", "--model", "hashing", cwd=tmp_path), "empty name")


def test_verify_reads_the_answer_from_standard_input(shared: tuple[Path, Path]) -> None:
    answer = ok(run_qa("ask", HERONS, "--json", "--threshold", "0", *common(shared))).stdout
    r = subprocess.run([sys.executable, "-m", "qa", "verify", "-", *common(shared)], input=answer,
                       capture_output=True, text=True, encoding="utf-8", env=cli_env(), timeout=300)
    assert r.returncode == 0 and r.stdout.startswith("ok: 1 citation"), (r.stdout, r.stderr)
    r = subprocess.run([sys.executable, "-m", "qa", "verify", "-", *common(shared)], input=answer.replace(
        "412", "413"), capture_output=True, text=True, encoding="utf-8", env=cli_env(), timeout=300)
    assert r.returncode == 1 and "does not equal" in r.stdout


def test_verify_against_the_default_documents_says_how_to_name_the_right_ones(shared: tuple[Path, Path],
                                                                             tmp_path: Path) -> None:
    r = ok(run_qa("ask", HERONS, "--threshold", "0", "--json", *common(shared)))
    (tmp_path / "answer.json").write_text(r.stdout, encoding="utf-8")
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "other.txt").write_text("Nothing about herons here.\n", encoding="utf-8")
    v = run_qa("verify", "answer.json", "--model", "hashing", cwd=tmp_path)  # checked against ./seeds/
    assert v.returncode == 1 and "Traceback" not in v.stderr
    assert "is not in the index" in v.stdout
    assert v.stdout.strip().splitlines()[-1].startswith("(checked against seeds/: give --docs or --index")


def test_a_mistyped_index_folder_is_an_error_not_a_new_index_of_the_default_documents(tmp_path: Path) -> None:
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")  # the default documents are there to fall back on
    for cmd in (["ask", HERONS], ["retrieve", HERONS]):
        one_line_error(run_qa(*cmd, "--index", "nope", "--model", "hashing", cwd=tmp_path),
                       "nope is not there: give --docs FOLDER")
    (tmp_path / "empty").mkdir()
    one_line_error(run_qa("ask", HERONS, "--index", "empty", "--model", "hashing", cwd=tmp_path),
                   "empty holds no index")
    assert not (tmp_path / "nope").exists() and not any((tmp_path / "empty").iterdir())
    ok(run_qa("index", "--index", "built", "--model", "hashing", cwd=tmp_path))  # `qa index` builds there
    ok(run_qa("ask", HERONS, "--index", "built", "--model", "hashing", cwd=tmp_path))


def test_an_embedding_model_that_is_not_there_offline_is_said_before_any_index_is_judged(
        shared: tuple[Path, Path]) -> None:
    r = run_qa("ask", HERONS, "--docs", str(shared[0]), "--index", str(shared[1]), "--model", "no-such/model",
               env={"HF_HUB_OFFLINE": "1"})
    line = one_line_error(r, "'no-such/model'", "HF_HUB_OFFLINE is set")
    assert "rebuilding" not in r.stderr, line  # the saved index is not said to be rebuilt, and is left as it was


def test_qa_index_fails_when_the_index_cannot_be_saved(built: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
                                                       capsys, cli_main) -> None:
    docs, idx = built
    (docs / "delta.txt").write_text("The delta survey counted 77 kingfishers along the canal.\n", encoding="utf-8")

    def read_only(self, path=None):  # type: ignore[no-untyped-def]
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(qa.index.Index, "save", read_only)
    code = cli_main(["index", str(docs), "--index", str(idx), "--model", "hashing"])
    err = capsys.readouterr().err
    assert code != 0 and f"error: the index could not be saved to {idx}" in err and "Traceback" not in err


def test_verify_with_the_folder_checks_against_the_index_as_saved(built: tuple[Path, Path], tmp_path: Path) -> None:
    docs, idx = built
    r = ok(run_qa("ask", HERONS, "--threshold", "0", "--json", *common(built)))
    (tmp_path / "answer.json").write_bytes(b"\xef\xbb\xbf" + r.stdout.encode("utf-8"))  # saved with a BOM
    before = {p.name: p.stat().st_mtime_ns for p in idx.iterdir()}
    alpha = docs / "alpha.txt"
    alpha.write_text("A new first line.\n" + alpha.read_text(encoding="utf-8"), encoding="utf-8")
    v = run_qa("verify", str(tmp_path / "answer.json"), *common(built))
    assert v.returncode == 1 and "Traceback" not in v.stderr
    assert "changed since it was indexed" in v.stdout, v.stdout  # said as it is, not as a misquote
    assert {p.name: p.stat().st_mtime_ns for p in idx.iterdir()} == before  # and the index was left as it was
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    one_line_error(run_qa("verify", str(tmp_path / "deep.json"), *common(built)), "nested too deeply")
