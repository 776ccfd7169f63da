"""Choose how much the reader re-ranks the best sentences (``w_reader``) and fit its confidence calibration.

Like ``tune_answer.py``, for the answerer with a reader: for every question, the sentence answerer's best
``reader_windows`` sentences are read (each with its neighbours) and the reader points at one span in each.
A candidate's score is its sentence's score plus ``w_reader`` times the reader's span-over-no-answer margin.

1. Grid-search ``w_reader`` on the main set (answer_contains@1 of the span, no abstention).
2. Fit the logistic confidence (the sentence features plus ``reader``) on the main set and the ``--also``
   sets, each weighing the same; the threshold is the highest that withholds at most ``--max-loss`` of the
   right answers of every set. ``--write`` stores it in ``qa/data/calibration.json`` under
   ``<embedding model>|reader:<reader id>``.

    python benchmarks/tune_reader.py --reader bundled --docs ../shared/data/squad2-open/corpus \\
        --questions ../shared/data/squad2-open/questions-dev.jsonl --also seeds tests/data/seeds-dev.jsonl --write

``--keep-weights`` keeps the configured ``w_reader`` (step 1 only reports its grid) and re-fits the calibration
alone, as for an embedding model (``QA_MODEL``) whose calibration must match the weights the engine uses.
``--features`` fits on the features named instead (any a candidate carries, and ``margin``), to measure what
one adds or takes away.

The held-out sets (tests/data/seeds-questions.jsonl, seeds-followups.jsonl) are never used here.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import qa  # noqa: E402
from qa.answering import Answerer  # noqa: E402
from qa.calibration import FEATURES, fit_logistic  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.evaluation import covers, golds, read_questions  # noqa: E402
from qa.index import load_index  # noqa: E402
from qa.reader import Reader  # noqa: E402

CALIBRATION = Path(__file__).resolve().parents[1] / "qa" / "data" / "calibration.json"
R_FEATURES = (*FEATURES, "reader")


def collect(index, questions, reader: Reader, config: Config):
    """Per question: [(features, span covers a gold answer, hit, sentence score)] of the reader's spans."""
    ans = Answerer(index, config=replace(config, w_reader=0.0), reader=reader)
    rows = []
    for n, q in enumerate(questions):
        turns = ans.conversation(q["question"], q.get("history"))
        r = ans.read(q["question"], turns, k=config.read_passages)
        gs = golds(q)
        rows.append([(c.features, any(covers(r.ranked.hits[c.hit].doc_id, c.start, c.end, g) for g in gs), c.hit,
                      c.score) for c in r.candidates])
        if n % 500 == 0:
            print(f"  {n}/{len(questions)}", flush=True)
    return rows


def rows_for(docs, questions, index_dir, config, reader):
    index = load_index(docs=docs, index_dir=index_dir, config=config)
    qs = read_questions(questions)
    src = b"".join((Path(qa.__file__).parent / m).read_bytes()
                   for m in ("answering.py", "answertype.py", "followup.py", "reader.py", "retrieval.py", "rerank.py"))
    weights = Path(reader.model_name, "model.safetensors")
    key = (questions, len(index), index.embedder.model_id, index.embedder.model_version, R_FEATURES,
           config.read_passages, config.reader_windows, config.reader_lead, config.w_dense, config.w_bm25,
           config.w_sentence, config.w_answer, config.w_type, config.w_near, config.rerank, config.rerank_margin,
           config.w_rerank, hashlib.sha1(src).hexdigest(),
           weights.stat().st_mtime if weights.exists() else 0)
    cache = Path("benchmarks/out") / f"reader_rows-{hashlib.sha1(questions.encode()).hexdigest()[:8]}.pkl"
    cached = pickle.loads(cache.read_bytes()) if cache.exists() else None
    if cached and cached[0] == key:
        return index, qs, cached[1]
    rows = collect(index, qs, reader, config)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps((key, rows)))
    return index, qs, rows


