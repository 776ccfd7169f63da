"""Reading a folder of documents into text. Offsets everywhere else are character offsets into this text."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from .display import clip, shows_nothing
from .errors import DocumentsError
from .formats import UnreadableFile, docx_text, pdf_text

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
DOCX_SUFFIXES = {".docx"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES | DOCX_SUFFIXES
#: The supported kinds of file as messages name them (".docx, .htm, .html, ...").
SUPPORTED_KINDS = ", ".join(sorted(SUPPORTED_SUFFIXES))
#: Version of how a file becomes text and title; a saved index records it. Bumped whenever either changes, so
#: that an index built before re-reads its files (whose bytes have not changed) and re-embeds those that differ.
#: 2: a plain-text title is the document's headline (:func:`plain_title`), no longer its first line.
#: 3: a text or HTML file that is not UTF-8 is read as Windows-1252 or -1251 (:func:`decode`), not with U+FFFD.
#: 4: UTF-32 with its byte-order mark is read as such (it was read as UTF-16); an HTML title left open ends where
#:    the body or a block begins, and is cut at :data:`MAX_TITLE_CHARS`; comments in a .docx body are passed over.
EXTRACTION_VERSION = 4
#: The longest title kept (a longer one is cut, with "…"): it is shown with every citation and given to the
#: model with each passage.
MAX_TITLE_CHARS = 200


@dataclass(frozen=True)
class Document:
    """One document's text as the index sees it.

    ``sha256`` is the hash of the file's bytes, so a changed file is noticed even when its text is not.
    ``pages`` holds the character offset at which each page starts (PDF), empty otherwise.
    """

    doc_id: str
    text: str
    sha256: str
    title: str = ""
    pages: tuple[int, ...] = field(default=())

    def __repr__(self) -> str:  # not its whole text
        pages = f", pages={len(self.pages)}" if self.pages else ""
        return f"Document({self.doc_id!r}, {len(self.text):,} characters, title={self.title!r}{pages})"

    def page_of(self, offset: int) -> int | None:
        """The 1-based page on which ``offset`` falls, or None for documents without pages."""
        if not self.pages:
            return None
        import bisect

        return bisect.bisect_right(self.pages, offset)


class _TextExtractor(HTMLParser):
    """HTML to plain text: drops script/style, keeps block structure as blank lines."""

    _SKIP = {"script", "style", "noscript", "template", "head"}
    _BLOCK = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
              "section", "article", "header", "footer", "blockquote", "pre", "hr", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":  # </head> may be omitted: the body ends whatever was being skipped
            self._skip = 0
        if tag == "body" or (tag in self._BLOCK and tag != "title"):  # nor a title left open
            self._in_title = False
        if tag in self._SKIP:
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        if tag == "title":
            self._in_title = False
        if tag in self._BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """Reduce HTML to its visible text (script and style dropped). Returns ``(text, title)``."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip() + "\n", clip(" ".join(parser.title.split()), MAX_TITLE_CHARS)


