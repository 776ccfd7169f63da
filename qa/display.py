"""Showing document text (and file names) on a terminal or a page without obeying what is hidden in it.

A document is untrusted: its text may hold terminal escape sequences ("ESC [2J" clears the screen, others
retitle the window or forge links), a file name may hold a newline that starts a line of its own (a forged
citation), and bidirectional controls make a quote read otherwise than the characters it is ("Trojan
Source"). What is shown replaces each such character with its code point, ``‹U+001B›``; the data itself
(``Answer``, ``--json``) keeps the exact characters.
"""

from __future__ import annotations

import re

#: Bidirectional embedding, override and isolate controls.
BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))

# ... and the lone surrogates a file name that is not UTF-8 decodes to (os.fsdecode): they cannot be printed
_SURROGATES = "\ud800-\udfff"
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029" + "".join(map(chr, BIDI_CONTROLS)) + _SURROGATES + "]")
# in JSON text, the characters above that json.dumps leaves as they are (it escapes only those below U+0020)
_JSON_RAW = re.compile("[\x7f-\x9f\u2028\u2029" + "".join(map(chr, BIDI_CONTROLS)) + _SURROGATES + "]")


# In a file name, characters that show as nothing (zero-width spaces and joiners, the word joiner, a byte-order
# mark) or that move their neighbours (the implicit directional marks): "report\u200b.txt" would read as
# "report.txt", another file's name. In document text they stay (Arabic, Hebrew and Indic text need them).
_JOINERS = "\u200c\u200d"  # the zero-width non-joiner and joiner, which shape Indic and Persian words
_ZERO_WIDTH = "\u061c\u200b\u200e\u200f\u2060-\u2064\ufeff"  # the rest of them
_INVISIBLE_IN_NAMES = re.compile(f"[{_JOINERS}{_ZERO_WIDTH}]")


# Characters that show as nothing and say nothing in a question: those above but the joiners (kept in a
# question, though alone they are nothing to ask about either), the soft hyphen, the Mongolian vowel
# separator and the directional controls
_SAYS_NOTHING = "\u00ad\u180e" + _ZERO_WIDTH + "".join(map(chr, BIDI_CONTROLS))
_SILENT = re.compile(f"[{_SAYS_NOTHING}]")
_SOMETHING = re.compile(f"[^\\s{_JOINERS}{_SAYS_NOTHING}]")


def shows_nothing(text: str) -> bool:
    """Whether ``text`` holds nothing a reader would see: only whitespace and characters that show as nothing
    (zero-width spaces and joiners, the soft hyphen, byte-order and directional marks)."""
    return _SOMETHING.search(text) is None


def without_silent(text: str) -> str:
    """``text`` without the characters that show as nothing and join no letters (the soft hyphen, zero-width
    spaces, byte-order and directional marks): "Kaz", a zero-width space and "akhstan" become "Kazakhstan"."""
    return _SILENT.sub("", text)


def clip(text: str, n: int) -> str:
    """``text`` in at most ``n`` characters: where it is longer, cut and ended with "…"."""
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


def code_point(ch: str) -> str:
    """``‹U+202E›``: how a hidden character is shown."""
    return f"\u2039U+{ord(ch):04X}\u203a"


def visible(text: str) -> str:
    """``text`` with every control character (C0 but none spared, DEL, C1), line and paragraph separator and
    bidirectional control written as its code point: one line, shown as the characters it holds."""
    return _HIDDEN.sub(lambda m: code_point(m.group()), text)


def visible_name(name: str) -> str:
    """A document id or file name as shown: :func:`visible`, and what is invisible in it shown too, so that no
    two names that differ look alike."""
    return _INVISIBLE_IN_NAMES.sub(lambda m: code_point(m.group()), visible(name))


def inert_json(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters a terminal may obey and
    ``json.dumps`` leaves raw written as ``\\u`` escapes: the same JSON value, safe to print."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