def pick(rows, w_reader):
    out = []
    for cands in rows:
        if not cands:
            out.append(None)
            continue
        s = [base + w_reader * f["reader"] for f, _, _, base in cands]
        best = int(np.argmax(s))
        other = max((s[i] for i in range(len(cands)) if cands[i][2] != cands[best][2]), default=s[best])
        out.append((cands[best][0], cands[best][1], s[best] - other))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reader", default="bundled")
    ap.add_argument("--docs", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--index", default="benchmarks/out/squad-index")
    ap.add_argument("--also", nargs=2, action="append", default=[], metavar=("DOCS", "QUESTIONS"))
    ap.add_argument("--max-loss", type=float, default=0.10)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--keep-weights", action="store_true",
                    help="keep the configured w_reader; only re-fit the calibration")
    ap.add_argument("--features", nargs="+", default=None, metavar="FEATURE",
                    help="the candidate features the calibration is fitted on (default: qa.calibration.FEATURES "
                         "and `reader`), to measure a feature's worth by leaving it out or adding one")
    args = ap.parse_args()
    features = tuple(args.features) if args.features else R_FEATURES
    config = Config.from_env()
    reader = Reader(args.reader)
    index, qs, rows = rows_for(args.docs, args.questions, args.index, config, reader)
    answerable = np.array([bool(q["answers"]) for q in qs])
    grid = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
    accs = {}
    for w in grid:
        picked = pick(rows, w)
        accs[w] = float(np.mean([p is not None and p[1] for p, a in zip(picked, answerable, strict=True) if a]))
    print("answer_contains@1 (span, no abstention) by w_reader:", {w: round(a, 3) for w, a in accs.items()})
    w_reader = config.w_reader if args.keep_weights else max(grid, key=lambda w: (accs[w], -w))
    sets = [args.questions]
    set_of = np.zeros(len(qs), int)
    for docs, questions in args.also:
        _, more_qs, more_rows = rows_for(docs, questions, f"benchmarks/out/index-{Path(docs).name}", config, reader)
        rows = rows + more_rows
        answerable = np.concatenate([answerable, [bool(q["answers"]) for q in more_qs]])
        set_of = np.concatenate([set_of, np.full(len(more_qs), len(sets))])
        qs = qs + more_qs
        sets.append(questions)
    picked = pick(rows, w_reader)
    keep = np.array([p is not None for p in picked])
    x = np.array([[p[0].get(f, 0.0) if f != "margin" else float(np.clip(p[2], -1, 1)) for f in features]
                  if p is not None else [0.0] * len(features) for p in picked])
    y = np.array([float(p[1]) if p is not None else 0.0 for p in picked])
    sw = 1.0 / np.bincount(set_of)[set_of]
    coef, intercept = fit_logistic(x[keep], y[keep], sample_weight=(sw / sw.mean())[keep])
    prob = np.where(keep, 1 / (1 + np.exp(-(x @ coef + intercept))), 0.0)

    def point(t, mask):
        answered, yy, ans = prob[mask] >= t, y[mask], answerable[mask]
        right = answered & (yy == 1)
        return {"threshold": round(float(t), 2), "coverage": float(answered.mean()),
                "precision": float(right.sum() / max(answered.sum(), 1)),
                "answer_contains@1": float(right[ans].mean()),
                "NoAns_exact": float((~answered)[~ans].mean()) if (~ans).any() else float("nan")}

    ts = np.arange(0.0, 1.0, 0.01)
    per_set = {Path(q).name: [point(t, set_of == i) for t in ts] for i, q in enumerate(sets)}
    ok = [i for i in range(len(ts)) if all(c[i]["answer_contains@1"] >= (1 - args.max_loss) * c[0]["answer_contains@1"]
                                           for c in per_set.values())]
    best_i = max(ok)
    for name, c in per_set.items():
        print(f"  {name} at threshold {ts[best_i]:.2f}:", {k: round(v, 3) for k, v in c[best_i].items()})
    # to compare feature sets apart from the one threshold: each set's NoAns at its own highest threshold that
    # keeps a given share of its right answers
    for name, c in per_set.items():
        at = {keep_: max((p for p in c if p["answer_contains@1"] >= keep_ * c[0]["answer_contains@1"]),
                         key=lambda p: p["threshold"])["NoAns_exact"] for keep_ in (0.95, 0.9, 0.8)}
        print(f"  {name} NoAns keeping 95/90/80% of its right answers:", [round(v, 3) for v in at.values()])
    print(f"w_reader={w_reader} coef={np.round(coef, 3).tolist()} intercept={intercept:.3f}")
    curve = [point(t, set_of == 0) for t in ts]
    Path("benchmarks/out").mkdir(parents=True, exist_ok=True)
    Path("benchmarks/out/reader_curve.json").write_text(json.dumps(curve, indent=1))
    if args.write:
        table = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {}
        table[f"{index.embedder.model_id}|reader:{reader.model_id}"] = {
            "features": list(features), "coef": [float(c) for c in coef], "intercept": float(intercept),
            "threshold": round(float(ts[best_i]), 2), "w_reader": w_reader, "reader_windows": config.reader_windows,
            "reader_lead": config.reader_lead,
            "read_passages": config.read_passages, "threshold_rule": "max-loss", "max_loss": args.max_loss,
            "fitted_on": [Path(q).name for q in sets], "n": len(qs),
            "answer_contains_by_w_reader": accs}
        CALIBRATION.write_text(json.dumps(table, indent=1) + "\n")
        print("wrote", CALIBRATION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
