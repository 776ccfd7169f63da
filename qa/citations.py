"""Checking citations: does every quote stand at its offsets, and is its document still what was indexed?"""

from __future__ import annotations

import hashlib
from pathlib import Path

from .documents import extract_text
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
    """Every problem with an answer's citations; an empty list when all is well.

    Checks each quote against the indexed text at its offsets, and — when the index knows its documents
    folder — that the document file still exists and is unchanged (a changed file is re-read and the
    quote checked against its new text as well).
    """
    problems: list[str] = []
    cites = list(answer.citations) + [c for alt in answer.alternatives for c in alt.citations]
    for n, c in enumerate(cites, 1):
        label = f"citation {n}"
        doc = index.doc_by_id.get(c.doc_id)
        if doc is None:
            problems.append(f"{label}: document {c.doc_id!r} is not in the index")
            continue
        problems += check_citation(c, doc.text, label)
        if index.docs_folder is None:
            continue
        path = Path(index.docs_folder) / c.doc_id
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            problems.append(f"{label}: {path} no longer exists (it was indexed)")
            continue
        except OSError as exc:
            problems.append(f"{label}: {path} cannot be read ({exc.strerror})")
            continue
        if hashlib.sha256(data).hexdigest() != doc.sha256:
            text, _, _ = extract_text(path, c.doc_id, data)
            still = text[c.start:c.end] == c.quote
            problems.append(f"{label}: {c.doc_id} changed since it was indexed; the quote "
                            f"{'still stands' if still else 'no longer stands'} at {c.start}-{c.end}")
    return problems
