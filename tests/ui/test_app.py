"""The chat's handlers and shared state, in-process with the fake embedder (fast: no model, no browser)."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path

import pytest

import qa
from qa import Config
from tests.ui.chatserver import HOSTILE_NAME, copy_seeds, free_port, run_chat
from ui import app as chat
from ui.app import ChatService

HASHING = Config(model="hashing")
MINISTER = "Who is the minister of internal affairs?"


@pytest.fixture
def service(tmp_path: Path) -> ChatService:
    docs = copy_seeds(tmp_path / "docs")
    index = qa.load_index(docs=docs, index_dir=tmp_path / "index", config=HASHING, progress=False)
    return ChatService(index)


def contents(chat_messages: list) -> str:
    return "\n".join(m["content"] for m in chat_messages)


def text_of(fragment: str) -> str:
    """What the page shows of an HTML fragment."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


# -- the message handler ------------------------------------------------------------------------------------


def test_an_empty_question_sent_again_adds_no_second_notice(service: ChatService) -> None:
    _, messages, _ = chat.respond(service, "", [], [], 5, 0.3)
    # as the page sends the conversation back: each message's content a list of text blocks
    sent_back = [{**m, "content": [{"type": "text", "text": m["content"]}], "metadata": None} for m in messages]
    _, again, _ = chat.respond(service, " ", sent_back, [], 5, 0.3)
    assert again == sent_back
    _, asked, _ = chat.respond(service, MINISTER, sent_back, [], 5, 0.3)
    _, after, _ = chat.respond(service, "", asked, [], 5, 0.3)
    assert len(after) == len(asked) + 1  # after a question, the notice is shown again


def test_words_of_a_title_typed_under_ask_only_about_stand_for_its_documents(service: ChatService) -> None:
    titled = next(d for d in service.index.documents if d.title and len(d.title.split()) > 2)
    words = " ".join(titled.title.split()[1:3]).upper()  # a part of the title, in another case
    assert service.resolve_scope([words]) == [d.doc_id for d in service.index.documents
                                              if words.casefold() in " ".join(d.title.split()).casefold()]
    assert titled.doc_id in service.resolve_scope([words])
    assert service.resolve_scope(["004_*", titled.doc_id, "ghost.txt"]) == ["004_*", titled.doc_id, "ghost.txt"]
    _, messages, _ = chat.respond(service, "Who is the minister?", [], [], 5, 0.0, only=[words])
    assert "qa-error" not in messages[-1]["content"]  # searched those documents, not refused as no id


def test_ask_only_about_names_each_document_with_its_title(service: ChatService) -> None:
    choices = service.scope_choices()
    assert [value for _, value in choices] == service.doc_ids()
    titled = [(label, value) for label, value in choices if service.index.doc_by_id[value].title]
    assert titled and all(label.startswith(f"{value} — ") and len(label) <= len(value) + 63
                          for label, value in titled)


@pytest.mark.parametrize("empty", ["", "   ", "\n\t", None, "\u200b\ufeff"])
def test_empty_question_gets_a_friendly_message_not_an_error(service: ChatService, empty: str | None) -> None:
    box, messages, turns = chat.respond(service, empty, [], [], 5, 0.3)  # type: ignore[arg-type]
    assert box == "" and turns == []
    assert len(messages) == 1 and messages[0]["role"] == "assistant"
    assert "Type a question about the documents" in messages[0]["content"]


def test_question_gets_answer_then_collapsed_sources_and_joins_the_conversation(service: ChatService) -> None:
    box, messages, turns = chat.respond(service, MINISTER, [], [], 3, 0.0)
    assert box == ""
    assert [m["role"] for m in messages][:2] == ["user", "assistant"]
    assert "<mark>" in messages[1]["content"] and "[1]" in messages[1]["content"]
    assert len(messages) == 2 and "<summary>Sources (3 passages" in html.unescape(messages[1]["content"])
    a = qa.answer(MINISTER, index=service.index, k=3, threshold=0.0)
    assert turns == [{"question": MINISTER, "answer": a.text}]


def test_a_withheld_answer_joins_the_conversation_with_its_guess(service: ChatService) -> None:
    # at threshold 1 every answer is withheld; its best guess is kept for what a follow-up refers to
    _, messages, turns = chat.respond(service, MINISTER, [], [], 3, 1.0)
    a = qa.answer(MINISTER, index=service.index, k=3, threshold=1.0)
    assert a.no_answer and a.withheld is not None
    assert turns == [{"question": MINISTER, "answer": "", "guess": a.withheld.quote}]
    assert "The documents do not say" in messages[1]["content"]  # never shown as the answer
    _, _, turns = chat.respond(service, "What did he say about extradition?", messages, turns, 3, 1.0)
    follow = qa.answer("What did he say about extradition?", index=service.index, k=3, threshold=1.0,
                       history=[MINISTER])
    assert turns[-1] == {"question": "What did he say about extradition?", "answer": "",
                         "guess": follow.withheld.quote}


