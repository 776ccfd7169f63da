"""Choose how the reader re-ranks passages (:mod:`qa.rerank`): how many (``rerank``) and how much (``w_rerank``).

For every answerable question of the set, retrieval's best ``--depth`` passages are read whole by the reader
once; recall@1 and recall@5 are then computed for each depth and weight of the grid from those margins, with
the library's own :func:`qa.rerank.combine`. The choice is the best recall@1 (ties: recall@5, then the
smaller depth). Then the gate (``rerank_margin``, :func:`qa.rerank.unsure`): re-ranking only the questions whose
best passage leads the second by less than that share of its score; the choice is the best recall@1 among the
gates that send at most a third of all questions to the reader, so that the median question pays nothing.
Results, with the time the reader took per question, go to ``--out``.

    python benchmarks/tune_rerank.py --docs ../shared/data/squad2-open/corpus \\
        --index benchmarks/out/squad-index --questions ../shared/data/squad2-open/questions-dev.jsonl \\
        --out benchmarks/results/rerank.json

About 15 minutes on a 2-core CPU for squad2-open dev (1,414 answerable questions, 10 passages each).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import qa  # noqa: E402
from qa.evaluation import covers, golds, read_questions  # noqa: E402
from qa.reader import Reader  # noqa: E402
from qa.rerank import combine, reader_margins, unsure  # noqa: E402
from qa.retrieval import rank  # noqa: E402

WEIGHTS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)


GATES = (0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 1.0)
MOST_RERANKED = 1 / 3  # a gate may send at most this share of questions to the reader (so the median pays nothing)


def recall(rows: list[dict], depth: int, weight: float, gate: float = 1.0) -> tuple[float, float]:
    r1 = r5 = 0
    for r in rows:
        rel = r["rel"]  # retrieval's order, unless the gate lets the reader re-rank the first ``depth``
        if unsure(r["score"], gate):
            head = np.argsort(-combine(r["score"][:depth], r["margin"][:depth], weight), kind="stable")
            rel = np.concatenate([rel[:depth][head], rel[depth:]])
        r1 += bool(rel[:1].any())
        r5 += bool(rel[:5].any())
    return r1 / len(rows), r5 / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--reader", default="bundled")
    ap.add_argument("--depth", type=int, default=10, help="the most passages re-ranked (the grid: 5 and this)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    index = qa.load_index(args.docs, args.index, progress=False)
    reader = Reader(args.reader, backend=index.config.backend)
    every = read_questions(args.questions)
    questions = [q for q in every if q["answers"]]
    rows, ms = [], []
    for n, q in enumerate(questions, 1):
        hits = rank(index, q["question"], k=args.depth).hits
        t0 = time.perf_counter()
        margins = reader_margins(reader, q["question"], [h.text for h in hits])
        ms.append((time.perf_counter() - t0) * 1000)
        gs = golds(q)
        rows.append({"score": np.array([h.score for h in hits]), "margin": margins,
                     "rel": np.array([any(covers(h.doc_id, h.start, h.end, g) for g in gs) for h in hits])})
        if n % 200 == 0:
            print(f"{n}/{len(questions)} read, {np.median(ms):.0f} ms per question", flush=True)

    grid = []
    for depth in sorted({5, args.depth}):
        for w in WEIGHTS:
            r1, r5 = recall(rows, depth, w)
            grid.append({"depth": depth, "w_rerank": w, "recall@1": round(r1, 4), "recall@5": round(r5, 4)})
            print(f"depth {depth:2d}  w {w:<5}  recall@1 {r1:.3f}  recall@5 {r5:.3f}")
    best = max(grid, key=lambda g: (g["recall@1"], g["recall@5"], -g["depth"]))
    base = next(g for g in grid if g["w_rerank"] == 0.0)
    print(f"chosen: depth {best['depth']}, w_rerank {best['w_rerank']} (recall@1 {base['recall@1']:.3f} -> "
          f"{best['recall@1']:.3f}, recall@5 {base['recall@5']:.3f} -> {best['recall@5']:.3f}); "
          f"reader p50 {np.median(ms):.0f} ms per question for {args.depth} passages")

    # the gate: re-rank only where retrieval is unsure (qa.rerank.unsure); the share of all questions (answerable
    # or not) it sends to the reader is what it costs
    tops = [np.array([h.score for h in rank(index, q["question"], k=2).hits]) for q in every]
    gates = []
    for gate in GATES:
        r1, r5 = recall(rows, best["depth"], best["w_rerank"], gate)
        share = float(np.mean([unsure(t, gate) for t in tops]))
        gates.append({"rerank_margin": gate, "share_reranked": round(share, 4), "recall@1": round(r1, 4),
                      "recall@5": round(r5, 4)})
        print(f"margin {gate:<5} re-ranks {share:.0%} of questions  recall@1 {r1:.3f}  recall@5 {r5:.3f}")
    gate = max((g for g in gates if g["share_reranked"] <= MOST_RERANKED),
               key=lambda g: (g["recall@1"], g["recall@5"], -g["share_reranked"]))
    print(f"chosen: rerank_margin {gate['rerank_margin']} (the best recall@1 re-ranking at most a third of questions)")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump({"questions": args.questions, "answerable": len(rows), "reader": reader.model_id,
                       "reader_ms_p50": round(float(np.median(ms)), 1), "chosen": best, "grid": grid,
                       "chosen_gate": gate, "gates": gates}, f, indent=1)


if __name__ == "__main__":
    main()
