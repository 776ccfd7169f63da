"""Pure functions that turn ``qa`` results into the HTML the chat shows. No Gradio, no index, no I/O.

Document text is untrusted. Everything taken from a document (or typed by a user) goes through
:func:`esc`, which turns it into inert text: HTML-escaped, with the characters Markdown gives a meaning
to written as numeric entities and line breaks as ``<br>``. The markup around it is ours. Each message is
one HTML block with no blank line in it, so the chat's Markdown renderer passes it through as HTML and
never re-reads document text as Markdown; the chat's own HTML sanitiser is a second line of defence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from qa.display import BIDI_CONTROLS, clip, code_point, visible_name

# Characters with a meaning in HTML or Markdown, written as numeric entities so neither parser acts on them.
_ENTITIES = {ord(ch): f"&#{ord(ch)};" for ch in "&<>\"'\\`*_[]{}()#+!|~$="}
_ENTITIES.update({ord("\r"): "", ord("\n"): "<br>", ord("\t"): " ", ord("\x00"): "\ufffd"})
#: Bidirectional embedding, override and isolate controls are shown as their code points, not obeyed: obeyed,
#: they can make the quoted text read otherwise than the characters it is ("Trojan Source").
_ENTITIES.update({cp: code_point(chr(cp)) for cp in BIDI_CONTROLS})

#: How much of the passage is shown on each side of the cited sentence (characters).
CONTEXT_CHARS = 320
#: How much of each retrieved passage the "Sources" section shows.
SOURCE_CHARS = 900
NO_ANSWER_TEXT = "The documents do not say."


def esc(text: object) -> str:
    """``text`` as inert HTML: escaped for HTML and Markdown alike; newlines become ``<br>``."""
    return str(text).translate(_ENTITIES)


DocText = Callable[[str], "str | None"]


def _doc_text_getter(docs: Mapping[str, str] | DocText | None) -> DocText:
    if docs is None:
        return lambda _doc_id: None
    if callable(docs):
        return docs
    return docs.get


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key: the renderers take ``qa`` result objects or their ``to_dict()`` form."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def where(citation: Any) -> str:
    """Where a citation points, in words: ``characters 1879–2021`` (and the page, when there are pages)."""
    page = _get(citation, "page")
    loc = f"characters {_get(citation, 'start')}–{_get(citation, 'end')}"
    return f"page {page}, {loc}" if page else loc


def _snap_left(text: str, pos: int, floor: int) -> int:
    """Move a cut point right to the next word start so a clipped context does not begin mid-word."""
    if pos <= floor:
        return floor
    nxt = text.find(" ", pos)
    return nxt + 1 if 0 <= nxt < pos + 30 else pos


def _snap_right(text: str, pos: int, ceiling: int) -> int:
    if pos >= ceiling:
        return ceiling
    prev = text.rfind(" ", pos - 30, pos)
    return prev if prev > 0 else pos


def marked_span(text: str, start: int, end: int, lo: int, hi: int, mark_class: str = "",
                bounds: tuple[int, int] | None = None) -> str:
    """``text[lo:hi]`` as inert HTML with ``text[start:end]`` wrapped in ``<mark>``; an ellipsis on each side
    where ``[lo, hi)`` cuts into ``bounds`` (default: the whole text).

    ``lo``/``hi`` are clipped to the text; the mark is clipped to ``[lo, hi)`` (and left out if outside it).
    """
    b0, b1 = bounds if bounds is not None else (0, len(text))
    lo, hi = max(0, lo), min(len(text), hi)
    start, end = max(start, lo), min(end, hi)
    cls = f' class="{mark_class}"' if mark_class else ""
    if start >= end:
        body = esc(text[lo:hi])
    else:
        body = f"{esc(text[lo:start])}<mark{cls}>{esc(text[start:end])}</mark>{esc(text[end:hi])}"
    return f"{'… ' if lo > b0 else ''}{body}{' …' if hi < b1 else ''}"


def cited_context(citation: Any, doc_text: str | None, context_chars: int = CONTEXT_CHARS) -> str:
    """The cited passage as inert HTML, the cited span in ``<mark>``: the whole sentence around it and up
    to ``context_chars`` of the passage on each side. Without the document text, only the quote is shown."""
    start, end = int(_get(citation, "start")), int(_get(citation, "end"))
    quote = _get(citation, "quote", "")
    if doc_text is None or doc_text[start:end] != quote:
        return f"<mark>{esc(quote)}</mark>"
    p0 = int(_get(citation, "passage_start", start))
    p1 = int(_get(citation, "passage_end", end))
    s0 = min(int(_get(citation, "sentence_start", start)), start)
    s1 = max(int(_get(citation, "sentence_end", end)), end)
    lo = _snap_left(doc_text, max(p0, s0 - context_chars), p0)
    hi = _snap_right(doc_text, min(p1, s1 + context_chars), p1)
    return marked_span(doc_text, start, end, lo, hi, bounds=(p0, p1))


def _confidence(conf: float, threshold: float | None) -> str:
    """The confidence badge: "high" from 0.7, "medium" from 0.45, else "low", and "withheld" under the
    threshold (the colours: green, amber, grey, red; an answer's level is in words too, not only colour)."""
    withheld = threshold is not None and conf < threshold
    level = "withheld" if withheld else "high" if conf >= 0.7 else "medium" if conf >= 0.45 else "low"
    word = "" if withheld else f" ({level})"
    # the threshold beside the badge, not in it: on a narrow screen it wraps to a line of its own
    thr = (f'<span class="qa-sr">,</span> <span class="qa-threshold-note">no-answer threshold {threshold:.2f}</span>'
           if threshold is not None else "")
    return (f'<span class="qa-confidence qa-{level}" title="calibrated probability that the answer is right">'
            f"confidence {conf:.2f}{word}</span>{thr}")


def _doc(doc_id: str, titles: Mapping[str, str] | None) -> str:
    """The document's name; its title (the HTML title, else the headline: qa.documents.plain_title) as a tooltip."""
    title = " ".join(((titles or {}).get(doc_id) or "").split())
    title = clip(title, 200)
    tip = f' title="{esc(title)}"' if title else ""
    return f'<span class="qa-doc"{tip}>{esc(visible_name(doc_id))}</span>'


def render_answer(answer: Any, docs: Mapping[str, str] | DocText | None = None,
                  titles: Mapping[str, str] | None = None, threshold: float | None = None,
                  nearest: int = 3, scope: Sequence[str] | None = None) -> str:
    """The answer message: the answer in bold with numbered citations, then each cited passage with the
    cited span in ``<mark>``, and the confidence. A no-answer says so and lists the nearest passages.

    ``answer`` is a :class:`qa.Answer` or its ``to_dict()``; ``docs`` maps document ids to their text (or is
    a function that does), used to show the sentence and passage around each citation. ``scope``: the
    documents the question was limited to ("Ask only about"), named under the answer or the no-answer.
    """
    doc_text = _doc_text_getter(docs)
    conf = float(_get(answer, "confidence", 0.0))
    if _get(answer, "no_answer") or not _get(answer, "text"):
        return render_no_answer(answer, titles=titles, threshold=threshold, nearest=nearest, scope=scope)
    citations = list(_get(answer, "citations", ()) or ())
    refs = " ".join(f'<span class="qa-ref">[{n}]</span>' for n in range(1, len(citations) + 1))
    parts = [f'<div class="qa-answer"><p class="qa-answer-text"><span class="qa-sr">Answer: </span>'
             f'<strong>{esc(_get(answer, "text"))}</strong>'
             f" {refs}</p>"]
    if citations:
        parts.append('<ol class="qa-citations">')
        for n, c in enumerate(citations, 1):
            doc_id = _get(c, "doc_id")
            parts.append(
                f'<li class="qa-citation"><div class="qa-cite-head"><span class="qa-ref">[{n}]</span> '
                f'{_doc(doc_id, titles)}, <span class="qa-where">{esc(where(c))}</span></div>'
                f'<blockquote class="qa-passage">{cited_context(c, doc_text(doc_id))}</blockquote></li>')
        parts.append("</ol>")
    parts.append(f'<p class="qa-meta">{_confidence(conf, threshold)}</p>{scope_line(scope)}</div>')
    return "".join(parts)


def _hit_line(hit: Any, titles: Mapping[str, str] | None) -> str:
    return (f'{_doc(_get(hit, "doc_id"), titles)}, '
            f'<span class="qa-where">characters {_get(hit, "start")}–{_get(hit, "end")}</span>')


def scope_line(scope: Sequence[str] | None) -> str:
    """Which documents a question was limited to, as a line of HTML ("" when it searched them all)."""
    if not scope:
        return ""
    names = ", ".join(_doc(s, None) for s in scope)
    return f'<p class="qa-scope">Searched only {names}, as chosen under “Ask only about”.</p>'


def render_no_answer(answer: Any, titles: Mapping[str, str] | None = None, threshold: float | None = None,
                     nearest: int = 3, snippet_chars: int = 280, scope: Sequence[str] | None = None) -> str:
    """A plain "the documents do not say", the confidence, the documents searched if not all, and the
    nearest passages."""
    conf = float(_get(answer, "confidence", 0.0))
    parts = ['<div class="qa-answer qa-no-answer">'
             f'<p class="qa-answer-text"><span class="qa-sr">Answer: </span><strong>{NO_ANSWER_TEXT}</strong></p>'
             f'<p class="qa-meta">No passage answers this question well enough: '
             f"{_confidence(conf, threshold)}</p>{scope_line(scope)}"]
    hits = list(_get(answer, "passages", ()) or ())[:nearest]
    if hits:
        parts.append('<p class="qa-nearest-head">Nearest passages:</p><ol class="qa-nearest">')
        for h in hits:
            text = _get(h, "text", "")
            hi = _snap_right(text, min(len(text), snippet_chars), len(text))
            parts.append(f'<li><div class="qa-cite-head">{_hit_line(h, titles)}</div>'
                         f'<blockquote class="qa-passage">{marked_span(text, 0, 0, 0, hi)}</blockquote></li>')
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def _scores_line(h: Any) -> str:
    """A hit's scores in words; a re-ranked hit leads with the score it is ordered by."""
    line = (f'dense {_get(h, "dense_score", 0.0):.3f} · BM25 {_get(h, "bm25_score", 0.0):.2f} · '
            f'sentence {_get(h, "sentence_score", 0.0):.3f}')
    if _get(h, "reader_score") is not None:
        line += f' · reader {_get(h, "reader_score"):+.2f}'
    if _get(h, "rerank_score") is None:
        return f'score {_get(h, "score", 0.0):.3f} · {line}'
    return f're-ranked {_get(h, "rerank_score"):.3f} · retrieval {_get(h, "score", 0.0):.3f} · {line}'


#: What the scores in "Sources" are, shown under them.
SCORES_LEGEND = (
    "How the passages were ranked. <strong>score</strong>: retrieval's, 0 to 1, from <strong>dense</strong> "
    "(closeness in meaning to the question, a cosine), <strong>BM25</strong> (the question's words in the "
    "passage, weighted by how rare they are; not bounded) and <strong>sentence</strong> (the cosine of its "
    "sentence closest to the question). Where retrieval was unsure of its first place, the reader re-read the "
    "best passages: <strong>reader</strong> is its margin for an answer in the passage (above 0: it found "
    "one), and <strong>re-ranked</strong> the score they were then ordered by.")


def render_sources(answer: Any, titles: Mapping[str, str] | None = None,
                   passage_chars: int = SOURCE_CHARS, scope: Sequence[str] | None = None) -> str:
    """The retrieved passages with their scores and what the scores mean (for the collapsible "Sources"
    section); where a passage holds a cited span, the span is in ``<mark>``."""
    hits = list(_get(answer, "passages", ()) or ())
    if not hits:
        return f'<div class="qa-sources">{scope_line(scope)}<p>No passage was retrieved.</p></div>'
    citations = list(_get(answer, "citations", ()) or ())
    query = _get(answer, "query", "") or ""
    parts = ['<div class="qa-sources">']
    if query and query != _get(answer, "question", ""):
        parts.append(f'<p class="qa-query">Searched for: <em>{esc(query)}</em></p>')
    parts.append(scope_line(scope))
    parts.append('<ol class="qa-hits">')
    for h in hits:
        doc_id, h0, text = _get(h, "doc_id"), int(_get(h, "start")), _get(h, "text", "")
        cite = next((c for c in citations if _get(c, "doc_id") == doc_id
                     and h0 <= int(_get(c, "start")) < h0 + len(text)), None)
        s, e = (int(_get(cite, "start")) - h0, int(_get(cite, "end")) - h0) if cite else (0, 0)
        lo = 0
        if len(text) > passage_chars and e > passage_chars:  # keep the cited span in view
            lo = _snap_left(text, max(0, s - passage_chars // 3), 0)
        hi = _snap_right(text, min(len(text), lo + passage_chars), len(text))
        scores = _scores_line(h)
        parts.append(
            f'<li class="qa-hit"><div class="qa-cite-head">'
            f'<span class="qa-rank">#{_get(h, "rank", "")}</span> '
            f'{_hit_line(h, titles)}</div><div class="qa-scores">{scores}</div>'
            f'<blockquote class="qa-passage">{marked_span(text, s, e, lo, hi)}</blockquote></li>')
    parts.append(f'</ol><p class="qa-legend">{SCORES_LEGEND}</p></div>')
    return "".join(parts)


def render_alternatives(answer: Any, docs: Mapping[str, str] | DocText | None = None,
                        titles: Mapping[str, str] | None = None) -> str:
    """The other distinct answers, best first, each with its cited span marked in its passage."""
    doc_text = _doc_text_getter(docs)
    parts = ['<ol class="qa-alternatives">']
    for alt in _get(answer, "alternatives", ()) or ():
        cites = list(_get(alt, "citations", ()) or ())
        heads = "; ".join(f"{_doc(_get(c, 'doc_id'), titles)}, <span class=\"qa-where\">{esc(where(c))}</span>"
                          for c in cites)
        first = cites[0] if cites else None
        ctx = cited_context(first, doc_text(_get(first, "doc_id"))) if first is not None else ""
        parts.append(f'<li class="qa-alternative"><p><strong>{esc(_get(alt, "text"))}</strong> '
                     f'<span class="qa-meta">{_confidence(float(_get(alt, "confidence", 0.0)), None)}</span></p>'
                     f'<div class="qa-cite-head">{heads}</div><blockquote class="qa-passage">{ctx}</blockquote></li>')
    parts.append("</ol>")
    return "".join(parts)


def section(title: str, body: str, kind: str) -> str:
    """A collapsed section of an answer (``<details>``): the browser's own disclosure widget, so it opens
    with a click, Enter or Space, says whether it is open to a screen reader, and is one Tab stop."""
    return f'<details class="qa-more qa-more-{kind}"><summary>{esc(title)}</summary>{body}</details>'


def answer_messages(answer: Any, docs: Mapping[str, str] | DocText | None = None,
                    titles: Mapping[str, str] | None = None, threshold: float | None = None,
                    scope: Sequence[str] | None = None) -> list[dict]:
    """The chat message (Gradio "messages" format) of one answer: the answer, then, collapsed, the other
    possible answers (when there are any) and the "Sources". ``scope``: the documents the question was
    limited to, if it was. A list, as every step of the chat adds messages."""
    n = len(list(_get(answer, "passages", ()) or ()))
    alts = list(_get(answer, "alternatives", ()) or ())
    parts = [render_answer(answer, docs, titles, threshold, scope=scope)]
    if alts:
        parts.append(section(f"Other possible answers ({len(alts)})", render_alternatives(answer, docs, titles),
                             "alternatives"))
    parts.append(section(f"Sources ({n} passage{'s' if n != 1 else ''}, with retrieval scores)",
                         render_sources(answer, titles, scope=scope), "sources"))
    return [{"role": "assistant", "content": f'<div class="qa-reply">{"".join(parts)}</div>'}]


def question_message(question: str) -> dict:
    """The user's message, as inert HTML."""
    return {"role": "user", "content": f'<div class="qa-question"><span class="qa-sr">You asked: </span>'
                                       f'{esc(question)}</div>'}


PENDING_TEXT = "Searching the documents…"


def pending_message() -> dict:
    """The assistant's place-holder while a question is being answered (replaced by the answer)."""
    return {"role": "assistant", "content": f'<div class="qa-pending" role="status">{PENDING_TEXT}</div>'}


def notice_message(text: str, kind: str = "info") -> dict:
    """A one-line message from the assistant (an empty question, an error): never a traceback."""
    line = " ".join(str(text).split())
    return {"role": "assistant", "content": f'<div class="qa-notice qa-{kind}">{esc(line)}</div>'}


def render_documents(docs: Iterable[Any], folder: str | None = None) -> str:
    """The panel that lists the indexed documents (id, size, title)."""
    docs = list(docs)
    head = f"{len(docs)} document{'s' if len(docs) != 1 else ''}"
    if folder:
        head += f' in <code>{esc(folder)}</code>'
    rows = []
    for d in docs:
        title = " ".join((_get(d, "title", "") or "").split())
        title = clip(title, 70)
        chars = _get(d, "chars")
        if chars is None:
            chars = len(_get(d, "text", "") or "")
        about = f"{chars:,} characters" + (f" · {esc(title)}" if title else "")
        rows.append(f'<li><span class="qa-doc">{esc(_get(d, "doc_id"))}</span><br>'
                    f'<span class="qa-muted">{about}</span></li>')
    return f'<div class="qa-docs"><p>{head}</p><ul>{"".join(rows)}</ul></div>'


def history_from_turns(turns: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The conversation as ``qa.answer(history=...)`` takes it: ``[{"question", "answer"}, ...]``, with the
    best ``guess`` of a turn whose answer was withheld."""
    out = []
    for t in turns:
        turn = {"question": str(t.get("question", "")), "answer": str(t.get("answer") or "")}
        if t.get("guess"):
            turn["guess"] = str(t["guess"])
        out.append(turn)
    return out
