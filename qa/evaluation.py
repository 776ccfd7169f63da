"""Evaluation on a question set (JSONL, the squad2-open format): retrieval recall, answer quality, citations.

Each line: ``{"id", "question", "answers": [{"text", "doc", "start"}], "is_impossible", "doc"?, "history"?}``.
Exact match and F1 follow the official SQuAD 2.0 script (an abstention is the empty answer).

Where the answer stands, over the answerable questions:

* ``answer_contains@1``: answered, and the answer's span covers a gold answer;
* ``sentence_contains@1``: answered, and the sentence the span stands in covers one (what the chat and ``qa ask``
  show around the span; the same as the above for the sentence answerer);
* ``guess_sentence_contains@1``: the same for the best guess whether or not it was withheld
  (:attr:`~qa.results.Answer.withheld`): the measure of squad2-open's reference figure, "picking the single
  sentence most similar to the question from the top passages contains the gold answer 63% of the time".
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .answering import Answerer, clean_question
from .citations import check_citation
from .display import shows_nothing
from .errors import QAError, QuestionError
from .followup import is_turn
from .index import Index
from .results import Answer, Citation, Hit
from .textnorm import exact_score, f1_score

logger = logging.getLogger(__name__)

KEYS = ("n", "HasAns_total", "NoAns_total", "recall@1", "recall@5", "recall@10", "mrr", "answer_contains@1",
        "sentence_contains@1", "guess_sentence_contains@1", "HasAns_exact", "HasAns_f1",
        "NoAns_exact", "exact", "f1", "citations_valid", "retrieve_ms_p50", "answer_ms_p50")


@dataclass(frozen=True)
class Gold:
    doc: str
    start: int
    end: int
    text: str


def read_questions(path: str | Path, max_chars: int | None = None) -> list[dict[str, Any]]:
    """Questions from a JSONL file; a malformed line is an error naming the file and line, and so is a
    question (or an earlier question in its history) over ``max_chars``. Each question keeps where it was read,
    ``"_where"`` (``FILE:LINE``), for what :func:`gold_problems` reports. A repeated id and a question both
    impossible and with answers are warned about (it is scored by its answers)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise QAError(f"question file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise QAError(f"cannot read question file {path}: {exc}") from exc
    out = []
    seen: dict[Any, int] = {}  # id -> the line it was first read on
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except ValueError as exc:
            raise QAError(f"{path}:{n}: not JSON ({exc})") from exc
        if not isinstance(q, dict) or not isinstance(q.get("question"), str):
            raise QAError(f"{path}:{n}: not a question object (a JSON object with \"question\" text)")
        if shows_nothing(q["question"]):
            raise QAError(f"{path}:{n}: the question is empty")
        q.setdefault("answers", [])
        if not isinstance(q["answers"], list) or not all(
                isinstance(a, dict) and isinstance(a.get("text"), str) and isinstance(a.get("doc"), str)
                and isinstance(a.get("start"), int) and not isinstance(a["start"], bool) and a["start"] >= 0
                for a in q["answers"]):
            raise QAError(f"{path}:{n}: \"answers\" must be a list of {{\"text\", \"doc\", \"start\"}} objects "
                          "(\"start\" a character offset: a whole number, 0 or more)")
        history = q.get("history")
        if history is not None and not (isinstance(history, list) and all(is_turn(t) for t in history)):
            raise QAError(f"{path}:{n}: \"history\" must be a list of earlier questions (text, or "
                          "{\"question\", \"answer\"} objects)")
        q.setdefault("is_impossible", not q["answers"])
        if not isinstance(q["is_impossible"], bool):
            raise QAError(f"{path}:{n}: \"is_impossible\" must be true or false")
        if max_chars is not None:  # what qa.answer would refuse, said of this line before any is answered
            for what, text in (("", q["question"]), *((f"history item {k}: ", t if isinstance(t, str) else
                                                       t["question"]) for k, t in enumerate(history or (), 1))):
                try:
                    clean_question(text, max_chars)
                except QuestionError as exc:
                    raise QAError(f"{path}:{n}: {what}{exc}") from None
        if q["is_impossible"] and q["answers"]:
            logger.warning("%s:%d: \"is_impossible\" is true but it lists answers; scored as answerable", path, n)
        if "id" in q and q["id"] in seen:
            logger.warning("%s:%d: id %r repeats line %d", path, n, q["id"], seen[q["id"]])
        seen.setdefault(q.get("id"), n)
        q["_where"] = f"{path}:{n}"
        out.append(q)
    if not out:
        raise QAError(f"no questions in {path}")
    return out


def gold_problems(index: Index, questions: Iterable[dict[str, Any]]) -> list[str]:
    """Gold answers that cannot be right about this index: their document is not in it, or their text is not
    the document's text at their offsets (such a question is scored, but against a gold answer nothing can
    cover, or that covers the wrong words). One line each, naming the file and line of the question."""
    out = []
    for i, q in enumerate(questions, 1):
        where = q.get("_where") or f"question {i}"
        for a in q.get("answers", ()):
            doc = index.doc_by_id.get(a["doc"])
            if doc is None:
                out.append(f"{where}: gold answer {a['text']!r} is in {a['doc']!r}, which is not in the index")
                continue
            found = doc.text[a["start"]:a["start"] + len(a["text"])]
            if found != a["text"]:
                out.append(f"{where}: gold answer {a['text']!r} is not the text of {a['doc']} at {a['start']} "
                           f"({found[:40]!r}{'…' if len(found) > 40 else ''})")
    return out


def golds(q: dict[str, Any]) -> list[Gold]:
    return [Gold(a["doc"], int(a["start"]), int(a["start"]) + len(a["text"]), a["text"]) for a in q["answers"]]


def covers(doc_id: str, start: int, end: int, g: Gold) -> bool:
    """A span covers a gold answer when it is in the same document and contains its character range."""
    return _same_doc(doc_id, g.doc) and start <= g.start and g.end <= end


def _same_doc(doc_id: str, gold_doc: str) -> bool:
    return doc_id == gold_doc or doc_id.endswith("/" + gold_doc)


def first_relevant(hits: list[Hit], gs: list[Gold]) -> int | None:
    for i, h in enumerate(hits):
        if any(covers(h.doc_id, h.start, h.end, g) for g in gs):
            return i + 1
    return None


def score_answer(ans: Answer, q: dict[str, Any]) -> tuple[float, float]:
    pred = "" if ans.no_answer or ans.text is None else ans.text
    truths = [a["text"] for a in q["answers"]] or [""]
    return max(exact_score(pred, t) for t in truths), max(f1_score(pred, t) for t in truths)


def evaluate(
    index: Index,
    questions: Iterable[dict[str, Any]],
    answerer: Answerer | None = None,
    progress: Callable[[int, int], None] | None = None,
    threshold: float | None = None,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Answer every question and score it. Returns ``(summary, per_question_rows)``; summary keys: KEYS.
    ``threshold``: the no-answer threshold the answers are given with (default: the configured one)."""
    questions = list(questions)
    answerer = answerer or Answerer(index)
    problems = gold_problems(index, questions)
    for line in problems[:5]:
        logger.warning("%s", line)
    if len(problems) > 5:
        logger.warning("… and %d more gold answers that do not match the documents", len(problems) - 5)
    rows = []
    r_ms, a_ms = [], []
    cites_ok = cites_all = 0
    for n, q in enumerate(questions, 1):
        gs = golds(q)
        hits = None
        if not q.get("history"):
            t0 = time.perf_counter()
            hits = answerer.retrieve(q["question"], 10).hits[:10]
            r_ms.append((time.perf_counter() - t0) * 1000)
        t1 = time.perf_counter()
        ans = answerer.answer(q["question"], history=q.get("history"), k=10, threshold=threshold)
        a_ms.append((time.perf_counter() - t1) * 1000)
        if hits is None:  # a follow-up: retrieval is measured on the query the answerer searched with
            t0 = time.perf_counter()
            hits = answerer.retrieve(ans.query, 10, reuse=False).hits[:10]
            r_ms.append((time.perf_counter() - t0) * 1000)
        else:  # the answer re-used the ranking just measured: its time as a user sees it includes that
            a_ms[-1] += r_ms[-1]
        for c in ans.citations:
            cites_all += 1
            cites_ok += not check_citation(c, index.doc_by_id[c.doc_id].text, "")
        em, f1 = score_answer(ans, q)
        first = ans.citations[0] if ans.citations else None
        rows.append({
            "id": q.get("id"), "question": q["question"], "answerable": bool(gs),
            "rank": first_relevant(hits, gs) if gs else None,
            "contains": bool(first and any(covers(first.doc_id, first.start, first.end, g) for g in gs)),
            "sentence_contains": _sentence_contains(first, gs),
            "guess_sentence_contains": _sentence_contains(first or ans.withheld, gs),
            "prediction": ans.text, "no_answer": ans.no_answer, "confidence": ans.confidence,
            "exact": em, "f1": f1,
        })
        if progress:
            progress(n, len(questions))
    return summarize(rows, cites_ok, cites_all, r_ms, a_ms), rows


def _sentence_contains(cite: Citation | None, gs: list[Gold]) -> bool:
    """True when the sentence the citation stands in (all of them, for a span running over several) covers a
    gold answer: what the reader sees highlighted around the span."""
    return cite is not None and any(covers(cite.doc_id, cite.sentence_start, cite.sentence_end, g) for g in gs)


def summarize(rows: list[dict[str, Any]], cites_ok: int, cites_all: int, r_ms: list[float],
              a_ms: list[float]) -> dict[str, float]:
    has = [r for r in rows if r["answerable"]]
    no = [r for r in rows if not r["answerable"]]

    def share(items: list[Any]) -> float:
        return float(np.mean(items)) if items else float("nan")

    return {
        "n": len(rows),
        "HasAns_total": len(has),  # as SQuAD 2.0's own evaluation script counts them
        "NoAns_total": len(no),
        "recall@1": share([r["rank"] is not None and r["rank"] <= 1 for r in has]),
        "recall@5": share([r["rank"] is not None and r["rank"] <= 5 for r in has]),
        "recall@10": share([r["rank"] is not None and r["rank"] <= 10 for r in has]),
        "mrr": share([1.0 / r["rank"] if r["rank"] else 0.0 for r in has]),
        "answer_contains@1": share([r["contains"] for r in has]),
        "sentence_contains@1": share([r["sentence_contains"] for r in has]),
        "guess_sentence_contains@1": share([r["guess_sentence_contains"] for r in has]),
        "HasAns_exact": share([r["exact"] for r in has]),
        "HasAns_f1": share([r["f1"] for r in has]),
        "NoAns_exact": share([r["no_answer"] for r in no]),
        "exact": share([r["exact"] for r in rows]),
        "f1": share([r["f1"] for r in rows]),
        "citations_valid": cites_ok / cites_all if cites_all else 1.0,
        "retrieve_ms_p50": float(np.median(r_ms)) if r_ms else float("nan"),
        "answer_ms_p50": float(np.median(a_ms)) if a_ms else float("nan"),
    }


def format_table(summary: dict[str, float]) -> str:
    w = max(len(k) for k in KEYS)
    lines = [f"{'measure':<{w}} value"]
    for k in KEYS:
        v = summary[k]
        lines.append(f"{k:<{w}} {v:d}" if isinstance(v, int) else f"{k:<{w}} {v:.3f}")
    return "\n".join(lines)