#: The 8-bit encodings a file that is not UTF-8 is read in, with how warnings name them: Windows-1252 (a
#: superset of Latin-1, what "Latin-1" files mostly are), or Windows-1251 where that reading would make most
#: letters accented (Cyrillic text).
LEGACY_ENCODINGS = {"cp1252": "Windows-1252 (Western European)", "cp1251": "Windows-1251 (Cyrillic)"}
# the UTF-32 marks first: UTF-32LE's begins with UTF-16LE's
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def decode(data: bytes, name: str) -> str:
    """The text of a plain-text or HTML file's bytes.

    UTF-8, or UTF-16 or UTF-32 with its byte-order mark (the mark dropped). Bytes that are not UTF-8 are read as
    an 8-bit encoding (:data:`LEGACY_ENCODINGS`), with a warning naming it: "café" saved as Latin-1 stays "café".
    Where the text is UTF-8 all the same (it has more valid multi-byte characters than invalid bytes: a damaged
    file), only the invalid bytes become U+FFFD, with a warning.

    Raises:
        UnreadableFile: the bytes are not text (they hold NUL bytes).
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                break
    if b"\x00" in data[:8192]:
        raise UnreadableFile("it holds NUL bytes, so it is not text (a binary file, or UTF-16 without a "
                             "byte-order mark)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first = exc.start
    text = data.decode("utf-8", errors="replace")
    invalid = text.count("\ufffd") - data.count("\ufffd".encode())
    if sum(ord(ch) > 127 for ch in text) - text.count("\ufffd") > invalid:
        logger.warning("%s: not valid UTF-8 at byte %d (%d invalid byte%s); they were replaced by U+FFFD", name,
                       first, invalid, "" if invalid == 1 else "s")
        return text
    codec = _legacy_encoding(data)
    logger.warning("%s: not UTF-8 (byte %d); read as %s", name, first, LEGACY_ENCODINGS[codec])
    return data.decode(codec, errors="replace")


def _legacy_encoding(data: bytes) -> str:
    """Windows-1252, unless reading the bytes so would make most letters non-ASCII: in Western text accented
    letters are a few among plain ones, while Cyrillic text in Windows-1251 has almost no ASCII letters."""
    western = data.decode("cp1252", errors="replace")
    letters = [ch for ch in western if ch.isalpha()]
    accented = sum(ord(ch) > 127 for ch in letters)
    return "cp1251" if letters and accented > len(letters) / 2 else "cp1252"


def extract_text(path: Path, doc_id: str, data: bytes | None = None) -> tuple[str, str, tuple[int, ...]]:
    """The text of one file as the index stores it: ``(text, title, page_starts)``.

    Raises:
        UnreadableFile: a PDF or DOCX that cannot be read (corrupt, encrypted), or a text file that is binary.
    """
    data = path.read_bytes() if data is None else data
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        got = pdf_text(data)
        if got.text.strip() and got.empty_pages:
            logger.warning("%s: page%s %s ha%s no text layer (scanned?) and cannot be searched", doc_id,
                           "s" if len(got.empty_pages) > 1 else "", _ranges(got.empty_pages),
                           "ve" if len(got.empty_pages) > 1 else "s")
        return got.text, plain_title(got.text), got.pages
    if suffix in DOCX_SUFFIXES:
        got = docx_text(data)
        return got.text, plain_title(got.text), ()
    if suffix in HTML_SUFFIXES:
        text, title = html_to_text(decode(data, doc_id))
        return text, title, ()
    text = decode(data, doc_id)
    return text, plain_title(text), ()


def _ranges(pages: tuple[int, ...]) -> str:
    """``(1, 2, 3, 7)`` as ``1-3, 7``."""
    out: list[str] = []
    for p in pages:
        if out and out[-1].split("-")[-1] == str(p - 1):
            out[-1] = f"{out[-1].split('-')[0]}-{p}"
        else:
            out.append(str(p))
    return ", ".join(out)


#: A line that is only a date ("Monday, April 25, 2022", "date 2022-09-28") is a dateline, not a title.
_DATE_LINE = re.compile(
    r"^\W*(date\W*)?((mon|tues|wednes|thurs|fri|satur|sun)day,?\s*)?"
    r"([a-z]+\.?\s+\d{1,2},?\s+\d{4}|\d{1,2}\s+[a-z]+\.?\s+\d{4}|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})\W*$",
    re.IGNORECASE)
#: Navigation left over from a saved web page ("Skip to main menu Skip to search").
_NAVIGATION = re.compile(r"\bskip to (the )?(main )?(menu|content|search|footer|navigation)\b", re.IGNORECASE)
#: Where a plain-text title is looked for: the first lines, each of at most this many words (a headline's length).
TITLE_LINES, TITLE_MAX_WORDS = 8, 20
#: A line of at least this many words that ends like a sentence is prose (or a photo caption).
SENTENCE_WORDS = 8


def plain_title(text: str) -> str:
    """The headline of a plain-text document, or "" when it has none.

    Looked for above the body: among the first ``TITLE_LINES`` lines, until a line of more than
    ``TITLE_MAX_WORDS`` words or the second line that reads as a sentence (``SENTENCE_WORDS`` words or more,
    ending in punctuation; one is let through, as a photo caption can stand above the headline). The title is
    the longest line there that does not end like a sentence or a clause and is not a date or a saved web
    page's navigation ("Skip to main menu"); a Markdown ``#`` is dropped. So a Wikipedia-style file (its title,
    then its paragraphs) gets its first line, and a saved news page its headline rather than the dateline, a
    kicker ("Compassion"), a photo credit ("AP") or the site's name above it. A document that starts with its
    first sentence gets "": a sentence given as the title of every passage would only add noise to their vectors.
    """
    found: list[str] = []
    sentences = 0
    for n, raw in enumerate(line for line in text.splitlines() if line.strip()):
        line = " ".join(raw.split()).lstrip("#").strip()
        words = len(line.split())
        sentence = bool(line) and line[-1] in ".!?:;,"
        sentences += sentence and words >= SENTENCE_WORDS
        if n >= TITLE_LINES or words > TITLE_MAX_WORDS or sentences > 1:
            break
        if line and not sentence and not _DATE_LINE.match(line) and not _NAVIGATION.search(line):
            found.append(line[:200])
    return max(found, key=lambda t: len(t.split()), default="")


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def iter_files(folder: Path) -> Iterable[Path]:
    """Supported files below ``folder``, recursively, in a stable order (by path); hidden files and folders
    skipped. Links to folders outside ``folder`` are followed, each real folder read once (a second link to
    the same one is skipped); a link to a folder inside it is skipped, its files read where they are, so that
    a document's id is its real path whatever links point at it. A folder that cannot be listed and a link to
    nothing are skipped with a warning. A document's id is its path, through the link where it was followed."""
    root = folder.resolve()
    seen: dict[Path, str] = {}  # each real folder read, and the path it was read under

    def walk(path: Path) -> Iterable[Path]:
        rel, real = path.relative_to(folder).as_posix() + "/", path.resolve()
        if real in seen:  # nothing is lost: its files are read once, under the first path
            logger.info("%s: the same folder as %s (a link), read once; skipped", rel, seen[real])
            return
        seen[real] = rel
        try:
            entries = sorted(path.iterdir(), key=lambda p: p.name)
        except OSError as exc:
            logger.warning("%s: folder cannot be read (%s); skipped", rel, exc.strerror or exc)
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                if entry.is_symlink() and _inside(target := entry.resolve(), root):  # read where it is
                    logger.info("%s/: a link to %s inside the documents folder, read there; skipped",
                                entry.relative_to(folder).as_posix(), target)
                    continue
                yield from walk(entry)
            elif entry.is_file() and entry.suffix.lower() in SUPPORTED_SUFFIXES:
                yield entry
            elif entry.is_symlink() and not entry.exists():  # what it stood for is not read: say so
                logger.warning("%s: a link to %s, which does not exist; skipped", entry.relative_to(folder).as_posix(),
                               os.readlink(entry))

    yield from walk(folder)


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it, reached without links: both resolved."""
    return path == root or root in path.parents


def check_folder(folder: str | Path) -> Path:
    """The folder as a Path, or a :class:`DocumentsError` that says what is wrong with it."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise DocumentsError(f"documents folder not found: {path}")
    if not path.is_dir():
        raise DocumentsError(f"not a folder: {path} (point --docs at a folder of .txt/.md/.html/.pdf/.docx files)")
    try:
        next(path.iterdir(), None)
    except PermissionError as exc:
        raise DocumentsError(f"cannot read documents folder {path}: permission denied") from exc
    return path