def test_scope_limits_the_chat_and_other_answers_come_collapsed(service: ChatService) -> None:
    doc = "004_c959e5419f16b652.txt"
    _, messages, _ = chat.respond(service, "What did officials say about the people arriving?", [], [], 5, 0.0,
                                  only=[doc])
    reply = messages[-1]["content"]
    titles = [html.unescape(t) for t in re.findall(r"<summary>([^<]*)</summary>", reply)]
    assert len(titles) == 2 and titles[0].startswith("Other possible answers") and titles[1].startswith("Sources")
    n = int(re.search(r"\((\d+)\)", titles[0]).group(1))
    others = reply.split("<details")[1]
    assert 1 <= n <= chat.CHAT_TOP_N - 1 and others.count('class="qa-alternative"') == n
    assert "<mark>" in others
    cited = re.findall(r'class="qa-doc"[^>]*>([^<]+)<', reply.split('<details class="qa-more qa-more-sources"')[0])
    assert cited and {html.unescape(c) for c in cited} == {doc}
    # the API endpoint takes the same scope, and an unknown document is a one-line error in the chat
    d = chat.api_ask(service, "What did officials say about the people arriving?", only=[doc], top_n=3,
                     threshold=0.0)
    assert {c["doc_id"] for x in (d, *d["alternatives"]) for c in x["citations"]} == {doc}
    _, messages, _ = chat.respond(service, "Who is the minister?", [], [], 5, 0.0, only=["ghost.txt"])
    assert "ghost.txt" in messages[-1]["content"] and "qa-error" in messages[-1]["content"]


def test_uploaded_pdf_is_cited_with_its_page(service: ChatService, tmp_path: Path) -> None:
    pytest.importorskip("fpdf")
    from tests.office import PAGES, make_pdf

    pdf = make_pdf(tmp_path / "glassworks.pdf", PAGES)
    added, problems = service.add_files([pdf])
    assert added == ["glassworks.pdf"]
    assert problems == ["glassworks.pdf: page 3 has no text layer (scanned?) and cannot be searched"]  # as read
    assert "glassworks.pdf" in service.doc_ids()
    _, messages, _ = chat.respond(service, "How many bottles did the furnace at Hollow Ridge produce in March?",
                                  [], [], 5, 0.0, only=["glassworks.pdf"])
    shown = text_of(messages[1]["content"])
    assert "glassworks.pdf, page 2, characters" in shown
    assert "8,400" in re.search(r"<mark[^>]*>(.*?)</mark>", messages[1]["content"]).group(1)


def test_follow_up_passes_the_conversation_as_history(service: ChatService, monkeypatch) -> None:
    seen: list = []
    real = service.ask

    def spy(question, history=None, **kw):  # type: ignore[no-untyped-def]
        seen.append(history)
        return real(question, history=history, **kw)

    monkeypatch.setattr(service, "ask", spy)
    _, messages, turns = chat.respond(service, MINISTER, [], [], 5, 0.0)
    _, messages, turns = chat.respond(service, "What did he say about extradition?", messages, turns, 5, 0.0)
    assert seen[0] == []
    assert seen[1] == [{"question": MINISTER, "answer": turns[0]["answer"]}]
    assert len(turns) == 2 and [m["role"] for m in messages].count("user") == 2
    assert sum("qa-answer" in m["content"] for m in messages) == 2


def test_a_question_too_long_stays_in_the_box_with_a_one_line_reason(service: ChatService) -> None:
    long = "why " * 1000
    box, messages, turns = chat.respond(service, long, [], [], 5, 0.3)
    assert box == long and turns == [] and len(messages) == 1  # not echoed into the conversation
    notice = messages[0]["content"]
    assert "qa-error" in notice and "at most 2,000 characters; this one has 3,999" in text_of(notice)
    assert "<br>" not in notice


def test_library_errors_are_one_line_in_the_chat(service: ChatService) -> None:
    _, messages, turns = chat.respond(service, "Who is the minister?", [], [], 5, 0.3, only=["ghost.txt"])
    notice = messages[-1]["content"]
    assert messages[0]["role"] == "user" and "qa-error" in notice and "ghost.txt" in text_of(notice)
    assert "<br>" not in notice and turns == []


