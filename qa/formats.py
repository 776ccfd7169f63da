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

        # its messages name no file, and it says "error" of what it reads around; ours name the file (UnreadableFile)
        logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    except ImportError as exc:  # pragma: no cover - a dependency
        raise UnreadableFile("reading PDF needs pypdf (pip install pypdf)") from exc
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:
                raise UnreadableFile("the PDF is encrypted (no password known)") from exc
            if not opened:  # pypdf says so with its result (PasswordType.NOT_DECRYPTED), not always by raising
                raise UnreadableFile("the PDF is encrypted (no password known)")
        texts = [reflow(page.extract_text() or "") for page in reader.pages]
    except UnreadableFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise UnreadableFile(f"not a readable PDF ({exc.__class__.__name__}: {str(exc)[:80]})") from exc
    except Exception as exc:  # pypdf's other errors for damaged files: unsupported filters, loops, limits
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


#: The most a Word document's parts may unpack to: a few hundred KB of .docx can hold gigabytes of XML (a
#: "zip bomb"), which would take that much memory to read and hours to embed.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024


def _unpacked_too_big(data: bytes) -> str | None:
    """Why a .docx is refused unread when it unpacks to more than :data:`MAX_UNPACKED_BYTES`, else None."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            size = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None  # not a zip: reading it says so
    if size > MAX_UNPACKED_BYTES:
        return (f"unpacks to {size / 2**20:,.0f} MB, more than the {MAX_UNPACKED_BYTES // 2**20} MB a .docx may "
                "(not read)")
    return None


def _is(node: object, name: str) -> bool:
    """Whether an XML node is the element ``name`` of any namespace (comments and the like are not)."""
    tag = getattr(node, "tag", None)
    return isinstance(tag, str) and tag.endswith("}" + name)


def docx_text(data: bytes) -> Extracted:
    """The paragraphs (and table cells) of a Word document, one paragraph per block."""
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - a dependency
        raise UnreadableFile("reading .docx needs python-docx (pip install python-docx)") from exc
    too_big = _unpacked_too_big(data)
    if too_big:
        raise UnreadableFile(too_big)
    try:
        d = docx.Document(io.BytesIO(data))
        body = d.element.body
        if body is None:
            raise ValueError("no document body")
    except Exception as exc:  # python-docx raises a zoo of errors for broken packages
        raise UnreadableFile(f"not a readable .docx ({exc.__class__.__name__})") from exc
    blocks: list[str] = []
    for child in body.iterchildren():
        if not isinstance(child.tag, str):  # a comment, a processing instruction or an entity: no text
            continue
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = "".join(node.text or "" for node in child.iter() if _is(node, "t"))
            blocks.append(" ".join(text.split()))
        elif tag == "tbl":
            for row in child.iter():
                if _is(row, "tc"):
                    cell = "".join(node.text or "" for node in row.iter() if _is(node, "t"))
                    blocks.append(" ".join(cell.split()))
    text = "\n\n".join(b for b in blocks if b)
    return Extracted(text + "\n" if text else "")
