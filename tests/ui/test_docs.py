"""The chat's documentation: the API example in ``docs/chat.md`` runs as written; the screenshot is there."""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from tests.ui.chatserver import REPO, ChatServer

DOC = REPO / "docs" / "chat.md"


@pytest.mark.model
def test_api_example_in_the_docs_runs(chat_server: ChatServer) -> None:
    doc = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", doc, re.DOTALL)
    assert blocks, "docs/chat.md has no python example"
    code = blocks[0].replace("http://127.0.0.1:7860/", chat_server.url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/chat.md", "exec"), {"__name__": "docs_example"})  # noqa: S102
    printed = out.getvalue()
    assert "Marat Akhmetzhanov" in printed and "004_c959e5419f16b652.txt" in printed
    assert "no ground for extradition" in printed
    assert "{'004_c959e5419f16b652.txt'}" in printed  # the scoped call cites only the chosen document


def test_screenshot_is_there_and_linked() -> None:
    shot = REPO / "docs" / "screenshot-chat.png"
    assert shot.exists() and shot.stat().st_size > 20_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "screenshot-chat.png" in DOC.read_text(encoding="utf-8")