def test_the_question_shows_at_once_and_the_answer_leaves_the_box_alone(service: ChatService) -> None:
    steps = list(chat.respond_steps(service, MINISTER, [], [], 5, 0.0))
    assert len(steps) == 2
    (box, first, _), (after, second, turns) = steps
    # echoed before it is answered, with a place-holder; the box is left to the page, which emptied it on sending
    assert box is chat.KEEP and [m["role"] for m in first] == ["user", "assistant"]
    assert "qa-pending" in first[1]["content"] and "Searching the documents" in text_of(first[1]["content"])
    assert after is chat.KEEP and second[0] == first[0] and "qa-answer" in second[1]["content"]
    assert not any("qa-pending" in m["content"] for m in second)  # the answer took the place-holder's place
    assert [t["question"] for t in turns] == [MINISTER]


@pytest.mark.parametrize(("given", "used"), [(2.5, 3), (2.4, 2), (0, 1), (-3, 1), (100, 10), ("x", 5)])
def test_passages_shown_are_clamped_and_rounded_like_the_slider(given: object, used: int) -> None:
    assert chat._clamp_k(given) == used


def test_unexpected_errors_are_one_line_without_traceback(service: ChatService, monkeypatch) -> None:
    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals\nTraceback (most recent call last)")

    monkeypatch.setattr(service, "ask", boom)
    _, messages, _ = chat.respond(service, MINISTER, [], [], 5, 0.3)
    assert "Something went wrong while answering (RuntimeError)" in text_of(messages[-1]["content"])
    assert "Traceback" not in contents(messages) and "secret" not in contents(messages)


def test_hostile_document_reaches_the_chat_only_as_text(service: ChatService) -> None:
    _, messages, _ = chat.respond(service, "Who is the lighthouse keeper of Port Aldous?", [], [], 5, 0.0)
    shown = contents(messages)
    assert HOSTILE_NAME in text_of(shown)
    assert "<script>window.__pwned=1</script>" in text_of(shown)
    assert not re.search(r"<\s*(script|img|a|iframe|svg)\b|href=|onerror=", shown, re.IGNORECASE)


# -- documents: upload and the panel ------------------------------------------------------------------------


def test_upload_saves_indexes_incrementally_and_swaps_the_index(service: ChatService, tmp_path: Path) -> None:
    old = service.index
    n_old = len(old.documents)
    new_doc = tmp_path / "upload" / "orchard.md"
    new_doc.parent.mkdir()
    new_doc.write_text("Orchard Report\n\nThe Wexcombe orchard planted 1,200 cider apple trees in 2021.\n")
    added, problems = service.add_files([new_doc])
    assert added == ["orchard.md"] and problems == []
    assert (service.docs_folder / "orchard.md").read_text() == new_doc.read_text()
    assert service.index is not old and len(service.index.documents) == n_old + 1
    assert len(old.documents) == n_old  # questions in flight keep a whole, unchanged index
    a = service.ask("How many cider apple trees did the Wexcombe orchard plant?", threshold=0.0)
    assert a.citations[0].doc_id == "orchard.md" and "1,200" in a.text
    # the saved index is whole and has the new document
    saved = qa.load_index(docs=None, index_dir=old.path, config=HASHING)
    assert "orchard.md" in saved.doc_by_id
    assert "orchard.md" in service.documents_html()


