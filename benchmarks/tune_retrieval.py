"""Choose the fusion weights of retrieval on data.

Computes, once, every signal for every question (dense cosine, BM25, best-sentence cosine over all passages),
then grid-searches the weights of ``qa.retrieval.fuse`` and reports recall@1/@5 and MRR for each setting,
plus the single signals and reciprocal-rank fusion as baselines.

    python benchmarks/tune_retrieval.py --docs ../shared/data/squad2-open/corpus \
        --questions ../shared/data/squad2-open/questions-dev.jsonl
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.config import Config  # noqa: E402
from qa.evaluation import covers, golds, read_questions  # noqa: E402
from qa.index import load_index  # noqa: E402


def signals(index, questions):
    c = index.corpus
    qv = index.embedder.encode_queries([q["question"] for q in questions])
    dense = qv @ c.p_vec.T  # (nq, np)
    sent = c.s_vec @ qv.T  # (ns, nq)
    first = c.s_first[:-1]
    smax = np.maximum.reduceat(sent, first, axis=0).T  # (nq, np); passages all have >= 1 sentence
    bm = np.stack([index.bm25.scores(q["question"]) for q in questions])
    sbm = np.stack([index.s_bm25.scores(q["question"]) for q in questions]).T  # (ns, nq)
    sbm_max = np.maximum.reduceat(sbm, first, axis=0).T
    return dense, bm, smax, sbm_max


def relevant(index, questions):
    c = index.corpus
    rel = []
    for q in questions:
        gs = golds(q)
        mask = np.zeros(len(index), bool)
        for i in range(len(index)):
            doc = c.docs[int(c.p_doc[i])].doc_id
            if any(covers(doc, int(c.p_start[i]), int(c.p_end[i]), g) for g in gs):
                mask[i] = True
        rel.append(mask)
    return np.stack(rel)


def score(fused, rel):
    order = np.argsort(-fused, axis=1)[:, :10]
    hit = np.take_along_axis(rel, order, axis=1)
    first = np.where(hit.any(1), hit.argmax(1) + 1, 0)
    return {"r@1": float((first == 1).mean()), "r@5": float(((first >= 1) & (first <= 5)).mean()),
            "mrr": float(np.where(first > 0, 1.0 / np.maximum(first, 1), 0).mean())}


def rrf(*scores, k=60):
    out = 0
    for s in scores:
        ranks = np.argsort(np.argsort(-s, axis=1), axis=1) + 1
        out = out + 1.0 / (k + ranks)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--index", default="benchmarks/out/squad-index")
    ap.add_argument("--out", default="benchmarks/out/tune_retrieval.json")
    args = ap.parse_args()
    index = load_index(docs=args.docs, index_dir=args.index, config=Config.from_env())
    qs = [q for q in read_questions(args.questions) if q["answers"]]
    t0 = time.time()
    dense, bm, smax, sbm = signals(index, qs)
    rel = relevant(index, qs)
    print(f"{len(qs)} answerable questions, {len(index)} passages, signals in {time.time() - t0:.1f}s")
    bm_rel = bm / np.maximum(bm.max(1, keepdims=True), 1e-9)
    results = {
        "dense": score(dense, rel), "bm25": score(bm, rel), "sentence": score(smax, rel),
        "rrf(dense,bm25)": score(rrf(dense, bm), rel), "rrf(dense,bm25,sentence)": score(rrf(dense, bm, smax), rel),
    }
    for name, r in results.items():
        print(f"{name:<28} {r}")
    sbm_rel = sbm / np.maximum(sbm.max(1, keepdims=True), 1e-9)
    results["sentence_bm25"] = score(sbm, rel)
    print("sentence_bm25", results["sentence_bm25"])
    grid = []
    for wd, wb, ws, wsb in itertools.product(np.arange(0, 1.01, 0.1), repeat=4):
        if abs(wd + wb + ws + wsb - 1) > 1e-6:
            continue
        r = score(wd * dense + wb * bm_rel + ws * smax + wsb * sbm_rel, rel)
        grid.append(((round(wd, 2), round(wb, 2), round(ws, 2), round(wsb, 2)), r))
    grid.sort(key=lambda x: -(x[1]["r@1"] + x[1]["r@5"]))
    for w, r in grid[:10]:
        print(f"w_dense={w[0]} w_bm25={w[1]} w_sentence={w[2]} w_sentence_bm25={w[3]}  {r}")
    with open(args.out, "w") as f:
        json.dump({"baselines": results, "grid": grid}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