def read_document(folder: Path, path: Path, data: bytes | None = None) -> Document | None:
    """Read one file (its bytes ``data`` when they have been read already); None (with a warning) when it is
    unreadable or has no text."""
    doc_id = path.relative_to(folder).as_posix()
    try:
        data = path.read_bytes() if data is None else data
    except OSError as exc:
        logger.warning("%s: cannot be read (%s); skipped", doc_id, exc.strerror or exc)
        return None
    try:
        text, title, pages = extract_text(path, doc_id, data)
    except UnreadableFile as exc:
        logger.warning("%s: %s; skipped", doc_id, exc)
        return None
    if shows_nothing(text):  # zero-width characters alone would make passages that show nothing
        if path.suffix.lower() in PDF_SUFFIXES:
            logger.warning("%s: no text layer on any page (a scanned PDF?); skipped: run OCR on it first "
                           "(e.g. ocrmypdf) to make it searchable", doc_id)
        else:
            logger.warning("%s: empty (no text); skipped", doc_id)
        return None
    return Document(doc_id=doc_id, text=text, sha256=hash_bytes(data), title=title, pages=pages)


def load_documents(folder: str | Path) -> list[Document]:
    """Read every supported file below ``folder``.

    Raises:
        DocumentsError: when the folder is missing, unreadable, or holds no document with text.
    """
    root = check_folder(folder)
    docs = [doc for path in iter_files(root) if (doc := read_document(root, path)) is not None]
    if not docs:
        raise no_documents(root)
    return docs


def no_documents(folder: Path) -> DocumentsError:
    """The error for a folder without a document with text, naming the kinds of file looked for."""
    return DocumentsError(f"no documents with text in {folder} (looked for {SUPPORTED_KINDS})")
