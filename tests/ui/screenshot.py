"""Take the README's screenshots of the chat with the browser tests' tooling, in headless Chromium:

* ``chat``: a real ``qa chat`` over ``seeds/``, a question and its follow-up, the "Sources" opened;
* ``pdf``: over a copy of ``seeds/`` with a PDF report built by ``tests/office.py``, the question limited to
  the PDF in "Ask only about", its answer cited with the page, the "Other possible answers" opened when there are any.

    HF_HUB_OFFLINE=1 python -m tests.ui.screenshot            # writes docs/screenshot-chat.png
    HF_HUB_OFFLINE=1 python -m tests.ui.screenshot --scenario pdf   # writes docs/screenshot-pdf.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.office import PAGES, make_pdf
from tests.ui.chatserver import (
    REPO,
    SEEDS,
    ask,
    browser,
    choose_scope,
    copy_seeds,
    open_chat,
    open_sources,
    run_chat,
)

QUESTION = "Who is the minister of internal affairs?"
FOLLOW_UP = "What did he say about extradition?"
PDF_NAME = "glassworks-report.pdf"
PDF_QUESTION = "How many bottles did the furnace at Hollow Ridge produce in March?"


def take(out: Path, width: int = 1280, height: int = 1240, index_dir: Path | None = None,
         scenario: str = "chat") -> Path:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        docs = SEEDS  # seeds/ itself (only read: nothing is uploaded), with the index in a temporary folder
        if scenario == "pdf":
            docs = copy_seeds(tmp / "docs", hostile=False)
            make_pdf(docs / PDF_NAME, PAGES)
        # the pdf scenario's chat runs in the temporary folder, so that the Documents panel names "docs", not
        # the temporary folder's full path
        cwd = tmp if scenario == "pdf" else REPO
        with run_chat(docs, index_dir or tmp / "index", tmp / "server.log", cwd=cwd) as server, browser() as b:
            page = open_chat(b, server.url, width=width, height=height)
            page.emulate_media(color_scheme="light")
            if scenario == "pdf":
                choose_scope(page, PDF_NAME)
                ask(page, PDF_QUESTION)
                others = page.locator("#qa-chat").get_by_text("Other possible answers (", exact=False)
                if others.count():
                    others.last.click()
                page.wait_for_timeout(400)
                page.evaluate("() => window.scrollTo(0, 0)")
            else:
                ask(page, QUESTION)
                ask(page, FOLLOW_UP)
                open_sources(page)
                page.wait_for_timeout(400)
                # Show the conversation from its first question down.
                page.evaluate("""() => {
                    const q = document.querySelector('#qa-chat .qa-question');
                    let el = q; while (el && el.scrollHeight <= el.clientHeight + 1) el = el.parentElement;
                    if (el) el.scrollTop = q.getBoundingClientRect().top - el.getBoundingClientRect().top
                                           + el.scrollTop - 12;
                }""")
            page.mouse.move(0, 0)
            page.wait_for_timeout(300)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["chat", "pdf"], default="chat")
    parser.add_argument("--out", type=Path, default=None, help="default: docs/screenshot-<scenario>.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1240)
    parser.add_argument("--index", type=Path, default=None, help="index folder to use (default: a new one)")
    args = parser.parse_args()
    out = args.out or REPO / "docs" / f"screenshot-{args.scenario}.png"
    print(take(out, args.width, args.height, args.index, args.scenario))


if __name__ == "__main__":
    main()
