"""Splitting text into paragraphs and sentences, as ``(start, end)`` character spans. Pure functions."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

Spans = list[tuple[int, int]]

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v\u00a0]*\n\s*")
_TERMINAL = tuple(".!?:;\"'”’»)…")
_WORDS = re.compile(r"\w+|[^\w\s]")


def approx_tokens(text: str) -> int:
    """A cheap over-estimate of the word-piece count of ``text`` (used when no tokenizer is at hand)."""
    return int(len(_WORDS.findall(text)) * 1.3) + 2


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _blocks(text: str) -> Spans:
    """Blocks separated by blank lines, stripped, empty ones dropped."""
    spans, pos = [], 0
    for m in _BLANK_LINE.finditer(text):
        spans.append(_strip(text, pos, m.start()))
        pos = m.end()
    spans.append(_strip(text, pos, len(text)))
    return [(s, e) for s, e in spans if e > s]


def _lines_are_paragraphs(lines: list[str]) -> bool:
    """True when a block writes one paragraph per line (most lines end a sentence), not hard-wrapped prose."""
    if len(lines) < 2:
        return False
    ended = sum(1 for line in lines if line.rstrip().endswith(_TERMINAL))
    return ended >= 0.5 * len(lines)


def split_paragraphs(text: str) -> Spans:
    """Paragraph spans: blank lines always separate; single newlines do where a block is one-per-line."""
    out: Spans = []
    for start, end in _blocks(text):
        block = text[start:end]
        if "\n" in block and _lines_are_paragraphs(block.split("\n")):
            pos = start
            for line in block.split("\n"):
                s, e = _strip(text, pos, pos + len(line))
                if e > s:
                    out.append((s, e))
                pos += len(line) + 1
        else:
            out.append((start, end))
    return out


def fold_fragments(text: str, spans: Spans, min_words: int = 6) -> Spans:
    """Fold fragments too short to stand alone (captions, headings, "AP") into a neighbour.

    A short fragment joins the paragraph after it (a heading belongs to what follows); a short fragment at the
    end of the document joins the one before it. Nothing is dropped, so no text falls outside the passages.
    """
    out: Spans = []
    pending: tuple[int, int] | None = None
    for s, e in spans:
        if pending is not None:
            s = pending[0]
            pending = None
        if len(_WORDS.findall(text[s:e])) < min_words:
            pending = (s, e)
            continue
        out.append((s, e))
    if pending is not None:
        if out:
            out[-1] = (out[-1][0], pending[1])
        else:
            out.append(pending)
    return out


@lru_cache(maxsize=1)
def _segmenter():  # pragma: no cover - trivial
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


#: The longest text given to the sentence segmenter at once. pysbd's time grows with the square of a text
#: without sentence ends (130,000 characters: 10 s; 5 MB: hours), so a longer paragraph is first cut after
#: the last sentence end, else the last space, within each such stretch. No paragraph of squad2-open or
#: seeds/ is this long (the longest: 4,063 characters).
SEGMENT_CHARS = 10_000
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+|\n")
# the characters at which pysbd may end a sentence ("1) ... 2) ..." lists among them): a text with none of
# them is one sentence
_MAY_SPLIT = re.compile("[.!?)\n\r\u2026\u203c\u2047-\u2049\u3002\uff01\uff1f]")


def _stretches(text: str, start: int, end: int, limit: int = SEGMENT_CHARS) -> Spans:
    """``text[start:end]`` as consecutive stretches of at most ``limit`` characters, each ending after a
    sentence end or a space where the text has one in its second half."""
    out: Spans = []
    while end - start > limit:
        window = text[start + limit // 2 : start + limit]
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        cut = ends[-1] if ends else (window.rfind(" ") + 1 if " " in window else len(window))
        out.append((start, start + limit // 2 + cut))
        start += limit // 2 + cut
    out.append((start, end))
    return out


def split_sentences(text: str, start: int = 0, end: int | None = None) -> Spans:
    """Sentence spans inside ``text[start:end]`` (pysbd), as offsets into ``text``, whitespace stripped.

    The spans are located by searching each segment in order, so they are exact even where the
    segmenter's own offsets drift; any text the segmenter loses is kept inside the neighbouring sentence.
    A text longer than :data:`SEGMENT_CHARS` is segmented stretch by stretch (:func:`_stretches`).
    """
    end = len(text) if end is None else end
    if end - start > SEGMENT_CHARS:
        return [span for s, e in _stretches(text, start, end) for span in split_sentences(text, s, e)]
    chunk = text[start:end]
    if not _MAY_SPLIT.search(chunk):  # pysbd would return it whole, in time that grows with its square
        s, e = _strip(text, start, end)
        return [(s, e)] if e > s else []
    spans: Spans = []
    cursor = 0
    for seg in _segmenter().segment(chunk):
        seg = seg.strip()
        if not seg:
            continue
        found = chunk.find(seg, cursor)
        if found < 0:
            continue
        spans.append((found, found + len(seg)))
        cursor = found + len(seg)
    if not spans:
        s, e = _strip(text, start, end)
        return [(s, e)] if e > s else []
    # Close gaps: each sentence runs to where the next begins (stripped), the first from the chunk start.
    closed: Spans = []
    for i, (s, e) in enumerate(spans):
        s = 0 if i == 0 else s
        e = spans[i + 1][0] if i + 1 < len(spans) else len(chunk)
        a, b = _strip(text, start + s, start + e)
        if b > a:
            closed.append((a, b))
    return closed


#: The most characters a passage holds per token it may hold: far more than any text's (about 4-5 in English),
#: so it only bounds text that the token count misjudges, such as a 5 MB "word" without spaces.
CHARS_PER_TOKEN = 8


def _fits(text: str, s: int, e: int, max_tokens: int, count: Callable[[str], int]) -> bool:
    return e - s <= max_tokens * CHARS_PER_TOKEN and count(text[s:e]) <= max_tokens


def pack_sentences(sentences: Spans, text: str, max_tokens: int, count: Callable[[str], int]) -> Spans:
    """Greedily pack consecutive sentences into spans of at most ``max_tokens`` (a single longer sentence
    is cut at word boundaries, so that nothing falls outside what the model sees)."""
    out: Spans = []
    cur: tuple[int, int] | None = None
    for s, e in sentences:
        if not _fits(text, s, e, max_tokens, count):
            if cur:
                out.append(cur)
                cur = None
            out.extend(_cut_words(text, s, e, max_tokens, count))
            continue
        if cur and _fits(text, cur[0], e, max_tokens, count):
            cur = (cur[0], e)
        else:
            if cur:
                out.append(cur)
            cur = (s, e)
    if cur:
        out.append(cur)
    return out


def _cut_words(text: str, start: int, end: int, max_tokens: int, count: Callable[[str], int]) -> Spans:
    step = max_tokens * CHARS_PER_TOKEN  # a "word" longer than a passage may be is cut into pieces that fit
    words = [(a, min(a + step, m.end() + start)) for m in re.finditer(r"\S+", text[start:end])
             for a in range(m.start() + start, m.end() + start, step)]
    out: Spans = []
    i = 0
    while i < len(words):
        first = words[i][0]

        def fits(j: int, first: int = first) -> bool:  # words[i:j] in one passage
            return _fits(text, first, words[j - 1][1], max_tokens, count)

        j = _last_true(i + 1, len(words), fits)
        out.append((first, words[j - 1][1]))
        i = j
    return out


def _last_true(lo: int, hi: int, ok: Callable[[int], bool]) -> int:
    """The largest ``j`` in ``lo..hi`` with ``ok(j)``, for an ``ok`` that holds up to some point and not after
    it; ``lo`` when none above it does. Found by doubling the step, then halving it: in :func:`_cut_words`,
    ``ok(j)`` counts the tokens of words i..j, and trying each j in turn counted a passage of k words k times."""
    good, bad, step = lo, hi + 1, 1  # ok(good) is taken as true, ok(bad) as false
    while good + step < bad:
        if not ok(good + step):
            bad = good + step
            break
        good, step = good + step, step * 2
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if ok(mid) else (good, mid)
    return good


def chunk_document(
    text: str,
    max_tokens: int = 250,
    count: Callable[[str], int] = approx_tokens,
    min_words: int = 6,
) -> list[tuple[tuple[int, int], Spans]]:
    """Split a document into passages, each with its sentences: ``[((start, end), [(s, e), ...]), ...]``.

    Every passage is ``text[start:end]`` of a paragraph (or of part of a paragraph longer than
    ``max_tokens``); every sentence lies inside its passage.
    """
    out = []
    for ps, pe in fold_fragments(text, split_paragraphs(text), min_words=min_words):
        sentences = split_sentences(text, ps, pe)
        if _fits(text, ps, pe, max_tokens, count):
            out.append(((ps, pe), sentences))
            continue
        for s, e in pack_sentences(sentences, text, max_tokens, count):
            inner = [(a, b) for a, b in sentences if a >= s and b <= e] or [(s, e)]
            out.append(((s, e), inner))
    return out
