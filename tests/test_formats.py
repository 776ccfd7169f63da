"""PDF and Word documents: text with known pages, built here with fpdf2 and python-docx, end to end."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import qa
from qa.documents import load_documents
from tests.conftest import HASHING, run_qa
from tests.office import FURNACE, MINUTES, PAGES, make_docx, make_pdf

pytest.importorskip("fpdf")
pytest.importorskip("docx")


@pytest.fixture
def office(tmp_path: Path) -> Path:
    folder = tmp_path / "office"
    (folder / "reports").mkdir(parents=True)
    make_pdf(folder / "reports" / "glassworks.pdf", PAGES)
    make_docx(folder / "minutes.docx", MINUTES, table=[["Vessel", "Berth"], ["Morning Star", "Berth 4"]])
    (folder / "notes.txt").write_text("Notes\n\nThe ferry to Dunmore leaves at seven.\n", encoding="utf-8")
    return folder


def test_pdf_text_has_paragraphs_and_page_starts(office: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        docs = {d.doc_id: d for d in load_documents(office)}
    pdf = docs["reports/glassworks.pdf"]
    assert len(pdf.pages) == 4 and pdf.pages[0] == 0
    # wrapped layout lines are joined back: the whole sentence is one line of the text
    at = pdf.text.index(FURNACE)
    assert pdf.page_of(at) == 2
    assert pdf.page_of(pdf.text.index("masons from Dunmore")) == 4
    assert pdf.page_of(pdf.text.index("founded in 1921")) == 1
    assert pdf.text.startswith("Annual Report of the Hollow Ridge Glassworks\n\n")
    assert pdf.title == "Annual Report of the Hollow Ridge Glassworks"
    # the page without a text layer is named in one warning
    warned = [r.getMessage() for r in caplog.records if "glassworks.pdf" in r.getMessage()]
    assert warned == ["reports/glassworks.pdf: page 3 has no text layer (scanned?) and cannot be searched"]


def test_docx_paragraphs_and_table_cells(office: Path) -> None:
    docs = {d.doc_id: d for d in load_documents(office)}
    text = docs["minutes.docx"].text
    for p in MINUTES + ["Morning Star", "Berth 4"]:
        assert p in text
    assert text.split("\n\n")[:3] == MINUTES
    assert docs["minutes.docx"].pages == () and docs["minutes.docx"].page_of(10) is None


def test_scanned_pdf_is_skipped_with_a_clear_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    make_pdf(folder / "scan.pdf", [None, None])
    (folder / "ok.txt").write_text("A readable note about the harbour.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        docs = load_documents(folder)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "scan.pdf: no text layer on any page (a scanned PDF?)" in msg and "OCR" in msg


@pytest.mark.parametrize("name,data", [("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage"),
                                       ("broken.docx", b"PK\x03\x04 not really a zip")])
def test_corrupt_pdf_or_docx_is_one_warning_and_the_rest_is_indexed(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                                    name: str, data: bytes) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / name).write_bytes(data)
    (folder / "ok.txt").write_text("A readable note about the harbour.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        docs = load_documents(folder)
    assert [d.doc_id for d in docs] == ["ok.txt"]
    lines = [r.getMessage() for r in caplog.records if name in r.getMessage()]
    assert len(lines) == 1 and "skipped" in lines[0] and "\n" not in lines[0]


def test_answer_cites_the_pdf_page_and_verifies_against_the_file(office: Path, tmp_path: Path) -> None:
    index = qa.load_index(docs=office, index_dir=tmp_path / "idx", config=HASHING)
    a = qa.answer("How many bottles did the furnace at Hollow Ridge produce in March?", index=index,
                  threshold=0.0)
    c = a.citations[0]
    assert c.doc_id == "reports/glassworks.pdf" and c.page == 2
    assert a.text.startswith("8,400")  # the reader's "8,400"; the sentence answerer's sentence holds "8,400 bottles"
    assert index.doc_by_id[c.doc_id].text[c.start:c.end] == c.quote == a.text
    assert qa.verify(a, index=index) == []
    # the saved index keeps the extracted text and page starts
    again = qa.load_index(docs=office, index_dir=tmp_path / "idx", config=HASHING)
    assert again.doc_by_id[c.doc_id].pages == index.doc_by_id[c.doc_id].pages
    # verify extracts the file again: a changed PDF is reported, saying whether the quote still stands
    make_pdf(office / "reports" / "glassworks.pdf", [["A different report."], ["Nothing about furnaces."]])
    problems = qa.verify(a, index=index)
    assert len(problems) == 1 and "changed since it was indexed" in problems[0] and "no longer stands" in problems[0]


def test_scope_limits_to_chosen_files_or_globs(office: Path, tmp_path: Path) -> None:
    index = qa.load_index(docs=office, index_dir=tmp_path / "idx", config=HASHING)
    q = "Who rebuilt the chimney, and where does the ferry go?"
    for only, allowed in (("reports/*.pdf", {"reports/glassworks.pdf"}), (["notes.txt"], {"notes.txt"}),
                          (["minutes.docx", "notes.txt"], {"minutes.docx", "notes.txt"})):
        hits = qa.retrieve(q, k=10, index=index, only=only)
        assert hits and {h.doc_id for h in hits} <= allowed
        a = qa.answer(q, index=index, only=only, threshold=0.0, top_n=3)
        assert {c.doc_id for x in (a, *a.alternatives) for c in x.citations} <= allowed
    with pytest.raises(qa.ScopeError, match="ghost.pdf"):
        qa.answer(q, index=index, only=["ghost.pdf"])


def test_cli_ask_prints_the_page_and_json_carries_it(office: Path, tmp_path: Path) -> None:
    args = ["--docs", str(office), "--index", str(tmp_path / "idx"), "--model", "hashing"]
    q = "How many bottles did the furnace at Hollow Ridge produce in March?"
    r = run_qa("ask", q, "--only", "reports/*.pdf", "--threshold", "0", *args)
    assert r.returncode == 0, r.stderr
    assert "reports/glassworks.pdf, page 2, characters" in r.stdout
    r = run_qa("ask", q, "--only", "reports/*.pdf", "--threshold", "0", "--json", *args)
    cite = json.loads(r.stdout)["citations"][0]
    assert cite["page"] == 2 and cite["doc_id"] == "reports/glassworks.pdf"
    saved = tmp_path / "answer.json"
    saved.write_text(r.stdout, encoding="utf-8")
    r = run_qa("verify", str(saved), *args)
    assert r.returncode == 0, r.stdout + r.stderr


def test_damaged_files_that_their_libraries_fail_on_oddly_are_one_warning(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    """pypdf raises NotImplementedError for an unknown filter (and other errors outside PdfReadError for loops
    and limits); python-docx hands back comments in the body as nodes whose tag is not text; neither may stop
    the folder being indexed, and pypdf's own log lines ("error: Advanced encoding …") are not shown."""
    import io
    import zipfile

    docs = tmp_path / "docs"
    docs.mkdir()
    good = make_pdf(tmp_path / "good.pdf", [["The furnace at Hollow Ridge produced 8,400 bottles in March."]])
    data = good.read_bytes()
    (docs / "filter.pdf").write_bytes(data.replace(b"/FlateDecode", b"/FlateDecodX"))
    (docs / "encoding.pdf").write_bytes(data.replace(b"/WinAnsiEncoding", b"/WinAnsiEncodinX"))
    made = make_docx(tmp_path / "c.docx", ["The kiln was relined in April."])
    buf = io.BytesIO()
    with zipfile.ZipFile(made) as z, zipfile.ZipFile(buf, "w") as out:
        for item in z.infolist():
            body = z.read(item.filename)
            if item.filename == "word/document.xml":
                body = body.replace(b"<w:body>", b"<w:body><!-- generated --><?pi x?>")
            out.writestr(item, body)
    (docs / "comment.docx").write_bytes(buf.getvalue())
    (docs / "notes.txt").write_text("The harbour wall was rebuilt in 1962.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        docs_read = {d.doc_id: d for d in load_documents(docs)}
    assert "filter.pdf" not in docs_read and "filter.pdf: not a readable PDF (NotImplementedError" in caplog.text
    assert "8,400" in docs_read["encoding.pdf"].text
    assert docs_read["comment.docx"].text == "The kiln was relined in April.\n"
    assert "Advanced encoding" not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("pypdf")]


def test_a_docx_that_unpacks_to_too_much_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    import qa.formats

    docs = tmp_path / "docs"
    docs.mkdir()
    make_docx(docs / "big.docx", ["word " * 20_000])
    (docs / "notes.txt").write_text("The harbour wall was rebuilt in 1962.\n", encoding="utf-8")
    monkeypatch.setattr(qa.formats, "MAX_UNPACKED_BYTES", 64 * 1024)  # as a zip bomb is to the real limit
    with caplog.at_level(logging.WARNING):
        ids = [d.doc_id for d in load_documents(docs)]
    assert ids == ["notes.txt"] and "big.docx: unpacks to" in caplog.text and "(not read)" in caplog.text
