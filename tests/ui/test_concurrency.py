"""Several programs asking at once through ``gradio_client`` each get their own, correct answer."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.conftest import to_12_digits
from tests.ui.chatserver import REPO, ChatServer

pytestmark = pytest.mark.model

QUESTION_FILE = REPO / "tests" / "data" / "seeds-questions.jsonl"
QUESTIONS = [json.loads(x) for x in QUESTION_FILE.read_text(encoding="utf-8").splitlines() if x.strip()]


def eight_questions() -> list[str]:
    """Eight answerable questions about eight different things (first two of each document, in order)."""
    per_doc: dict[str, list[str]] = {}
    for q in QUESTIONS:
        if not q["is_impossible"]:
            per_doc.setdefault(q["answers"][0]["doc"], []).append(q["question"])
    picked = [qs[i] for i in range(2) for qs in per_doc.values() if i < len(qs)]
    assert len(picked) >= 8
    return picked[:8]


def test_eight_clients_asking_at_once_each_get_their_own_answer(chat_server: ChatServer) -> None:
    from gradio_client import Client

    questions = eight_questions()
    assert len(set(questions)) == 8
    # The answer each question gets when asked alone.
    alone = Client(chat_server.url, verbose=False)
    expected = {q: alone.predict(q, api_name="/ask") for q in questions}
    texts = {q: (a["text"], [c["quote"] for c in a["citations"]]) for q, a in expected.items()}
    assert len({t for t, _ in texts.values()}) >= 6, texts  # different questions, (mostly) different answers

    clients = [Client(chat_server.url, verbose=False) for _ in questions]
    results: dict[str, dict] = {}
    spans: dict[str, tuple[float, float]] = {}
    errors: list[str] = []
    barrier = threading.Barrier(len(questions))

    def worker(client: Client, question: str) -> None:
        try:
            barrier.wait(timeout=60)
            t0 = time.monotonic()
            results[question] = client.predict(question, api_name="/ask")
            spans[question] = (t0, time.monotonic())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{question}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(c, q)) for c, q in zip(clients, questions, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    assert set(results) == set(questions)
    # All eight were in flight together.
    assert max(s for s, _ in spans.values()) < min(e for _, e in spans.values())
    # the cited files (text files of seeds/; other tests may have uploaded a PDF beside them)
    docs = {p.name: p.read_text(encoding="utf-8") for p in chat_server.docs.iterdir() if p.suffix == ".txt"}
    for q in questions:
        got = results[q]
        assert got["question"] == q
        assert to_12_digits(got) == to_12_digits(expected[q]), q  # as when asked alone: nothing mixed up
        for c in got["citations"]:
            assert docs[c["doc_id"]][c["start"]:c["end"]] == c["quote"]
            assert c["sentence_start"] <= c["start"] < c["end"] <= c["sentence_end"]
        assert got["text"] is None or got["text"] == got["citations"][0]["quote"]
