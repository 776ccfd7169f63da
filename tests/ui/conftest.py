"""Fixtures of the chat's tests: one ``qa chat`` server (real model) shared by the browser and concurrency
tests, and a headless Chromium.

The server serves a private copy of ``seeds/`` plus a hostile document, indexed at start-up into a temporary
folder (about 25 s on two cores, most of it loading the model).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui.chatserver import ChatServer, browser, chromium_available, copy_seeds, run_chat


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    """``qa chat --docs <copy of seeds + hostile doc> --index <tmp> --port <free>``, up and answering."""
    tmp = tmp_path_factory.mktemp("chat")
    docs = copy_seeds(tmp / "docs")
    with run_chat(docs, tmp / "index", tmp / "server.log") as server:
        yield server


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Python Playwright (skipped where it is missing, except in CI)."""
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI: apt-get install -y chromium")
        pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)")
    with browser() as b:
        yield b


@pytest.fixture
def page(chromium: Any, chat_server: ChatServer) -> Iterator[Any]:
    """A fresh page (its own chat session) with the chat loaded."""
    from tests.ui.chatserver import open_chat

    p = open_chat(chromium, chat_server.url)
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    p.page_errors = errors  # type: ignore[attr-defined]
    try:
        yield p
    finally:
        p.close()
