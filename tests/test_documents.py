"""qa.documents: reading a folder into text (recursion, doc ids, HTML, encodings, empty/unreadable input)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from qa import DocumentsError
from qa.documents import check_folder, decode, html_to_text, iter_files, load_documents, plain_title, read_document
from tests.conftest import HTML, deny_listing, write_docs


def test_doc_id_is_relative_posix_path_recursively(docs_dir: Path) -> None:
    write_docs(docs_dir, {"a/b/c/deep.txt": "A document nested three folders down, with enough words."})
    ids = [d.doc_id for d in load_documents(docs_dir)]
    assert ids == sorted(ids)
    assert set(ids) == {"alpha.txt", "beta.md", "page.html", "sub/gamma.txt", "a/b/c/deep.txt"}


def test_hidden_and_unsupported_files_are_ignored(tmp_path: Path) -> None:
    write_docs(
        tmp_path,
        {
            "ok.txt": "Visible text that should be indexed.",
            ".hidden.txt": "secret",
            ".git/notes.txt": "secret",
            "image.png": "not text",
            "data.csv": "a,b",
        },
    )
    assert [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)] == ["ok.txt"]


def test_links_to_folders_are_followed_and_each_real_folder_read_once(tmp_path: Path, caplog) -> None:
    docs, shared = tmp_path / "docs", tmp_path / "shared"
    write_docs(docs, {"a.txt": "Inside text.", "sub/b.txt": "Nested text."})
    write_docs(shared, {"x.txt": "Text kept elsewhere and linked in."})
    (docs / "linked").symlink_to(shared)
    (docs / "same").symlink_to(shared)  # a second link to the same folder
    (docs / "sub" / "up").symlink_to(docs)  # a loop
    (docs / "archive").symlink_to("sub")  # a link to a folder inside: sorts before it, yet "sub/" stays the id
    (docs / "gone").symlink_to(tmp_path / "missing")  # a broken link
    with caplog.at_level(logging.INFO, logger="qa"):
        found = [p.relative_to(docs).as_posix() for p in iter_files(docs)]
    assert found == ["a.txt", "linked/x.txt", "sub/b.txt"]  # by path, as before links were followed
    # only what is lost is a warning: the folders skipped are read once, under their own path
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"gone: a link to {tmp_path / 'missing'}, which does not exist; skipped"]
    assert sorted(r.getMessage() for r in caplog.records if r.levelno < logging.WARNING) == [
        f"archive/: a link to {(docs / 'sub').resolve()} inside the documents folder, read there; skipped",
        "same/: the same folder as linked/ (a link), read once; skipped",
        f"sub/up/: a link to {docs.resolve()} inside the documents folder, read there; skipped",
    ]
    assert [d.doc_id for d in load_documents(docs)] == found


def test_a_subfolder_that_cannot_be_listed_is_skipped_with_a_warning(tmp_path: Path, monkeypatch,
                                                                      caplog) -> None:
    write_docs(tmp_path, {"a.txt": "Readable text.", "locked/b.txt": "Hidden away.", "z.txt": "More text."})
    deny_listing(monkeypatch, tmp_path / "locked")
    with caplog.at_level(logging.WARNING, logger="qa"):
        assert [p.name for p in iter_files(tmp_path)] == ["a.txt", "z.txt"]
    assert [r.getMessage() for r in caplog.records] == ["locked/: folder cannot be read (Permission denied); skipped"]


def test_text_is_file_text_and_hash_is_of_bytes(docs_dir: Path) -> None:
    docs = {d.doc_id: d for d in load_documents(docs_dir)}
    raw = (docs_dir / "alpha.txt").read_bytes()
    assert docs["alpha.txt"].text == raw.decode("utf-8")
    import hashlib

    assert docs["alpha.txt"].sha256 == hashlib.sha256(raw).hexdigest()
    assert docs["alpha.txt"].title == "Lake Brindle Survey"


@pytest.mark.parametrize(("text", "title"), [
    ("Lake Brindle Survey\n\nThe survey of Lake Brindle was carried out in the spring of 2019 by a team of ten "
     "who counted the herons.\n\nPhoto: herons at dawn\n", "Lake Brindle Survey"),  # a caption below is not it
    ("# Orchard Report\n\nThe orchard planted 1,200 trees.\n", "Orchard Report"),
    # a saved news page: navigation, a credit, a caption and a kicker above the headline, then the standfirst
    (" date 2022-09-28 Skip to main menu Skip to search Skip to footer\nAP\nA ferry waits at the pier of the "
     "island after the crossing on Sept. 28.\nStrikes\n\nFerry crews return after nine days\n\nThe crews went "
     "back to work on Monday after the council agreed to pay the overtime it owed them.\n",
     "Ferry crews return after nine days"),
    ("Monday, April 25, 2022\n\nFerry Strike Ends After Nine Days\n\nIsland Herald\n",
     "Ferry Strike Ends After Nine Days"),
    ("Harbour News\n\nFerry Strike Ends After Nine Days – Harbour News\n\n",
     "Ferry Strike Ends After Nine Days – Harbour News"),  # the headline, not the site's name above it
    # a document that starts with its first sentence has no title
    ("Kyiv, Ukraine – The council began its meeting with a proverb.\n“Good ties with neighbours guarantee "
     "safety,” the mayor said on Tuesday.\nComments: 0\n", ""),
    ("After the announcement of the new timetable on September 21, a crowd of passengers who did not agree with "
     "it gathered at the pier.\n\nThe council has an ambiguous attitude.\n", ""),
    ("", ""),
])
def test_plain_text_title_is_the_headline(text: str, title: str) -> None:
    assert plain_title(text) == title


def test_bom_is_dropped(tmp_path: Path) -> None:
    write_docs(tmp_path, {"bom.txt": b"\xef\xbb\xbfHello there, a text with a byte order mark."})
    (doc,) = load_documents(tmp_path)
    assert doc.text.startswith("Hello")


def test_html_reduced_to_visible_text_without_script_and_style() -> None:
    text, title = html_to_text(HTML)
    assert title == "Glassworks History"
    assert "The Marlow glassworks opened in 1851 and employed & trained three hundred apprentices." in text
    assert "Its furnace burned coal from the Ashby pits" in text  # inline tags do not split words
    for hidden in ("zanzibarSecret", "console.log", "color: red", "quartzite", "<p>", "&amp;"):
        assert hidden not in text
    # block elements become paragraph breaks
    assert "\n\n" in text.strip()


def test_html_without_closing_head_keeps_the_body() -> None:
    # </head> may be omitted in valid HTML; the body text must not be lost with the head.
    text, title = html_to_text(
        "<html><head><title>T</title><body><p>Hello world here.</p>"
        "<script>var hidden = 1;</script></body></html>"
    )
    assert title == "T"
    assert "Hello world here." in text
    assert "hidden" not in text


def test_a_latin1_file_is_read_as_windows_1252_with_a_warning(tmp_path: Path, caplog) -> None:
    write_docs(
        tmp_path, {"latin1.txt": "Caf\xe9 opened in 1999 on the corner of Mill Street.".encode("latin-1")}
    )
    with caplog.at_level(logging.WARNING, logger="qa"):
        (doc,) = load_documents(tmp_path)
    assert "Caf\xe9 opened in 1999" in doc.text
    assert [r.getMessage() for r in caplog.records] == ["latin1.txt: not UTF-8 (byte 3); read as Windows-1252 "
                                                       "(Western European)"]


@pytest.mark.parametrize(("text", "codec"), [
    ("“Smart quotes” — a euro € sign, naïve café, René à Besançon.", "cp1252"),
    ("Министр внутренних дел Марат Ахметжанов.", "cp1251"),
])
def test_8_bit_text_is_read_in_the_encoding_that_fits_it(text: str, codec: str, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert decode(text.encode(codec), "x.txt") == text
    assert "read as Windows-" + codec[2:] in caplog.records[0].getMessage()


def test_utf16_with_its_byte_order_mark_and_utf8_with_one_are_read_silently(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert decode("Caf\xe9 \u2014 Almaty".encode("utf-16"), "x.txt") == "Caf\xe9 \u2014 Almaty"
        assert decode("\ufeffCaf\xe9".encode(), "x.txt") == "Caf\xe9"
    assert not caplog.records


def test_a_damaged_utf8_file_keeps_its_text_and_marks_only_the_bad_byte(caplog) -> None:
    data = "\u201cQuoted\u201d text about Almaty. ".encode() * 3 + b"\xff more."
    with caplog.at_level(logging.WARNING):
        text = decode(data, "x.txt")
    assert text == "\u201cQuoted\u201d text about Almaty. " * 3 + "\ufffd more."
    assert "1 invalid byte" in caplog.records[0].getMessage()


def test_a_binary_file_named_txt_is_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    write_docs(tmp_path, {"blob.txt": bytes(range(256)) * 4, "ok.txt": "The ferry leaves at six.\n"})
    with caplog.at_level(logging.WARNING, logger="qa"):
        docs = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    assert any(r.getMessage().startswith("blob.txt: it holds NUL bytes, so it is not text") for r in caplog.records)


def test_decode_valid_utf8_does_not_warn(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        assert decode("naïve café".encode(), "x.txt") == "naïve café"
    assert not caplog.records


def test_empty_and_blank_files_are_skipped_with_warning(tmp_path: Path, caplog) -> None:
    write_docs(
        tmp_path,
        {
            "empty.txt": "",
            "blank.md": "  \n\n\t\n",
            "ok.txt": "This one has some text in it.",
            "nothing.html": "<html><script>only()</script></html>",
        },
    )
    with caplog.at_level(logging.WARNING, logger="qa"):
        docs = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    warned = " ".join(r.getMessage() for r in caplog.records)
    for name in ("empty.txt", "blank.md", "nothing.html"):
        assert name in warned


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DocumentsError, match="not found"):
        load_documents(tmp_path / "nope")


def test_file_instead_of_folder(tmp_path: Path) -> None:
    f = tmp_path / "file.txt"
    f.write_text("text")
    with pytest.raises(DocumentsError, match="not a folder"):
        check_folder(f)


def test_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DocumentsError, match="no documents"):
        load_documents(tmp_path)


def test_folder_with_only_empty_files(tmp_path: Path) -> None:
    write_docs(tmp_path, {"a.txt": "", "b.txt": "\n"})
    with pytest.raises(DocumentsError, match="no documents"):
        load_documents(tmp_path)


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="running as root: chmod 000 does not stop root from reading (simulated below)",
)
def test_unreadable_folder_chmod(tmp_path: Path) -> None:
    folder = write_docs(tmp_path / "locked", {"a.txt": "Some text that cannot be read."})
    folder.chmod(0)
    try:
        with pytest.raises(DocumentsError, match="permission denied"):
            load_documents(folder)
    finally:
        folder.chmod(0o755)


def test_unreadable_folder_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_docs(tmp_path / "locked", {"a.txt": "Some text that cannot be read."})
    deny_listing(monkeypatch, folder)
    with pytest.raises(DocumentsError, match="permission denied"):
        load_documents(folder)


def test_unreadable_file_is_skipped_with_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    write_docs(tmp_path, {"locked.txt": "Cannot be read.", "ok.txt": "This one can be read just fine."})
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with caplog.at_level(logging.WARNING, logger="qa"):
        assert read_document(tmp_path, tmp_path / "locked.txt") is None
        docs = load_documents(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    assert any("locked.txt" in r.getMessage() for r in caplog.records)


def test_txt_with_markup_is_kept_literally(tmp_path: Path) -> None:
    raw = "Notes on markup: the tag <script>alert('x')</script> runs code in a browser page.\n"
    write_docs(tmp_path, {"notes.txt": raw})
    (doc,) = load_documents(tmp_path)
    assert doc.text == raw


def test_utf32_with_its_byte_order_mark_is_read_as_utf32() -> None:
    from qa.documents import decode

    text = "Ferry service began in 1889.\n"
    assert decode(text.encode("utf-32"), "u.txt") == text  # not as UTF-16, which its mark also starts like
    assert decode(text.encode("utf-16"), "u.txt") == text


def test_an_html_title_left_open_ends_at_the_body_and_a_long_one_is_cut() -> None:
    from qa.documents import MAX_TITLE_CHARS, html_to_text

    text, title = html_to_text("<title>Museums<body>" + "".join(f"<p>Museum {i} opened in {1800 + i}.</p>"
                                                                for i in range(30)))
    assert title == "Museums" and "Museum 29 opened in 1829." in text
    _, title = html_to_text("<title>" + "cat " * 300 + "</title><p>The cat sat.</p>")
    assert len(title) == MAX_TITLE_CHARS and title.endswith("…")
