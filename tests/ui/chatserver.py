"""Tooling shared by the chat's tests and the screenshot script: start ``qa chat`` as a subprocess on a free
port, wait until it answers, drive it with Python Playwright in Debian's Chromium, stop it.

Never runs ``playwright install``: the browser is the system's ``/usr/bin/chromium`` (``QA_CHROMIUM``
overrides the path).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
START_TIMEOUT = 300.0  # building the index of seeds/ and loading the model, on a slow CI machine
ANSWER_TIMEOUT = 120.0

# A document whose text is hostile: HTML and Markdown that would run script if it were not escaped.
HOSTILE_NAME = "harbour-notes.txt"
HOSTILE_SCRIPT = "<script>window.__pwned=1</script>"
HOSTILE_IMG = '<img src=x onerror="window.__pwned=1">'
HOSTILE_TEXT = (
    'Harbour Notes <img src=y onerror="window.__pwned=2"> ${window.__pwned=3}\n\n'
    f"The lighthouse keeper of Port Aldous is Miriam Okafor, who wrote {HOSTILE_SCRIPT} in the margin of the "
    f"keeper's log. The old lamp room {HOSTILE_IMG} was restored in 1887. Readers who click "
    "[the harbour map](javascript:window.__pwned=4) or see **bold** and $x$ and "
    '<a href="javascript:window.__pwned=5">a link</a> see only text.\n'
)
HOSTILE_QUESTION = "Who is the lighthouse keeper of Port Aldous?"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chat_env() -> dict[str, str]:
    """The environment of the server: offline, no ``QA_*`` settings, the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
               PYTHONPATH=str(REPO), PYTHONIOENCODING="utf-8", TOKENIZERS_PARALLELISM="false")
    return env


def copy_seeds(dest: Path, hostile: bool = True) -> Path:
    """``dest`` filled with a copy of ``seeds/`` (plus the hostile document, by default)."""
    dest.mkdir(parents=True, exist_ok=True)
    for f in sorted(SEEDS.iterdir()):
        if f.is_file():
            shutil.copyfile(f, dest / f.name)
    if hostile:
        (dest / HOSTILE_NAME).write_text(HOSTILE_TEXT, encoding="utf-8")
    return dest


@dataclass
class ChatServer:
    url: str
    port: int
    docs: Path
    index_dir: Path
    log: Path
    process: subprocess.Popen[bytes]

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "config", timeout=5) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def run_chat(docs: Path | None, index_dir: Path, log: Path, model: str | None = None,
             timeout: float = START_TIMEOUT, cwd: Path = REPO) -> Iterator[ChatServer]:
    """``qa chat --docs DOCS --index INDEX_DIR --port <free>`` as a subprocess in ``cwd`` (without ``--docs``
    when ``docs`` is None), up and answering; stopped on exit. Fails with the server's log when it exits or is
    not up within ``timeout`` seconds."""
    port = free_port()
    cmd = [sys.executable, "-m", "qa", "chat", *(["--docs", str(docs)] if docs is not None else []),
           "--index", str(index_dir), "--port", str(port), "--host", "127.0.0.1"]
    if model:
        cmd += ["--model", model]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=chat_env(), stdout=out, stderr=subprocess.STDOUT)
    server = ChatServer(f"http://127.0.0.1:{port}/", port, docs or cwd / "seeds", index_dir, log, proc)
    try:
        deadline = time.monotonic() + timeout
        while not _up(server.url):
            if proc.poll() is not None:
                raise RuntimeError(f"qa chat exited with {proc.returncode}:\n{server.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"qa chat not up after {timeout:.0f}s:\n{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=15)


def chromium_available() -> bool:
    return Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)


@contextlib.contextmanager
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Python Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


# -- driving the page -------------------------------------------------------------------------------------


def open_chat(b: Any, url: str, width: int = 1280, height: int = 900) -> Any:
    """A new page (its own session) with the chat loaded and the question box ready."""
    page = b.new_page(viewport={"width": width, "height": height})
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#qa-question textarea").wait_for(timeout=60_000)
    return page


def count(page: Any, selector: str) -> int:
    return int(page.locator(selector).count())


def ask(page: Any, question: str, timeout: float = ANSWER_TIMEOUT) -> Any:
    """Type a question, press Enter, wait for the reply; returns the locator of the reply's message."""
    replies = "#qa-chat .qa-answer, #qa-chat .qa-notice"
    before = count(page, replies)
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[replies, before],
        timeout=timeout * 1000)
    return page.locator(replies).nth(before)


def open_sources(page: Any) -> None:
    """Open the last answer's collapsed "Sources" section."""
    title = page.locator("#qa-chat").get_by_text("Sources (", exact=False).last
    title.click()
    page.locator("#qa-chat .qa-sources").last.wait_for(timeout=10_000)


def choose_scope(page: Any, doc_id: str) -> None:
    """Pick a document in the "Ask only about" multi-select."""
    box = page.locator("#qa-scope input").first
    box.click()
    box.fill(doc_id)
    page.get_by_role("option", name=doc_id).first.click()
    page.keyboard.press("Escape")
    page.locator("#qa-scope").get_by_text(doc_id).first.wait_for(timeout=10_000)


def set_threshold(page: Any, value: float) -> None:
    """Type a value into the no-answer threshold's number box."""
    box = page.locator("#qa-threshold input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def upload(page: Any, path: Path, timeout: float = 120) -> None:
    """Add a file through the page and wait until it is indexed."""
    page.locator("#qa-upload input[type=file]").set_input_files(str(path))
    page.locator("#qa-status").get_by_text("Added and indexed").wait_for(timeout=timeout * 1000)