def test_upload_never_overwrites_and_refuses_unsupported_types(service: ChatService, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / HOSTILE_NAME).write_text("Another harbour. The ferry leaves at dawn from the north pier.\n")
    (src / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    (src / "report.pdf").write_bytes(b"%PDF-1.4")  # supported, but broken
    (src / "empty.txt").write_text("   \n")
    before = (service.docs_folder / HOSTILE_NAME).read_text()
    added, problems = service.add_files([src / HOSTILE_NAME, src / "sheet.xlsx", src / "report.pdf",
                                         src / "empty.txt"])
    assert added == ["harbour-notes-2.txt"]
    assert (service.docs_folder / HOSTILE_NAME).read_text() == before
    assert any(p.startswith("sheet.xlsx: not added (only .docx, .htm, .html") for p in problems)
    assert "empty.txt: empty (no text); skipped" in problems  # what reading it said, on the page
    assert any(p.startswith("report.pdf: ") and p.endswith("; skipped") for p in problems), problems
    for name in ("sheet.xlsx", "empty.txt", "report.pdf"):  # nothing to index is not kept
        assert not (service.docs_folder / name).exists()


def test_upload_says_how_a_file_was_read_and_refuses_a_second_copy(service: ChatService, tmp_path: Path) -> None:
    f = tmp_path / "cafe.txt"
    f.write_bytes("Caf\xe9 Rossi on Mill Street was opened by Anna Rossi in 1999.\n".encode("latin-1"))
    added, problems = service.add_files([f])
    assert added == ["cafe.txt"]
    assert problems == ["cafe.txt: not UTF-8 (byte 3); read as Windows-1252 (Western European)"]
    assert "Caf\xe9 Rossi" in service.index.doc_by_id["cafe.txt"].text
    copy = tmp_path / "copy.txt"
    copy.write_bytes(f.read_bytes())
    n = len(service.index.documents)
    assert service.add_files([copy]) == ([], ["copy.txt: not added, the same file is already indexed as cafe.txt"])
    assert len(service.index.documents) == n and not (service.docs_folder / "copy.txt").exists()


def test_a_failed_update_leaves_folder_and_index_as_they_were(service: ChatService, tmp_path: Path,
                                                              monkeypatch) -> None:
    def broken(*a, **k):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(chat, "update_index", broken)
    f = tmp_path / "notes.txt"
    f.write_text("The north pier was rebuilt in 1990 after the storm.\n")
    old, files_before = service.index, sorted(p.name for p in service.docs_folder.iterdir())
    added, problems = service.add_files([f])
    assert added == [] and problems == ["not added: indexing failed ([Errno 28] No space left on device)"]
    assert service.index is old
    assert sorted(p.name for p in service.docs_folder.iterdir()) == files_before


def test_upload_handler_reports_in_the_page(service: ChatService, tmp_path: Path) -> None:
    f = tmp_path / "notes.exe"
    f.write_bytes(b"MZ")
    toasts: list[tuple[str, str]] = []
    status, panel = chat.upload(service, [str(f)], notify=lambda line, kind: toasts.append((line, kind)))
    assert "notes.exe: not added" in text_of(status) and "qa-error" in status
    assert status.count("qa-notice") == 1
    assert len(toasts) == 1 and toasts[0][1] == "warning" and toasts[0][0].startswith("notes.exe: not added")
    g = tmp_path / "pier.txt"
    g.write_text("The north pier was rebuilt in 1990 after the storm.\n")
    chat.upload(service, [str(g)], notify=lambda line, kind: toasts.append((line, kind)))
    assert toasts[1:] == [("Added and indexed: pier.txt.", "info")]
    assert chat.upload(service, None)[0] == ""


def test_questions_during_an_upload_each_see_a_whole_index(service: ChatService, tmp_path: Path) -> None:
    questions = ["Who is the minister of internal affairs?", "Who is the president of Kazakhstan?",
                 "How many Russians fled to Kazakhstan?", "Which city did Russians cross into?"]
    errors: list[str] = []
    stop = threading.Event()

    def asker(q: str) -> None:
        while not stop.is_set():
            idx = service.index
            try:
                a = service.ask(q, index=idx, threshold=0.0)
                assert a.question == q
                assert qa.verify(a, index=idx) == []
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(f"{q}: {exc!r}")

    threads = [threading.Thread(target=asker, args=(q,)) for q in questions]
    for t in threads:
        t.start()
    try:
        for i in range(3):
            f = tmp_path / f"extra{i}.txt"
            f.write_text(f"Extra {i}\n\nThe harbour master number {i} keeps a log of every ship in port.\n")
            added, problems = service.add_files([f])
            assert added == [f"extra{i}.txt"], problems
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert {f"extra{i}.txt" for i in range(3)} <= set(service.index.doc_by_id)


@pytest.mark.parametrize(("name", "expected"), [
    ("report.txt", "report.txt"), ("../../etc/passwd.txt", "passwd.txt"), (".hidden.md", "hidden.md"),
    ("C:\\Users\\me\\notes.html", "notes.html"), ("a<b>c.txt", "a_b_c.txt"), ("...", "document"),
])
def test_safe_name(name: str, expected: str) -> None:
    assert chat.safe_name(name) == expected


def test_unique_destination_picks_a_new_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "a-2.txt").write_text("y")
    assert chat.unique_destination(tmp_path, "a.txt").name == "a-3.txt"
    assert chat.unique_destination(tmp_path, "b.txt").name == "b.txt"
    assert chat.unique_destination(tmp_path, "b.txt").name == "b-2.txt"  # the first call claimed b.txt


