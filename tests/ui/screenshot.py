"""Take the README's screenshot of the chat with the browser tests' tooling: a real ``qa chat`` over a copy of
``seeds/``, a question and its follow-up asked in headless Chromium, the "Sources" of the answer opened.

    HF_HUB_OFFLINE=1 python -m tests.ui.screenshot            # writes docs/screenshot-chat.png
    HF_HUB_OFFLINE=1 python -m tests.ui.screenshot --out x.png
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.ui.chatserver import REPO, SEEDS, ask, browser, open_chat, open_sources, run_chat

QUESTION = "Who is the minister of internal affairs?"
FOLLOW_UP = "What did he say about extradition?"


def take(out: Path, width: int = 1280, height: int = 1240, index_dir: Path | None = None) -> Path:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        # seeds/ itself (only read: nothing is uploaded), with the index in a temporary folder.
        with run_chat(SEEDS, index_dir or tmp / "index", tmp / "server.log") as server, browser() as b:
            page = open_chat(b, server.url, width=width, height=height)
            page.emulate_media(color_scheme="light")
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
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot-chat.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1240)
    parser.add_argument("--index", type=Path, default=None, help="index folder to use (default: a new one)")
    args = parser.parse_args()
    print(take(args.out, args.width, args.height, args.index))


if __name__ == "__main__":
    main()
