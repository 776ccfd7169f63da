"""The chat in a real browser: ``qa chat`` on a free port, driven by Python Playwright in Debian Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.office import PAGES, make_pdf
from tests.ui.chatserver import (
    HOSTILE_IMG,
    HOSTILE_NAME,
    HOSTILE_QUESTION,
    HOSTILE_SCRIPT,
    ChatServer,
    ask,
    choose_scope,
    open_sources,
    set_threshold,
    upload,
)

pytestmark = [pytest.mark.browser, pytest.mark.model]

MINISTER_DOC = "004_c959e5419f16b652.txt"


def marks(reply: Any) -> list[str]:
    return [m.inner_text() for m in reply.locator("mark").all()]


def test_answer_is_marked_and_cited_and_a_follow_up_works(page: Any, tmp_path: Path) -> None:
    reply = ask(page, "Who is the minister of internal affairs?")
    assert any("Marat Akhmetzhanov" in m for m in marks(reply)), reply.inner_text()
    assert reply.locator("strong").first.inner_text().strip() != ""
    assert MINISTER_DOC in reply.inner_text() and "[1]" in reply.inner_text()
    assert "confidence" in reply.inner_text()
    assert MINISTER_DOC in page.locator("body").inner_text()

    follow = ask(page, "What did he say about extradition?")
    assert any("no ground for extradition" in m for m in marks(follow)), follow.inner_text()
    assert MINISTER_DOC in follow.inner_text()

    open_sources(page)  # scores on demand; the follow-up was searched with the conversation folded in
    sources = page.locator("#qa-chat .qa-sources").last
    assert "Searched for" in sources.inner_text() and "minister of internal affairs" in sources.inner_text()
    assert "dense" in sources.inner_text() and "BM25" in sources.inner_text()
    page.screenshot(path=str(tmp_path / "chat.png"))
    assert (tmp_path / "chat.png").stat().st_size > 10_000
    assert page.page_errors == []


def test_document_with_script_is_shown_as_text_and_never_runs(page: Any) -> None:
    reply = ask(page, HOSTILE_QUESTION)
    assert HOSTILE_NAME in reply.inner_text() and marks(reply), reply.inner_text()  # the reader's span, marked
    assert HOSTILE_SCRIPT in reply.inner_text()  # the rest of its sentence, as text
    assert HOSTILE_IMG in reply.inner_text()  # and the sentence after it
    open_sources(page)
    page.locator("#qa-chat .qa-doc").first.hover()  # its tooltip is the hostile document's first line
    page.wait_for_timeout(500)  # give any injected handler (img onerror, …) the time to fire
    assert page.evaluate("typeof window.__pwned") == "undefined"
    chat = page.locator("#qa-chat")
    assert chat.locator("script").count() == 0
    assert chat.locator("img[src='x'], img[src='y'], a[href^='javascript']").count() == 0
    assert page.locator("#qa-docs img, #qa-docs script").count() == 0
    assert page.page_errors == []


def test_empty_question_gets_a_friendly_message(page: Any) -> None:
    reply = ask(page, "   ")
    assert "Type a question about the documents" in reply.inner_text()
    assert page.locator(".toast-body").count() == 0  # no error toast


def test_upload_through_the_page_then_ask_about_it(page: Any, chat_server: ChatServer,
                                                   tmp_path: Path) -> None:
    f = tmp_path / "orchard-report.md"
    f.write_text("# Orchard Report\n\nThe Wexcombe orchard planted 1,200 cider apple trees in 2021, most of "
                 "them of the Dabinett variety.\n", encoding="utf-8")
    page.locator("#qa-upload input[type=file]").set_input_files(str(f))
    status = page.locator("#qa-status")
    status.get_by_text("Added and indexed").wait_for(timeout=120_000)
    assert "orchard-report.md" in status.inner_text()
    assert "orchard-report.md" in page.locator("#qa-docs").inner_text()
    assert (chat_server.docs / "orchard-report.md").exists()
    reply = ask(page, "How many cider apple trees did the Wexcombe orchard plant?")
    assert any("1,200" in m for m in marks(reply)), reply.inner_text()
    assert "orchard-report.md" in reply.inner_text()


def test_pdf_upload_then_a_scoped_question_cites_its_page_and_shows_other_answers(page: Any, tmp_path: Path) -> None:
    pytest.importorskip("fpdf")
    pdf = make_pdf(tmp_path / "glassworks-report.pdf", PAGES)
    upload(page, pdf)
    choose_scope(page, "glassworks-report.pdf")
    set_threshold(page, 0)
    reply = ask(page, "How many bottles did the furnace at Hollow Ridge produce in March?")
    assert any("8,400" in m for m in marks(reply)), reply.inner_text()
    assert "glassworks-report.pdf, page 2, characters" in reply.inner_text()
    page.locator("#qa-chat").get_by_text("Other possible answers (", exact=False).last.click()
    others = page.locator("#qa-chat .qa-alternatives").last
    others.wait_for(timeout=10_000)
    assert others.locator(".qa-alternative").count() >= 1
    cited = "#qa-chat .qa-answer .qa-doc, #qa-chat .qa-alternatives .qa-doc"
    docs = {d.inner_text() for d in page.locator(cited).all()}
    assert docs == {"glassworks-report.pdf"}  # the scope held for the answer and the others
    assert page.page_errors == []


def test_the_question_shows_at_once_and_what_is_typed_meanwhile_is_kept(page: Any) -> None:
    replies = "#qa-chat .qa-answer, #qa-chat .qa-notice"
    users = "#qa-chat .message.user"
    # Each change to the page is timed as it happens (a MutationObserver, and a 5 ms poll for the box's value,
    # which is a property, not an attribute): when the question first shows, when the box is first empty, and
    # when the answer first shows. Polling for the in-between state alone can miss it on a busy machine.
    page.evaluate("""([users, replies]) => {
        const m = document.querySelectorAll(users).length, n = document.querySelectorAll(replies).length;
        const seen = window.__seen = {question: null, empty: null, answer: null};
        const look = () => {
            const now = performance.now();
            if (seen.question === null && document.querySelectorAll(users).length > m) seen.question = now;
            if (seen.empty === null && seen.question !== null &&
                document.querySelector('#qa-question textarea').value === '') seen.empty = now;
            if (seen.answer === null && document.querySelectorAll(replies).length > n) seen.answer = now;
        };
        new MutationObserver(look).observe(document.body,
            {subtree: true, childList: true, characterData: true, attributes: true});
        setInterval(look, 5);
    }""", [users, replies])
    before = page.locator(replies).count()
    box = page.locator("#qa-question textarea")
    box.fill("Who is the president of Kazakhstan?")
    box.press("Enter")
    page.wait_for_function("window.__seen.empty !== null", timeout=60_000)
    box.type("What did he")  # the next question, typed while the answer is pending
    page.wait_for_function("window.__seen.answer !== null", timeout=120_000)
    seen = page.evaluate("window.__seen")
    assert seen["question"] < seen["answer"] and seen["empty"] < seen["answer"], seen  # shown before the answer
    reply = page.locator(replies).nth(before).inner_text()
    assert box.input_value() == "What did he", reply  # the answer did not clear it
    assert "Tokayev" in reply


def test_a_long_reply_is_shown_from_its_question_and_sources_unfold_into_view(chromium: Any,
                                                                             chat_server: ChatServer) -> None:
    from tests.ui.chatserver import open_chat

    p = open_chat(chromium, chat_server.url, width=1280, height=700)  # a short window: the reply overflows it
    try:
        ask(p, "Who is the minister of internal affairs?")
        ask(p, "What is the capital of Georgia?")  # no answer: the nearest passages make a long reply
        where = """() => {
            const wrap = document.querySelector('#qa-chat .panel-wrap');
            const rows = document.querySelectorAll('#qa-chat .message-row.user-row');
            const top = (el) => el.getBoundingClientRect().top - wrap.getBoundingClientRect().top;
            const q = rows[rows.length - 1];
            const s = [...document.querySelectorAll('#qa-chat .qa-sources')].pop();
            return {question: top(q), below: wrap.scrollHeight - (top(q) + wrap.scrollTop), view: wrap.clientHeight,
                    sources: s ? top(s) : null};
        }"""
        p.wait_for_timeout(500)
        at = p.evaluate(where)
        assert at["below"] > at["view"], at  # the reply is taller than the view (else there is nothing to test)
        assert 0 <= at["question"] <= 40, at  # its question at the top, the answer under it: not scrolled to the end
        p.locator("#qa-chat").get_by_text("Sources (", exact=False).last.click()
        p.locator("#qa-chat .qa-sources").last.wait_for(timeout=10_000)
        p.wait_for_timeout(1200)  # it unfolds over a moment, and the view follows it
        at = p.evaluate(where)
        assert at["sources"] is not None and 0 <= at["sources"] <= at["view"] - 120, at
    finally:
        p.close()


def test_a_question_too_long_stays_in_the_box(page: Any) -> None:
    long = "why " * 600
    reply = ask(page, long)
    assert "at most 2,000 characters" in reply.inner_text()
    assert page.locator("#qa-question textarea").input_value().strip() == long.strip()


def test_a_pattern_typed_into_ask_only_about_limits_the_question(page: Any) -> None:
    box = page.locator("#qa-scope input").first
    box.click()
    box.fill("004_*")
    box.press("Enter")  # not one of the choices: a pattern, kept as typed
    page.keyboard.press("Escape")
    page.locator("#qa-scope").get_by_text("004_*").first.wait_for(timeout=10_000)
    reply = ask(page, "Who is the minister of internal affairs?")
    assert any("Marat Akhmetzhanov" in m for m in marks(reply)), reply.inner_text()
    assert {d.inner_text() for d in reply.locator(".qa-citation .qa-doc").all()} == {MINISTER_DOC}
    assert "Searched only 004_*" in reply.inner_text()  # the answer says the question was limited
    assert page.page_errors == []


def test_on_a_phone_s_width_the_answer_fits_and_nothing_scrolls_sideways(chromium: Any,
                                                                        chat_server: ChatServer) -> None:
    from tests.ui.chatserver import open_chat

    width = 390
    phone = open_chat(chromium, chat_server.url, width=width, height=844)
    try:
        reply = ask(phone, "Who is the minister of internal affairs?")
        assert any("Marat Akhmetzhanov" in m for m in marks(reply)), reply.inner_text()
        page_width, window = phone.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert page_width <= window == width, f"the page is {page_width} px wide in a {window} px window"
        assert reply.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the answer scrolls sideways"
        box = reply.locator("mark").first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width  # the span within the screen
        for selector in ("#qa-question textarea", "#qa-docs"):  # the box to ask in, and the documents panel
            b = phone.locator(selector).first.bounding_box()
            assert b is not None and b["x"] >= 0 and b["x"] + b["width"] <= width, (selector, b)
    finally:
        phone.close()


def test_an_example_question_clicked_in_the_empty_conversation_is_asked_at_once(chromium: Any,
                                                                                tmp_path: Path) -> None:
    import qa
    from tests.conftest import HASHING
    from tests.ui.chatserver import copy_seeds, free_port, open_chat
    from ui import app

    index = qa.load_index(docs=copy_seeds(tmp_path / "docs"), index_dir=tmp_path / "index", config=HASHING,
                          progress=False)
    question = "Who is the minister of internal affairs?"
    demo = app.build_app(index, examples=[question, "Who is the president of Kazakhstan?"])
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    try:
        p = open_chat(chromium, f"http://127.0.0.1:{port}/")
        p.locator("#qa-chat").get_by_text(question).first.click()
        p.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-answer, #qa-chat .qa-notice').length",
                            timeout=60_000)
        asked = p.locator("#qa-chat .message.user").all_inner_texts()
        assert [" ".join(t.split()) for t in asked] == [f"You asked: {question}"]  # asked, not only put in the box
        assert "confidence" in p.locator("#qa-chat .qa-answer").first.inner_text()
        assert p.locator("#qa-question textarea").input_value() == ""
        p.close()
    finally:
        demo.close()


def test_sources_open_from_the_keyboard_and_messages_are_read_as_text(page: Any) -> None:
    reply = ask(page, "Who is the minister of internal affairs?")
    summary = page.locator("#qa-chat details.qa-more-sources > summary").last
    assert page.locator("#qa-chat .message.bot button").count() == 0  # no control nested in another
    summary.focus()  # one Tab stop: the browser's own disclosure widget
    page.keyboard.press("Enter")
    assert page.locator("#qa-chat details.qa-more-sources").last.evaluate("d => d.open")
    assert page.locator("#qa-chat .qa-sources").last.is_visible()
    page.keyboard.press(" ")
    assert not page.locator("#qa-chat details.qa-more-sources").last.evaluate("d => d.open")
    # Gradio labels a message with its raw HTML; the page drops that, so the text itself is read, and says whose
    assert page.locator("#qa-chat [data-testid=bot][aria-label], #qa-chat [data-testid=user][aria-label]").count() == 0
    assert reply.locator(".qa-sr").first.text_content() == "Answer: "
    assert page.locator("#qa-chat .message.user .qa-sr").first.text_content() == "You asked: "
    # the messages are not dimmed: Gradio's .8 opacity took the greys under 4.5:1
    assert reply.evaluate("e => getComputedStyle(e.closest('.prose')).opacity") == "1"
    # Gradio's bin icon is hidden (a second, 18 px, first-in-Tab-order New chat); New chat empties the
    # conversation and gives the question box the focus
    assert page.locator("#qa-chat button[aria-label='Clear']").count() == 1  # Gradio's own: still there
    assert not page.locator("#qa-chat button[aria-label='Clear']").is_visible()
    page.locator("#qa-clear").click()
    page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer')", timeout=10_000)
    assert page.evaluate("() => document.activeElement === document.querySelector('#qa-question textarea')")
    assert page.page_errors == []


def test_while_an_answer_is_pending_ask_is_disabled_and_a_second_send_is_not_taken(chromium: Any,
                                                                                   tmp_path: Path) -> None:
    import time

    import qa
    from tests.conftest import HASHING
    from tests.ui.chatserver import copy_seeds, free_port, open_chat
    from ui import app

    class Slow(app.ChatService):  # each answer takes 1.5 s: the second send surely comes while it is pending
        def ask(self, *args: Any, **kwargs: Any) -> qa.Answer:
            time.sleep(1.5)
            return super().ask(*args, **kwargs)

    index = qa.load_index(docs=copy_seeds(tmp_path / "docs"), index_dir=tmp_path / "index", config=HASHING,
                          progress=False)
    demo = app.build_app(Slow(index))
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, ssr_mode=False)
    try:
        page = open_chat(chromium, f"http://127.0.0.1:{port}/")
        box, ask_button = page.locator("#qa-question textarea"), page.locator("#qa-ask")
        box.fill("Who is the president of Kazakhstan?")
        box.press("Enter")
        page.locator("#qa-chat .qa-pending").wait_for(timeout=30_000)
        assert ask_button.is_disabled()  # says it is busy
        box.fill("Who is the minister of internal affairs?")
        box.press("Enter")  # not taken while the first is answered: the text stays, to be sent when it is done
        page.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-answer').length >= 1", timeout=60_000)
        page.wait_for_function("() => !document.querySelector('#qa-ask').disabled", timeout=10_000)
        page.wait_for_timeout(300)
        asked = [" ".join(t.split()) for t in page.locator("#qa-chat .message.user").all_inner_texts()]
        assert asked == ["You asked: Who is the president of Kazakhstan?"], asked
        assert box.input_value() == "Who is the minister of internal affairs?"
        assert page.locator("#qa-chat .qa-notice").count() == 0  # no stray "type a question" notice
        ask_button.click()
        page.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-answer').length >= 2", timeout=60_000)
        assert box.input_value() == ""
        page.close()
    finally:
        demo.close()


def test_in_dark_mode_the_greys_are_the_dark_ones(chromium: Any, chat_server: ChatServer) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    try:
        page.goto(chat_server.url, wait_until="domcontentloaded")
        page.locator("#qa-question textarea").wait_for(timeout=60_000)
        ask(page, "Who is the minister of internal affairs?")
        open_sources(page)
        assert page.evaluate("() => document.querySelector('.dark') !== null")  # Gradio followed the system
        colour = "sel => getComputedStyle(document.querySelector(sel)).color"
        # Gradio rewrites custom CSS selector by selector: a comma list kept ".dark" on its first selector only
        assert page.evaluate(colour, "#qa-chat .qa-legend") == "rgb(209, 213, 219)"
        assert page.evaluate(colour, "#qa-chat .qa-scores") == "rgb(163, 170, 181)"
    finally:
        page.close()


def test_on_a_phone_with_its_keyboard_open_the_answer_is_brought_on_screen(chromium: Any,
                                                                         chat_server: ChatServer) -> None:
    from tests.ui.chatserver import open_chat

    p = open_chat(chromium, chat_server.url, width=390, height=500)  # the window a phone's keyboard leaves
    try:
        p.locator("#qa-threshold").scroll_into_view_if_needed()  # the user went down to the settings first
        ask(p, "Who is the minister of internal affairs?")
        p.wait_for_timeout(300)
        top = p.evaluate("""() => {
            const rows = document.querySelectorAll('#qa-chat .message-row.user-row');
            return rows[rows.length - 1].getBoundingClientRect().top;
        }""")
        assert 0 <= top <= 100, f"the question is at {top} px in a 500 px window"
    finally:
        p.close()
