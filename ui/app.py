"""The web chat: a Gradio app over the ``qa`` library.

The index is loaded once, in :func:`serve` (built first if needed); the handlers only call the library and
render its result (:mod:`ui.render`). One :class:`ChatService` is shared by every session: questions read
the current index without a lock (an :class:`qa.Index` is not modified once built), and an upload builds a
new index next to it, then swaps the reference under a lock, so a question sees the old index or the new
one, never half of an update.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import math
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local tool

import qa  # noqa: E402
from qa.api import DEFAULT_DOCS  # noqa: E402
from qa.display import clip, shows_nothing, visible_name  # noqa: E402
from qa.documents import SUPPORTED_KINDS, SUPPORTED_SUFFIXES  # noqa: E402
from qa.errors import QAError  # noqa: E402
from qa.files import sha256_file  # noqa: E402
from qa.followup import is_turn  # noqa: E402
from qa.index import Index, update_index  # noqa: E402
from qa.logs import warnings_during  # noqa: E402

from . import render  # noqa: E402

logger = logging.getLogger("ui")

MAX_K = 10
CHAT_TOP_N = 3  # the best answer, and up to two others under "Other possible answers"
CONCURRENCY = 16  # questions answered at once (each is short; the index is shared read-only)
UPLOAD_LIMIT = "20mb"
EMPTY_QUESTION = ("Type a question about the documents, for example: "
                  "“Who is the minister of internal affairs?”")
SEED_EXAMPLES = [
    "Who is the minister of internal affairs?",
    "How many Russians entered Kazakhstan after the mobilisation?",
    "Who is the president of Kazakhstan?",
]

PAGE_JS = (Path(__file__).parent / "page.js").read_text(encoding="utf-8")  # scrolling to each new reply

CSS = """
#qa-chat .qa-answer-text { font-size: 1.06em; margin: 0 0 .55em 0; line-height: 1.45; }
#qa-chat .qa-answer-text strong { font-weight: 700; }
.qa-ref { color: var(--color-accent); font-weight: 600; font-size: .9em; }
ol.qa-citations, ol.qa-nearest, ol.qa-hits, ol.qa-alternatives { list-style: none; padding-left: 0;
  margin: .3em 0; }
