"""Text out of PDF and Word files, with the offset at which each PDF page starts.

PDF goes through ``pypdf`` (pure Python, maintained): each page's text layer is extracted, its hard-wrapped
lines are joined back into paragraphs (a line ending a sentence and noticeably shorter than the page's
usual line ends a paragraph, as does a much shorter one such as a heading; ``exam-`` + ``ple`` becomes
``example``), and pages are separated by a blank
line. DOCX goes through ``python-docx``: paragraphs and table cells, in document order. Both libraries
are imported only when such a file is read.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")
_HYPHENATED = re.compile(r"[A-Za-z]-$")


class UnreadableFile(Exception):
    """The file cannot be read as its kind (corrupt, encrypted...): the message says why, in one line."""


@dataclass(frozen=True)
class Extracted:
    text: str
    pages: tuple[int, ...] = ()  # character offset at which each page starts (PDF)
    empty_pages: tuple[int, ...] = ()  # 1-based numbers of pages without a text layer


def reflow(page_text: str) -> str:
    """Join a page's layout lines into paragraphs (blank lines are kept as paragraph breaks)."""
    lines = [" ".join(line.split()) for line in page_text.splitlines()]
    widths = sorted(len(x) for x in lines if x)
    if not widths:
        return ""
    usual = widths[len(widths) * 3 // 4]  # the upper quartile: a full line of this page
    paras: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paras.append(current)
                current = ""
            continue
        if current and _HYPHENATED.search(current) and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}" if current else line
        if len(line) < 0.8 * usual and (_SENTENCE_END.search(line) or len(line) < 0.6 * usual):
            paras.append(current)
            current = ""
    if current:
        paras.append(current)
    return "\n\n".join(paras)


def pdf_text(data: bytes) -> Extracted:
    """The reflowed text of a PDF, its page starts and its pages without text."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings name no file; ours do (UnreadableFile)
    except ImportError as exc:  # pragma: no cover - a dependency
        raise UnreadableFile("reading PDF needs pypdf (pip install pypdf)") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                reader.decrypt("")
            except Exception as exc:
                raise UnreadableFile("the PDF is encrypted (no password known)") from exc
        texts = [reflow(page.extract_text() or "") for page in reader.pages]
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise UnreadableFile(f"not a readable PDF ({exc.__class__.__name__}: {str(exc)[:80]})") from exc
    parts, starts, empty = [], [], []
    at = 0
    for n, t in enumerate(texts, 1):
        starts.append(at)
        if not t.strip():
            empty.append(n)
        parts.append(t + "\n\n")
        at += len(t) + 2
    return Extracted("".join(parts).rstrip() + "\n", tuple(starts), tuple(empty))


def docx_text(data: bytes) -> Extracted:
    """The paragraphs (and table cells) of a Word document, one paragraph per block."""
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - a dependency
        raise UnreadableFile("reading .docx needs python-docx (pip install python-docx)") from exc
    try:
        d = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises a zoo of errors for broken packages
        raise UnreadableFile(f"not a readable .docx ({exc.__class__.__name__})") from exc
    blocks: list[str] = []
    body = d.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = "".join(node.text or "" for node in child.iter() if node.tag.endswith("}t"))
            blocks.append(" ".join(text.split()))
        elif tag == "tbl":
            for row in child.iter():
                if row.tag.endswith("}tc"):
                    cell = "".join(node.text or "" for node in row.iter() if node.tag.endswith("}t"))
                    blocks.append(" ".join(cell.split()))
    text = "\n\n".join(b for b in blocks if b)
    return Extracted(text + "\n" if text else "")
