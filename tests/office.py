"""PDF and Word files with known text on known pages, built by the tests (fpdf2, python-docx)."""

from __future__ import annotations

from pathlib import Path

FURNACE = "The furnace at Hollow Ridge produced 8,400 bottles in March, more than in any month since the war."
PAGES = [
    ["Annual Report of the Hollow Ridge Glassworks",
     "The glassworks at Hollow Ridge was founded in 1921 by the Caskey family, who brought skilled blowers "
     "from the valley towns and built two furnaces beside the railway line."],
    [FURNACE + " The manager, Ines Caskey, credited the new annealing oven.",
     "Deliveries went by rail to the port of Saltmarsh twice a week."],
    None,  # a page with a drawing and no text layer, as a scanned page has
    ["The works closed for a week in August while the chimney was rebuilt by a team of masons from Dunmore."],
]
MINUTES = ["Minutes of the Saltmarsh Harbour Board", "The board agreed to dredge the eastern channel to a depth "
           "of nine metres before the autumn storms.", "The harbourmaster, Tomas Reyes, will retire in June."]


def make_pdf(path: Path, pages: list[list[str] | None]) -> Path:
    import fpdf

    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=12)
    for paras in pages:
        pdf.add_page()
        if paras is None:
            pdf.rect(20, 20, 120, 160, style="F")
            continue
        for p in paras:
            pdf.multi_cell(0, 7, p)  # wraps long paragraphs over several layout lines
            pdf.ln(5)
    pdf.output(str(path))
    return path


def make_docx(path: Path, paras: list[str], table: list[list[str]] | None = None) -> Path:
    import docx

    d = docx.Document()
    for p in paras:
        d.add_paragraph(p)
    if table:
        t = d.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    d.save(str(path))
    return path


