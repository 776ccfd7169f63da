"""Checking citations: does every quote stand at its offsets, and is its document still what was indexed?"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .documents import extract_text
from .formats import UnreadableFile
from .index import Index
from .results import Answer, Citation


def check_citation(c: Citation, text: str, label: str) -> list[str]:
    """Problems of one citation against a document text (empty when the quote stands at its offsets)."""
    problems = []
    if not (0 <= c.start <= c.end <= len(text)):
        return [f"{label}: offsets {c.start}-{c.end} lie outside {c.doc_id} ({len(text)} characters)"]
    if text[c.start:c.end] != c.quote:
        found = text[c.start:c.end]
        problems.append(f"{label}: quote {c.quote[:60]!r} does not equal {c.doc_id}[{c.start}:{c.end}] "
                        f"= {found[:60]!r}")
    if not (c.passage_start <= c.sentence_start <= c.start and c.end <= c.sentence_end <= c.passage_end):
        problems.append(f"{label}: span {c.start}-{c.end} is not inside its sentence "
                        f"{c.sentence_start}-{c.sentence_end} and passage {c.passage_start}-{c.passage_end}")
    return problems


def verify(answer: Answer, index: Index) -> list[str]:
    """Every problem with an answer's citations (and its withheld guess); an empty list when all is well.

    An answer's text must be its first citation's quote (as ``qa.answer`` gives it), or it is not checked.
    Checks each quote against the indexed text at its offsets and — when the index knows its documents
    folder — extracts the file's text again (PDF and Word included) and checks the quote against that too,
    saying when the file changed since it was indexed.
    """
    problems: list[str] = []
    for label, a in [("the answer", answer), *((f"other answer {n}", x) for n, x in enumerate(answer.alternatives, 1))]:
        # an answer's text is its first citation's quote: text the citations do not carry is not checked by them
        if a.text is not None and not a.citations:
            problems.append(f"{label} has text but no citation")
        elif a.text is not None and a.text != a.citations[0].quote:
            problems.append(f"{label}'s text is not the quote of its first citation")
        if a.no_answer and (a.text is not None or a.citations):
            problems.append(f"{label} is marked as no answer but has {'text' if a.text is not None else 'citations'}")
        elif not a.no_answer and a.text is None and label == "the answer":
            problems.append(f"{label} is not marked as no answer but has no text")
        if not 0.0 <= a.confidence <= 1.0:
            problems.append(f"{label}'s confidence {a.confidence!r} is not a probability (0 to 1)")
    fresh: dict[str, tuple[str | None, bool, str]] = {}  # doc_id -> (re-extracted text, changed, trouble)
    cites = list(answer.citations) + [c for alt in answer.alternatives for c in alt.citations]
    labelled = [(f"citation {n}", c) for n, c in enumerate(cites, 1)]
    if answer.withheld is not None:  # not an answer, but its offsets are a claim like any other
        labelled.append(("withheld guess", answer.withheld))
    for label, c in labelled:
        doc = index.doc_by_id.get(c.doc_id)
        if doc is None:
            problems.append(f"{label}: document {c.doc_id!r} is not in the index")
            continue
        own = check_citation(c, doc.text, label)
        problems += own
        if index.docs_folder is None:
            continue
        path = Path(index.docs_folder) / c.doc_id
        if c.doc_id not in fresh:
            fresh[c.doc_id] = _reextract(path, c.doc_id, doc.sha256)
        text, changed, trouble = fresh[c.doc_id]
        if text is None:
            problems.append(f"{label}: {trouble}")
            continue
        stands = text[c.start:c.end] == c.quote
        if changed:
            problems.append(f"{label}: {c.doc_id} changed since it was indexed; the quote "
                            f"{'still stands' if stands else 'no longer stands'} at {c.start}-{c.end}")
        elif not stands and not own:  # same file, different text: the extractor itself changed
            problems.append(f"{label}: the quote is not at {c.start}-{c.end} of the text extracted again from "
                            f"{path} (the file is unchanged: was the extractor updated? re-index it)")
    # the passages shown with the answer (the nearest ones, when it is withheld) are quotes too
    for n, h in enumerate(answer.passages, 1):
        doc = index.doc_by_id.get(h.doc_id)
        if doc is None:
            problems.append(f"passage {n}: document {h.doc_id!r} is not in the index")
        elif not (0 <= h.start <= h.end <= len(doc.text)) or doc.text[h.start:h.end] != h.text:
            problems.append(f"passage {n}: its text is not the text of {h.doc_id} at {h.start}-{h.end}")
    return problems


def _reextract(path: Path, doc_id: str, sha256: str) -> tuple[str | None, bool, str]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, True, f"{path} no longer exists (it was indexed)"
    except OSError as exc:
        return None, True, f"{path} cannot be read ({exc.strerror})"
    changed = hashlib.sha256(data).hexdigest() != sha256
    try:
        text, _, _ = extract_text(path, doc_id, data)
    except UnreadableFile as exc:
        return None, changed, f"{path} can no longer be read: {exc}"
    return text, changed, ""