.qa-citation, .qa-hit, ol.qa-nearest > li { margin: .45em 0 .8em 0; }
.qa-cite-head { font-size: .9em; }
.qa-doc { font-family: var(--font-mono); font-weight: 600; font-size: .95em; }
.qa-where, .qa-muted, .qa-rank, .qa-query { color: #6b7280; }
.qa-scores { font-family: var(--font-mono); font-size: .85em; color: #6b7280; margin-top: .1em; }
blockquote.qa-passage { margin: .35em 0 0 0; padding: .4em .85em; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 0 6px 6px 0; line-height: 1.55;
  font-size: .95em; }
mark { background: #fde68a; color: #111827; padding: .05em .15em; border-radius: 3px;
  box-decoration-break: clone; -webkit-box-decoration-break: clone; }
.qa-meta { font-size: .85em; margin: .5em 0 0 0; }
.qa-confidence { padding: .05em .55em; border-radius: 999px; border: 1px solid currentColor; }
.qa-high { color: #15803d; } .qa-medium { color: #a16207; } .qa-low { color: #6b7280; }
.qa-withheld { color: #b91c1c; }
.dark .qa-high { color: #4ade80; } .dark .qa-medium { color: #facc15; } .dark .qa-low { color: #9ca3af; }
.dark .qa-withheld { color: #f87171; }
.qa-notice { color: #4b5563; }
.qa-notice.qa-error { color: #b91c1c; }
#qa-chat .message-wrap .prose.chatbot.md { opacity: 1; }  /* Gradio dims every message to .8: 3:1 greys */
.qa-sources { font-size: 14px; }
.qa-query { margin: 0 0 .4em 0; }
.qa-docs ul { list-style: none; padding-left: 0; margin: .3em 0; }
.qa-docs li { margin: .45em 0; font-size: .9em; line-height: 1.35; }
.qa-legend { font-size: .85em; color: #4b5563; margin-top: .6em; }
.qa-scope { font-size: .9em; color: #4b5563; margin: .3em 0; }
.qa-docs .qa-muted { font-size: .92em; }
#qa-status { font-size: .9em; }
#qa-chat .message-row.bot-row:has(+ .message-row.bot-row) { padding-bottom: 2px; }
#qa-chat .message-row.bot-row + .message-row.bot-row { padding-top: 2px; }
.qa-pending { color: #4b5563; font-style: italic; }
.qa-pending::after { content: ""; display: inline-block; width: .7em; height: .7em; margin-left: .5em;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%;
  animation: qa-spin .8s linear infinite; vertical-align: -0.05em; }
@keyframes qa-spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .qa-pending::after { animation: none; } }
details.qa-more { margin-top: .5em; border-top: 1px solid var(--border-color-primary); }
details.qa-more > summary { display: flex; align-items: baseline; gap: .45em; min-height: 44px;
  box-sizing: border-box; padding: .75em 0 .5em 0; cursor: pointer; font-weight: 600; font-size: .92em;
  list-style: none; border-radius: 4px; }
details.qa-more > summary::-webkit-details-marker { display: none; }
details.qa-more > summary::before { content: "▸" / ""; display: inline-block; width: 1em; text-align: center;
  transition: transform .15s; }  /* "/ ''": the marker is not read out as part of the name */
details.qa-more[open] > summary::before { transform: rotate(90deg); }
details.qa-more > summary:focus-visible { outline: 2px solid var(--color-accent); outline-offset: 1px; }
details.qa-more > :not(summary) { padding-bottom: .4em; }
.qa-confidence, .qa-threshold-note { white-space: nowrap; }
.qa-threshold-note { color: #6b7280; margin-left: .2em; }
.qa-sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%);
  white-space: nowrap; user-select: none; }  /* read out, not shown, not copied */
#qa-k input[type=range]:focus-visible, #qa-threshold input[type=range]:focus-visible {
  outline: 2px solid var(--color-accent); outline-offset: 3px; }
#qa-ask, #qa-clear { min-height: 44px; }
#qa-chat button[aria-label="Clear"] { display: none; }  /* Gradio's bin: the New chat button does that */
#qa-head h1 { font-size: 1.5em; margin: 0 0 .2em 0; }
/* dark mode: one rule per selector (Gradio keeps .dark in front of only the first of a list) */
.dark .qa-where { color: #a3aab5; }
.dark .qa-muted { color: #a3aab5; }
.dark .qa-rank { color: #a3aab5; }
.dark .qa-query { color: #a3aab5; }
.dark .qa-scores { color: #a3aab5; }
.dark .qa-threshold-note { color: #a3aab5; }
.dark .qa-notice { color: #d1d5db; }
.dark .qa-legend { color: #d1d5db; }
.dark .qa-scope { color: #d1d5db; }
.dark .qa-pending { color: #d1d5db; }
.dark .qa-notice.qa-error { color: #f87171; }
@media (max-width: 640px) { #qa-question textarea { font-size: 16px; } }  /* iOS zooms in on smaller text */
@media (prefers-reduced-motion: reduce) { details.qa-more > summary::before { transition: none; } }
"""


class ChatService:
    """The state every session shares: the current index, and the lock that serialises document uploads."""

    def __init__(self, index: Index, docs_folder: str | Path | None = None) -> None:
        self._index = index
        self._update_lock = threading.Lock()
        folder = docs_folder if docs_folder is not None else index.docs_folder
        self.docs_folder = Path(folder).resolve() if folder is not None else None

    @property
    def index(self) -> Index:
        """The current index. Take it once per question: a later upload swaps in a new object."""
        return self._index

    # -- questions -------------------------------------------------------------------------------------
    def ask(self, question: str, history: Sequence[Any] | None = None, k: int = 5,
            threshold: float | None = None, index: Index | None = None, only: Sequence[str] | None = None,
            top_n: int = 1) -> qa.Answer:
        """``qa.answer`` over the current (or the given) index; ``only`` limits it to some documents."""
        return qa.answer(question, index=index or self._index, history=history, k=int(k), threshold=threshold,
                         only=list(only) if only else None, top_n=top_n)

    def doc_ids(self) -> list[str]:
        return [d.doc_id for d in self._index.documents]

    def resolve_scope(self, only: Sequence[str] | None) -> list[str]:
        """"Ask only about" as ``qa.answer(only=...)`` takes it: each entry a document id or a pattern of ids,
        kept as it is; else, typed text found in documents' titles (any case, the whole title) stands for
        those documents; else it is kept, and ``qa.answer`` says that no document matches it."""
        out: list[str] = []
        ids = [d.doc_id for d in self._index.documents]
        for entry in only or ():
            entry = str(entry)
            if entry in self._index.doc_by_id or any(fnmatch.fnmatchcase(i, entry) for i in ids):
                out.append(entry)
                continue
            words = " ".join(entry.split()).casefold()
            titled = [d.doc_id for d in self._index.documents
                      if words and words in " ".join((d.title or "").split()).casefold()]
            out.extend(titled or [entry])
        return list(dict.fromkeys(out))

    def scope_choices(self, title_chars: int = 40) -> list[tuple[str, str]]:
        """"Ask only about"'s choices: (what the list shows, the document id). The id comes first, as every
        citation names it, then the title, as ids are often file names that say little (``000_db4c….txt``);
        typing filters on either (and typed words of a title, entered, stand for its documents:
        :meth:`resolve_scope`)."""
        choices = []
        for d in self._index.documents:
            title = clip(" ".join((d.title or "").split()), title_chars)
            choices.append((f"{visible_name(d.doc_id)} — {title}" if title else visible_name(d.doc_id), d.doc_id))
        return choices

    # -- documents -------------------------------------------------------------------------------------
    def documents(self) -> list[dict[str, Any]]:
        """The indexed documents: id, title and length in characters."""
        return [{"doc_id": d.doc_id, "title": d.title, "chars": len(d.text)} for d in self._index.documents]

    def documents_html(self) -> str:
        folder = None
        if self.docs_folder is not None:
            try:
                folder = self.docs_folder.relative_to(Path.cwd().resolve()).as_posix()
            except ValueError:
                folder = str(self.docs_folder)
        return render.render_documents(self.documents(), folder=folder)

    def add_files(self, paths: Iterable[str | Path]) -> tuple[list[str], list[str]]:
        """Copy files into the documents folder (under a new name if the name is taken) and update the index.

        Returns ``(added document ids, one-line problems)``. The new index is built beside the current one
        and swapped in whole; questions asked meanwhile are answered from the current one.
        """
        chosen = [Path(p) for p in paths if p]
        if self.docs_folder is None:
            return [], ["this index has no documents folder, so documents cannot be added"]
        problems: list[str] = []
        with self._update_lock:
            saved: list[str] = []
            known = {d.sha256: d.doc_id for d in self._index.documents}
            for p in chosen:
                name = p.name
                if p.suffix.lower() not in SUPPORTED_SUFFIXES:
                    problems.append(f"{name}: not added (only {SUPPORTED_KINDS} files can be indexed)")
                    continue
                try:
                    digest = sha256_file(p)
                except OSError as exc:
                    problems.append(f"{name}: could not be read ({exc.strerror or exc})")
                    continue
                if digest in known:
                    problems.append(f"{name}: not added, the same file is already indexed as {known[digest]}")
                    continue
                known[digest] = name
                dest = None
                try:
                    dest = unique_destination(self.docs_folder, name)
                    shutil.copyfile(p, dest)
                except OSError as exc:
                    if dest is not None:
                        dest.unlink(missing_ok=True)
                    problems.append(f"{name}: could not be saved ({exc.strerror or exc})")
                    continue
                saved.append(dest.relative_to(self.docs_folder).as_posix())
            if not saved:
                return [], problems
            old = self._index
            try:
                path = old.path or Path("embeddings") / self.docs_folder.name
                with warnings_during() as warned:
                    new = update_index(old, self.docs_folder, path, old.embedder, old.config, progress=False,
                                       save=True)
                new.warm_up()
            except Exception as exc:  # leave the folder as the index knows it, and say why in one line
                for d in saved:
                    (self.docs_folder / d).unlink(missing_ok=True)
                if not isinstance(exc, QAError):
                    logger.exception("indexing the uploaded files failed")
                why = " ".join(str(exc).split()) or exc.__class__.__name__
                return [], [*problems, f"not added: indexing failed ({why})"]
            self._index = new  # one reference assignment: questions see the old index or the new one
            for d in saved:  # a file with no text to index is not kept: it would only be warned about again
                if d not in new.doc_by_id:
                    (self.docs_folder / d).unlink(missing_ok=True)
        added = [d for d in saved if d in new.doc_by_id]
        # what reading the new files warned about ("read as Windows-1252", "no text"), each once
        problems += list(dict.fromkeys(w for w in warned if any(w.startswith(f"{d}: ") for d in saved)))
        problems += [f"{d}: not added, it has no text to index" for d in saved if d not in new.doc_by_id
                     and not any(w.startswith(f"{d}: ") for w in warned)]
        return added, problems


_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def safe_name(name: str) -> str:
    """A plain file name from an uploaded one: no folders, no leading dots, no odd characters."""
    base = Path(name.replace("\\", "/")).name
    base = _UNSAFE_NAME.sub("_", base).strip(" .") or "document"
    return base.lstrip(".") or "document"


def unique_destination(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem-2.ext``, ``-3``… when the name is taken: never overwrites a file."""
    name = safe_name(name)
    stem, suffix = Path(name).stem, Path(name).suffix
    dest = folder / name
    n = 2
    while dest.exists():
        dest = folder / f"{stem}-{n}{suffix}"
        n += 1
    # Claim the name atomically, so two uploads of the same name cannot pick it both.
    while True:
        try:
            fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            os.close(fd)
            return dest
        except FileExistsError:
            dest = folder / f"{stem}-{n}{suffix}"
            n += 1


def parse_history(history: Any) -> list[Any]:
    """History as the API takes it: a list (of questions, or of ``{"question", "answer"}``), or that list as
    JSON text, or a single earlier question as plain text."""
    if history is None or history == "":
        return []
    if isinstance(history, str):
        text = history.strip()
        if text[:1] in "[{":
            try:
                history = json.loads(text)
            except json.JSONDecodeError as exc:
                raise QAError(f"history is not valid JSON ({exc.msg} at character {exc.pos})") from exc
        else:
            return [text]
    if isinstance(history, dict):
        history = [history]
    if not isinstance(history, list) or not all(is_turn(t) for t in history):
        raise QAError("history must be a list of earlier questions or of {\"question\", \"answer\"} objects "
                      "(text; the answer may be left out)")
    return history


def _clamp_k(k: Any) -> int:
    try:
        return max(1, min(MAX_K, math.floor(float(k) + 0.5)))  # rounded half up, as the page's slider rounds
    except (TypeError, ValueError):
        return 5


def default_threshold(index: Index) -> float:
    """The no-answer threshold ``qa.answer`` uses when given none: the configured one, else the one fitted
    with the confidence calibration."""
    configured = index.config.no_answer_threshold
    if configured is not None:
        return float(configured)
    from qa.answering import Answerer
    from qa.api import get_reader

    return float(getattr(Answerer(index, reader=get_reader(None, index.config)), "default_threshold", 0.5))


KEEP = object()  # a value step: leave the question box as it is (the user may be typing the next question)

# Run in the page as a question is sent (before the server sees it): empties the question box at once, so
# that the next question can be typed while this one is answered, and the answer does not wipe it.
CLEAR_ON_SEND = """(message, ...rest) => {
  const box = document.querySelector("#qa-question textarea");
  if (box && String(message || "").trim()) {
    box.value = "";
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }
  return [message, ...rest];
}"""


# Run in the page as "New chat" is pressed: the question box gets the focus, to type the first question in.
FOCUS_BOX = """() => { document.querySelector("#qa-question textarea")?.focus(); }"""


def question_problem(question: str, max_chars: int) -> str | None:
    """Why the chat will not send ``question`` (already stripped), in words for the person typing; else None."""
    n = len(" ".join(question.split()))
    if n > max_chars:
        return (f"Questions can be at most {max_chars:,} characters; this one has {n:,}. "
                "Shorten it and ask again.")
    return None


def message_text(message: Any) -> str:
    """A chat message's text, as the page sends it back (its content a list of text blocks) or as it was
    made (a string)."""
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return content if isinstance(content, str) else ""


def sentence_case(line: str) -> str:
    """A library error as the chat shows it: its first word capitalised when it is a plain lower-case word
    ("no indexed document matches …"), never a file name ("notes.txt: …")."""
    return line[:1].upper() + line[1:] if re.match(r"[a-z]+ ", line) else line


def respond_steps(service: ChatService, message: str, chat: list | None, turns: list | None, k: Any = 5,
                  threshold: Any = None, only: Sequence[str] | None = None, top_n: int = CHAT_TOP_N
                  ) -> Iterator[tuple[Any, list, list]]:
    """The chat's message handler, in two steps of (question box value or :data:`KEEP`, chat messages,
    conversation turns): the question joins the conversation at once, with "Searching the documents…" under
    it; then the answer replaces that. Neither step touches the box, which the page empties as it sends
    (:data:`CLEAR_ON_SEND`), so what is typed meanwhile is kept. A question too long to send is put back in
    the box; bad input and errors become a one-line message in the chat."""
    chat = list(chat or [])
    turns = list(turns or [])
    question = (message or "").strip()
    if shows_nothing(question):  # nothing typed, or only characters that show as nothing
        notice = render.notice_message(EMPTY_QUESTION)
        repeated = bool(chat) and message_text(chat[-1]) == notice["content"]  # once, however often sent
        yield "", chat if repeated else [*chat, notice], turns
        return
    idx = service.index  # one snapshot for the whole answer, even if an upload swaps the index meanwhile
    problem = question_problem(question, idx.config.max_question_chars)
    if problem:
        yield message, [*chat, render.notice_message(problem, "error")], turns
        return
    asked = [*chat, render.question_message(question)]
    yield KEEP, [*asked, render.pending_message()], turns  # the page emptied the box as it sent the question
    thr = None if threshold is None else float(threshold)
    only = service.resolve_scope(only) or None  # words of a title typed under "Ask only about": its documents
    try:
        a = service.ask(question, history=render.history_from_turns(turns), k=_clamp_k(k), threshold=thr,
                        index=idx, only=only or None, top_n=top_n)
    except QAError as exc:
        yield KEEP, [*asked, render.notice_message(sentence_case(str(exc)), "error")], turns
        return
    except Exception as exc:  # a bug: logged in full on the server, one line in the chat
        logger.exception("answering %r failed", question)
        line = f"Something went wrong while answering ({exc.__class__.__name__}); the server log has details."
        yield KEEP, [*asked, render.notice_message(line, "error")], turns
        return

    def doc_text(doc_id: str) -> str | None:
        doc = idx.doc_by_id.get(doc_id)
        return doc.text if doc else None

    titles = {d.doc_id: d.title for d in idx.documents}
    shown_threshold = thr if thr is not None else default_threshold(idx)
    msgs = render.answer_messages(a, docs=doc_text, titles=titles, threshold=shown_threshold, scope=only or None)
    turn = {"question": question, "answer": a.text or ""}
    if a.withheld is not None:  # what a follow-up may refer to, as qa.answer reads a withheld turn of history
        turn["guess"] = a.withheld.quote
    yield KEEP, [*asked, *msgs], [*turns, turn]


def respond(service: ChatService, message: str, chat: list | None, turns: list | None, k: Any = 5,
            threshold: Any = None, only: Sequence[str] | None = None, top_n: int = CHAT_TOP_N
            ) -> tuple[str, list, list]:
    """:func:`respond_steps` run to its end: (question box value, chat messages, conversation turns). The box
    value is what the page shows at the end: empty (as it was sent) unless a step put the question back."""
    steps = list(respond_steps(service, message, chat, turns, k, threshold, only, top_n))
    box = next((value for value, _, _ in reversed(steps) if value is not KEEP), "")
    return box, steps[-1][1], steps[-1][2]


def upload(service: ChatService, files: list[str] | str | None,
           notify: Callable[[str, str], None] | None = None) -> tuple[str, str]:
    """The upload handler: add the files, then (status HTML, documents panel HTML). ``notify(line, kind)``, if
    given, is called for each line of the status too (the page shows them as toasts, in view wherever the
    status is scrolled to)."""
    files = [files] if isinstance(files, str) else list(files or [])
    if not files:
        return "", service.documents_html()
    added, problems = service.add_files(files)
    lines = [f"Added and indexed: {', '.join(added)}."] if added else []
    lines += problems
    kind = "error" if problems and not added else "info"
    if notify is not None:
        for line in lines:
            notify(line, "warning" if line in problems else "info")
    status = "".join(render.notice_message(line, kind)["content"] for line in lines)
    return status, service.documents_html()


def _number(name: str, value: Any, cast: type) -> Any:
    """An API argument as ``cast`` (int or float), or a one-line :class:`QAError` naming it."""
    try:
        return cast(value)
    except (TypeError, ValueError) as exc:
        raise QAError(f"{name} must be a number, got {value!r}") from exc


def api_ask(service: ChatService, question: str, history: Any = None, k: Any = 5, threshold: Any = None,
            only: Any = None, top_n: Any = 1) -> dict:
    """The ``/ask`` endpoint: ``Answer.to_dict()`` for a question and its history (QAError on bad input)."""
    only = [only] if isinstance(only, str) and only else list(only or [])
    a = service.ask(question, history=parse_history(history), k=_clamp_k(k),
                    threshold=None if threshold is None else _number("threshold", threshold, float), only=only,
                    top_n=max(1, min(MAX_K, _number("top_n", top_n or 1, int))))
    return a.to_dict()


def build_app(index: Index | ChatService, docs_folder: str | Path | None = None,
              examples: Sequence[str] | None = None, title: str = "Ask the documents") -> Any:
    """The Gradio app (a ``gr.Blocks``) over an index that is already loaded.

    The chat keeps each session's conversation in its own state and passes it to ``qa.answer`` as
    ``history``. ``/ask`` is the API endpoint for programs (``gradio_client``): question, optional history,
    ``k``, ``threshold`` in; ``Answer.to_dict()`` out.
    """
    import gradio as gr

    service = index if isinstance(index, ChatService) else ChatService(index, docs_folder)
    threshold_value = default_threshold(service.index)

    def on_submit(message: str, chat: list | None, turns: list | None, k: float, threshold: float,
                  only: list[str] | None) -> Iterator[tuple[Any, Any, Any, Any]]:
        # Ask is disabled until the answer is in: a question sent meanwhile is not taken (the page would read
        # the box only when the answer came, by when it may hold something else), and the text stays in the box
        busy = gr.update(interactive=False)
        for value, messages, conversation in respond_steps(service, message, chat, turns, k, threshold, only):
            yield (gr.skip() if value is KEEP else value), messages, conversation, busy
        yield gr.skip(), gr.skip(), gr.skip(), gr.update(interactive=True)

    def on_example(chat: list | None, turns: list | None, k: float, threshold: float, only: list[str] | None,
                   evt: gr.SelectData) -> Iterator[tuple[Any, Any, Any, Any]]:
        """An example question clicked in the empty conversation: asked at once, as if typed and sent."""
        message = evt.value.get("text", "") if isinstance(evt.value, dict) else str(evt.value or "")
        yield from on_submit(message, chat, turns, k, threshold, only)

    # Gradio passes the clicked example to a parameter annotated with its SelectData, which it looks up as an
    # object (the string annotations of this module name ``gr``, imported in this function, not the module)
    on_example.__annotations__["evt"] = gr.SelectData

    def toast(line: str, kind: str) -> None:
        (gr.Info if kind == "info" else gr.Warning)(line)

    def on_upload(files: list[str] | str | None) -> Iterator[tuple[Any, Any, Any, Any]]:
        names = [Path(f).name for f in ([files] if isinstance(files, str) else files or [])]
        if names:  # indexing takes seconds (the model embeds every passage): say so while it runs
            yield (render.notice_message(f"Indexing {', '.join(names)}…")["content"], gr.skip(), gr.skip(),
                   gr.skip())
        status, panel = upload(service, files, notify=toast)
        yield status, panel, None, gr.update(choices=service.scope_choices())

    def ask(question: str, history: str | list | None = None, k: int = 5, threshold: float | None = None,
            only: list[str] | None = None, top_n: int = 1) -> dict:
        """Answer a question from the documents. history: earlier questions (a list, or a JSON list of
        strings or of {"question", "answer"} objects); only: document ids or globs to limit the question to;
        top_n: up to this many distinct answers. Returns the answer as a dict (qa.Answer.to_dict())."""
        try:
            return api_ask(service, question, history, k, threshold, only, top_n)
        except QAError as exc:
            raise gr.Error(" ".join(str(exc).split()), print_exception=False) from exc

    def documents() -> list[dict]:
        """The indexed documents: id, title and length in characters."""
        return service.documents()

    with gr.Blocks(title=title, fill_height=True) as demo:
        turns = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                gr.Markdown(f"# {title}\nAnswers are words quoted from the documents, with where they "
                            "come from: the quoted span is <mark>highlighted</mark> in its passage.",
                            elem_id="qa-head")
                chatbot = gr.Chatbot(
                    elem_id="qa-chat", label="Conversation", height="calc(100vh - 290px)", min_height=440,
                    layout="panel",
                    sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
                    autoscroll=False,  # ui/page.js scrolls to the start of each new reply instead
                    feedback_options=None, buttons=[], group_consecutive_messages=False, show_label=False,
                    placeholder="Ask a question about the documents. Follow-up questions "
                                "(“What did he say about…”) refer back to the conversation.",
                    examples=[{"text": e} for e in examples] if examples else None,  # a click asks it
                )
                with gr.Row():
                    box = gr.Textbox(elem_id="qa-question", placeholder="Ask a question…",
                                     label="Question", show_label=False, scale=5, autofocus=True, max_lines=4,
                                     submit_btn=False)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="qa-ask")
                    new_chat = gr.Button("New chat", scale=1, min_width=80, elem_id="qa-clear")
            with gr.Column(scale=1, min_width=260):
                scope = gr.Dropdown(choices=service.scope_choices(), value=[], multiselect=True,
                                    allow_custom_value=True, label="Ask only about",
                                    info="documents to search (none chosen: all); a pattern such as "
                                         "reports/*.pdf, or words of a title, typed and Enter, work too",
                                    elem_id="qa-scope")
                with gr.Accordion("Settings", open=True):
                    k = gr.Slider(1, MAX_K, value=5, step=1, label="Passages shown", elem_id="qa-k")
                    threshold = gr.Slider(0.0, 1.0, value=threshold_value, step=0.01,
                                          label="No-answer threshold",
                                          info="answers less confident than this are withheld",
                                          elem_id="qa-threshold")
                with gr.Accordion("Documents", open=True):
                    docs_panel = gr.HTML(service.documents_html(), elem_id="qa-docs")
                    if service.docs_folder is not None:
                        files = gr.File(label="Add documents (.txt, .md, .html, .pdf, .docx)",
                                        file_count="multiple",
                                        file_types=sorted(SUPPORTED_SUFFIXES), type="filepath",
                                        elem_id="qa-upload", height=150)
                        status = gr.HTML("", elem_id="qa-status")
                        files.upload(on_upload, [files], [status, docs_panel, files, scope],
                                     api_visibility="private", concurrency_limit=1, concurrency_id="upload")

        # One listener for Enter and the button, so that neither sends again while an answer is pending; the
        # progress shows on the conversation, leaving the box free to type the next question in.
        gr.on([box.submit, send.click], on_submit, inputs=[box, chatbot, turns, k, threshold, scope],
              outputs=[box, chatbot, turns, send], api_visibility="private", show_progress_on=[chatbot],
              js=CLEAR_ON_SEND)
        chatbot.example_select(on_example, inputs=[chatbot, turns, k, threshold, scope],
                               outputs=[box, chatbot, turns, send], api_visibility="private",
                               show_progress_on=[chatbot])
        new_chat.click(lambda: ([], [], ""), None, [chatbot, turns, box], api_visibility="private", js=FOCUS_BOX)
        chatbot.clear(lambda: [], None, [turns], api_visibility="private")
        gr.api(ask, api_name="ask")
        gr.api(documents, api_name="documents")
        demo.load(lambda: (service.documents_html(), gr.update(choices=service.scope_choices())), None,
                  [docs_panel, scope], api_visibility="private")
    demo.queue(default_concurrency_limit=CONCURRENCY)
    return demo


def theme() -> Any:
    """Gradio's default theme with its packaged fonts in every weight used (no font is fetched online)."""
    import gradio as gr

    fonts = gr.themes.LocalFont
    return gr.themes.Default(
        primary_hue="blue",
        font=[fonts("Source Sans Pro", weights=(400, 700)), "ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=[fonts("IBM Plex Mono", weights=(400, 600)), "ui-monospace", "monospace"],
    ).set(  # contrast: Gradio's defaults give help text 2.5:1 on white and a focus ring that barely shows
        body_text_color_subdued="*neutral_600",  # help text, a slider's bounds: 7.6:1
        button_primary_background_fill="*primary_600",  # white on it: 5.2:1 (on primary_500: 3.7:1)
        button_primary_background_fill_hover="*primary_700",
        input_border_color_focus="*primary_600",
        input_shadow_focus="0 0 0 2px *primary_200",
    )


def resolve_docs(docs: str | Path | None) -> Path:
    """The documents folder: the one given, or ``seeds/`` under the current directory."""
    return Path(docs if docs is not None else DEFAULT_DOCS)


def load_for_chat(docs: str | Path | None = None, index_dir: str | Path | None = None,
                  model: str | None = None, progress: bool = True) -> Index:
    """Load (building or updating first if needed) the index the chat serves, and warm it up."""
    import sys

    config = qa.Config.from_env(model=model)
    folder = resolve_docs(docs)
    if docs is None and index_dir is not None and not folder.is_dir():
        index = qa.load_index(docs=None, index_dir=index_dir, config=config, progress=progress)
    else:
        print(f"Loading the index of {folder} (building it first if needed)…", file=sys.stderr, flush=True)
        index = qa.load_index(docs=folder, index_dir=index_dir, config=config, progress=progress)
    print(f"Loading the model ({index.embedder.model_id})…", file=sys.stderr, flush=True)
    index.warm_up()
    return index


def serve(docs: str | Path | None = None, index_dir: str | Path | None = None, model: str | None = None,
          host: str = "127.0.0.1", port: int = 7860, block: bool = True) -> Any:
    """Start the chat on ``http://host:port`` (blocking unless ``block=False``; then returns the app)."""
    import sys

    check_port(host, port)  # before the slow part, so a taken port is reported at once
    index = load_for_chat(docs, index_dir, model, progress=sys.stderr.isatty())
    folder = index.docs_folder
    is_seeds = folder is not None and Path(folder).resolve() == Path(DEFAULT_DOCS).resolve()
    demo = build_app(index, examples=SEED_EXAMPLES if is_seeds else None)
    demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, quiet=True, show_error=False,
                max_file_size=UPLOAD_LIMIT, footer_links=["api"], css=CSS, js=PAGE_JS, theme=theme(),
                ssr_mode=False)
    print(f"{len(index.documents)} documents, {len(index)} passages. Chat at http://{host}:{port} "
          "(Ctrl+C to stop)", file=sys.stderr, flush=True)
    if block:
        demo.block_thread()
    return demo


def check_port(host: str, port: int) -> None:
    """A :class:`qa.QAError` when ``host:port`` cannot be listened on (taken, or not an address here)."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, port))
    except OSError as exc:
        raise QAError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another with --port"
                      ) from exc
