"""Re-ranking: the extractive reader reads the best passages whole and moves up those it finds an answer in.

A passage's new score is its fused retrieval score relative to the best one, plus ``w_rerank`` times the
reader's confidence that it holds an answer: its best span's score over its "no answer" score, divided by
10 and clipped to [-1, 1] (the margin the answerer already uses). Only the first ``rerank`` passages move;
``Hit.score`` stays the retrieval score, ``Hit.reader_score`` carries the margin and ``Hit.rerank_score`` the
new score, which orders the re-ranked hits.

It runs only where retrieval is unsure (:func:`unsure`): the best fused score leads the second by less than
``rerank_margin`` of itself. On squad2-open dev (``benchmarks/tune_rerank.py``, 2-core CPU, the bundled
models) re-ranking the best 10 with weight 0.5 takes recall@1 from 0.810 to 0.855 and recall@5 from 0.951 to
0.965 at about 0.37 s per question (the reader's p50); gated at 0.12 it re-ranks 31% of the questions for
recall@1 0.855 and recall@5 0.965 (``benchmarks/run_eval.sh``), so the median question pays nothing. That gate
and weight are the defaults (``QA_RERANK=0`` turns re-ranking off, ``QA_RERANK_MARGIN=1`` re-ranks every
question); with the reader fine-tuned on sentence windows the script now picks weight 0.3 (one question
better), not adopted: the reader's answers came out slightly worse with it (see the README).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .reader import Reader, scaled_margin
from .retrieval import Ranked


def unsure(scores: np.ndarray, margin: float) -> bool:
    """Whether retrieval is unsure of its ranking: the best fused score (``scores`` best first) leads the
    second by less than ``margin`` of itself. Only then is re-ranking worth the reader's time; a ``margin`` of 1
    or more re-ranks every ranking."""
    if margin >= 1:
        return True
    if len(scores) < 2:
        return False
    top = float(scores[0])
    return top <= 0 or (top - float(scores[1])) / top < margin


def reader_margins(reader: Reader, question: str, texts: list[str]) -> np.ndarray:
    """For each text, the reader's best span score over its no-answer score (-10 where it finds no span)."""
    margins = np.full(len(texts), -10.0)
    for g in reader.read(question, texts, top=1):
        margins[g.context] = max(margins[g.context], g.score - g.null_score)
    return margins


def combine(scores: np.ndarray, margins: np.ndarray, weight: float) -> np.ndarray:
    """Retrieval scores relative to the best, plus ``weight`` times the clipped reader margins."""
    top = float(scores.max()) if len(scores) and scores.max() > 0 else 1.0
    return scores / top + weight * scaled_margin(margins)


def rerank(ranked: Ranked, question: str, reader: Reader, depth: int, weight: float) -> Ranked:
    """``ranked`` with its first ``depth`` hits re-ordered by :func:`combine` (the rest keep their places)."""
    n = min(depth, len(ranked.hits))
    if n < 2:
        return ranked
    head = ranked.hits[:n]
    margins = reader_margins(reader, question, [h.text for h in head])
    combined = combine(np.array([h.score for h in head]), margins, weight)
    order = np.argsort(-combined, kind="stable")
    order = np.concatenate([order, np.arange(n, len(ranked.hits))]).astype(int)
    hits = [replace(ranked.hits[i], rank=r + 1, reader_score=float(margins[i]) if i < n else None,
                    rerank_score=float(combined[i]) if i < n else None)
            for r, i in enumerate(order)]
    return Ranked(hits, ranked.query, ranked.q_vec, ranked.passages[order],
                  [ranked.sent_ids[i] for i in order], [ranked.sent_cos[i] for i in order])