@pytest.mark.parametrize(("history", "expected"), [
    (None, []), ("", []), ("Who is X?", ["Who is X?"]), ('["Who is X?"]', ["Who is X?"]),
    ('[{"question": "Who is X?", "answer": "Y"}]', [{"question": "Who is X?", "answer": "Y"}]),
    ({"question": "Q"}, [{"question": "Q"}]), (["a", "b"], ["a", "b"]),
])
def test_parse_history(history, expected) -> None:  # type: ignore[no-untyped-def]
    assert chat.parse_history(history) == expected


@pytest.mark.parametrize("bad", ["[not json", "[1, 2]", 42, [{"foo": 1}], [{"question": 5}], [{"answer": "x"}],
                                 [{"question": "Q", "answer": 3}], [" "]])
def test_parse_history_rejects_other_things_with_one_line(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(qa.QAError) as err:
        chat.parse_history(bad)
    assert "\n" not in str(err.value) and "history" in str(err.value)


# -- the Gradio app and its API, in-process -----------------------------------------------------------------


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from gradio_client import Client

    tmp = tmp_path_factory.mktemp("app")
    docs = copy_seeds(tmp / "docs")
    index = qa.load_index(docs=docs, index_dir=tmp / "index", config=HASHING, progress=False)
    demo = chat.build_app(index)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                ssr_mode=False)
    try:
        yield demo, Client(f"http://127.0.0.1:{port}/", verbose=False), index
    finally:
        demo.close()


@pytest.mark.parametrize(("name", "value"), [("top_n", "abc"), ("threshold", "abc"), ("top_n", None)])
def test_api_ask_bad_numbers_are_one_line(service: ChatService, name: str, value: object) -> None:
    if value is None:  # top_n of 0 or None falls back to one answer, as the endpoint's default
        assert chat.api_ask(service, MINISTER, top_n=value)["question"] == MINISTER
        return
    with pytest.raises(qa.QAError, match=f"{name} must be a number"):
        chat.api_ask(service, MINISTER, **{name: value})


def test_api_ask_returns_the_answer_dict(running_app) -> None:  # type: ignore[no-untyped-def]
    _, client, index = running_app
    got = client.predict(MINISTER, api_name="/ask")
    assert got == qa.answer(MINISTER, index=index).to_dict()
    follow = client.predict(question="What did he say about extradition?", history=f'["{MINISTER}"]', k=2,
                            threshold=0.0, api_name="/ask")
    assert follow["question"] == "What did he say about extradition?"
    assert follow["query"] == "What did the minister of internal affairs say about extradition?"
    assert len(follow["passages"]) == 2


def test_api_errors_are_one_line_messages(running_app) -> None:  # type: ignore[no-untyped-def]
    from gradio_client.exceptions import AppError

    _, client, _ = running_app
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("  ", api_name="/ask")
    with pytest.raises(AppError, match="history is not valid JSON"):
        client.predict("Who?", history="[oops", api_name="/ask")


def test_api_lists_documents_and_queue_allows_concurrent_questions(running_app) -> None:  # type: ignore
    demo, client, index = running_app
    docs = client.predict(api_name="/documents")
    assert [d["doc_id"] for d in docs] == [d.doc_id for d in index.documents]
    assert demo._queue.default_concurrency_limit >= 8
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert set(api) == {"/ask", "/documents"}  # the page's own events are private


def test_a_taken_port_is_reported_before_loading_anything() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(qa.QAError, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            chat.check_port("127.0.0.1", port)
    chat.check_port("127.0.0.1", free_port())


def test_qa_chat_without_docs_serves_seeds_of_the_working_directory(tmp_path: Path) -> None:
    """The README's first command, ``qa chat`` with no ``--docs``, in a fresh process (it used to stop with
    "module 'qa' has no attribute 'api'" there, where nothing had imported qa.api yet)."""
    copy_seeds(tmp_path / "seeds", hostile=False)
    import time

    expected = f"{len(list((tmp_path / 'seeds').iterdir()))} documents"
    with run_chat(None, tmp_path / "index", tmp_path / "chat.log", model="hashing", cwd=tmp_path) as server:
        deadline = time.monotonic() + 30  # the line is printed just after the server answers
        while expected not in server.log_tail() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert expected in server.log_tail()
        assert (tmp_path / "index" / "manifest.json").is_file()


def test_library_errors_in_the_chat_start_with_a_capital_but_file_names_are_kept() -> None:
    assert chat.sentence_case("no indexed document matches 'x*'") == "No indexed document matches 'x*'"
    assert chat.sentence_case("notes.txt: cannot be read") == "notes.txt: cannot be read"
    assert chat.sentence_case("x") == "x"
