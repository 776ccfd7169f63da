"""Choose the default answerer's sentence weights and fit its confidence calibration on data.

1. For every question, retrieve and score every sentence of the top passages (features: cosine with the
   question, idf-weighted coverage of the question's terms, the passage's retrieval scores, whether the
   sentence offers the kind of answer asked for, ...; see ``qa.calibration.FEATURES``).
2. Grid-search, on the main set, the weights that put a sentence covering the gold answer first
   (answer_contains@1 without abstention) and how many passages to read.
3. Fit a logistic model of "the chosen sentence covers a gold answer" (unanswerable questions are 0) on the
   main set and the ``--also`` sets, each set weighing the same. The no-answer threshold is the highest one
   that withholds at most 10% (``--max-loss``) of the right answers of every set. ``--write`` stores the
   result in ``qa/data/calibration.json``; the main set's curve goes to ``benchmarks/out/answer_curve.json``.
   ``--keep-weights`` skips step 2 (and ``w_near``'s choice): the configured weights are kept and only the
   calibration is re-fitted, as after a change elsewhere (retrieval, re-ranking) that leaves the weights be.

    python benchmarks/tune_answer.py --docs ../shared/data/squad2-open/corpus \
        --questions ../shared/data/squad2-open/questions-dev.jsonl \
        --also seeds tests/data/seeds-dev.jsonl --write

About 3 minutes on a 2-core CPU with the squad index built (candidate rows are cached in benchmarks/out/).
The held-out sets (tests/data/seeds-questions.jsonl, seeds-followups.jsonl) are never used here.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import qa  # noqa: E402
from qa.answering import Answerer  # noqa: E402
from qa.calibration import FEATURES, fit_logistic  # noqa: E402
from qa.config import Config  # noqa: E402
from qa.evaluation import covers, golds, read_questions  # noqa: E402
from qa.index import load_index  # noqa: E402

CALIBRATION = Path(__file__).resolve().parents[1] / "qa" / "data" / "calibration.json"


def collect(index, questions, n_read):
    ans = Answerer(index)
    rows = []
    for q in questions:
        turns = ans.conversation(q["question"], q.get("history"))  # follow-ups are read as the chat reads them
        r = ans.read(q["question"], turns, k=n_read, n_read=n_read)
        gs = golds(q)
        rows.append([(c.features, any(covers(r.ranked.hits[c.hit].doc_id, c.start, c.end, g) for g in gs),
                      c.hit) for c in r.candidates])
    return rows


def pick(rows, w, n_read, w_type=0.0, w_near=0.0):
    out = []
    for cands in rows:
        cands = [c for c in cands if c[2] < n_read]
        if not cands:
            out.append(None)
            continue
        s = [w[0] * f["sent_cos"] + w[1] * f["sent_lex"] + w[2] * f["passage_rel"] - w_type * f["type_missing"]
             + w_near * f.get("near_previous", 0.0) for f, *_ in cands]
        order = np.argsort(s)[::-1]
        best = order[0]
        other = next((s[i] for i in order[1:] if cands[i][2] != cands[best][2]), s[best])
        out.append((cands[best][0], cands[best][1], s[best] - other))
    return out


def rows_for(docs: str, questions: str, index_dir: str, config: Config):
    """Candidate rows of one question set over its own documents (cached in benchmarks/out/)."""
    import hashlib
    import pickle

    index = load_index(docs=docs, index_dir=index_dir, config=config)
    qs = read_questions(questions)
    sources = ("answering.py", "answertype.py", "bm25.py", "retrieval.py", "followup.py", "rerank.py")
    code = hashlib.sha1(b"".join((Path(qa.__file__).parent / m).read_bytes() for m in sources)).hexdigest()
    key = (questions, index.embedder.model_id, index.embedder.model_version, config.w_dense, config.w_bm25,
           config.w_sentence, config.rerank, config.rerank_margin, config.w_rerank, len(index), FEATURES, code)
    cache = Path("benchmarks/out") / f"answer_rows-{hashlib.sha1(questions.encode()).hexdigest()[:8]}.pkl"
    cached = pickle.loads(cache.read_bytes()) if cache.exists() else None
    if cached and cached[0] == key:
        return index, qs, cached[1]
    rows = collect(index, qs, 5)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(pickle.dumps((key, rows)))
    return index, qs, rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--questions", required=True)
    ap.add_argument("--index", default="benchmarks/out/squad-index")
    ap.add_argument("--also", nargs=2, action="append", default=[], metavar=("DOCS", "QUESTIONS"),
                    help="another question set over its own documents, added to the calibration data")
    ap.add_argument("--write", action="store_true", help="write qa/data/calibration.json")
    ap.add_argument("--rule", choices=["max-loss", "balanced"], default="max-loss",
                    help="how the no-answer threshold is chosen (default: max-loss; balanced: best balanced accuracy)")
    ap.add_argument("--max-loss", type=float, default=0.10,
                    help="with --rule max-loss: share of right answers the threshold may withhold")
    ap.add_argument("--keep-weights", action="store_true",
                    help="keep the configured read_passages, w_answer, w_type and w_near; only re-fit the calibration")
    args = ap.parse_args()
    config = Config.from_env()
    index, qs, rows = rows_for(args.docs, args.questions, args.index, config)
    answerable = np.array([bool(q["answers"]) for q in qs])

    def accuracy(n_read: int, w: tuple, w_type: float) -> float:
        picked = pick(rows, w, n_read, w_type)
        return float(np.mean([p is not None and p[1] for p, a in zip(picked, answerable) if a]))

    if args.keep_weights:
        n_read, w, w_type = config.read_passages, tuple(config.w_answer), config.w_type
        acc = accuracy(n_read, w, w_type)
    else:
        best = None
        for n_read in (1, 3, 5):
            for w in itertools.product(np.arange(0, 1.01, 0.1), repeat=3):
                if abs(sum(w) - 1) > 1e-6:
                    continue
                for w_type in (0.0, 0.05, 0.1, 0.2, 0.3):
                    acc = accuracy(n_read, w, w_type)
                    if best is None or acc > best[0] + 1e-9:
                        best = (acc, n_read, tuple(round(float(x), 2) for x in w), w_type)
        acc, n_read, w, w_type = best
    print(f"{'kept' if args.keep_weights else 'best'} answer_contains@1 (no abstention) = {acc:.3f} with "
          f"read_passages={n_read}, w_answer={w}, w_type={w_type}")
    sets = [args.questions]
    set_of = np.zeros(len(qs), int)
    for docs, questions in args.also:  # the weights come from the main set; calibration uses all sets
        _, more_qs, more_rows = rows_for(docs, questions, f"benchmarks/out/index-{Path(docs).name}", config)
        rows = rows + more_rows
        answerable = np.concatenate([answerable, [bool(q["answers"]) for q in more_qs]])
        set_of = np.concatenate([set_of, np.full(len(more_qs), len(sets))])
        qs = qs + more_qs
        sets.append(questions)
    # w_near only matters for follow-ups: chosen on the follow-ups of the --also sets (squad has none)
    follow = np.array([bool(q.get("history")) for q in qs])
    w_near = config.w_near if args.keep_weights else 0.0
    if follow.any() and not args.keep_weights:
        near_acc = {}
        for wn in (0.0, 0.05, 0.1, 0.2, 0.3, 0.5):
            got = pick([r for r, f in zip(rows, follow, strict=True) if f], w, n_read, w_type, wn)
            ans_f = answerable[follow]
            near_acc[wn] = float(np.mean([p is not None and p[1] for p, a in zip(got, ans_f, strict=True) if a]))
        w_near = max(near_acc, key=lambda x: (near_acc[x], -x))
        print(f"follow-ups ({int(follow.sum())}): answer_contains@1 by w_near {near_acc}; chosen {w_near}")
    picked = pick(rows, w, n_read, w_type, w_near)
    x = np.array([[p[0][f] if f != "margin" else float(np.clip(p[2], -1, 1)) for f in FEATURES] for p in picked])
    y = np.array([float(p[1]) for p in picked])
    # Every question set weighs the same in the fit, however many questions it has.
    sample_weight = 1.0 / np.bincount(set_of)[set_of]
    coef, intercept = fit_logistic(x, y, sample_weight=sample_weight / sample_weight.mean())
    prob = 1 / (1 + np.exp(-(x @ coef + intercept)))

    def point(t: float, mask: np.ndarray) -> dict:
        answered, yy, ans = prob[mask] >= t, y[mask], answerable[mask]
        correct_ans = (answered & (yy == 1)).sum()
        return {"threshold": round(float(t), 2), "coverage": float(answered.mean()),
                "precision": float(correct_ans / max(answered.sum(), 1)),
                "accuracy": float((correct_ans + (~answered & ~ans).sum()) / len(yy)),
                "answer_contains@1": float((answered & (yy == 1))[ans].mean()),
                "NoAns_exact": float((~answered)[~ans].mean()) if (~ans).any() else float("nan")}

    grid = np.arange(0.0, 1.0, 0.01)
    curve = [point(t, np.ones(len(y), bool)) for t in grid]
    per_set = {Path(q).name: [point(t, set_of == i) for t in grid] for i, q in enumerate(sets)}
    if args.rule == "max-loss":
        # the highest threshold that withholds at most --max-loss of the right answers of every set
        def keeps(i: int) -> bool:
            return all(c[i]["answer_contains@1"] >= (1 - args.max_loss) * c[0]["answer_contains@1"]
                       for c in per_set.values())
        best_t = curve[max(i for i in range(len(grid)) if keeps(i))]
    else:
        # the threshold with the best balanced accuracy (right answers among the answerable, abstentions among
        # the unanswerable, averaged), averaged over the question sets: each set and each kind counts the same
        def balanced(i: int) -> float:
            return float(np.mean([(c[i]["answer_contains@1"] + c[i]["NoAns_exact"]) / 2 for c in per_set.values()]))
        best_i = max(range(len(grid)), key=balanced)
        best_t = dict(curve[best_i], balanced=balanced(best_i))
    for name, c in per_set.items():
        at = c[int(round(best_t["threshold"] * 100))]
        print(f"  {name} at the chosen threshold:", {k: round(v, 3) for k, v in at.items()})
    print(f"coef={np.round(coef, 3).tolist()} intercept={intercept:.3f}")
    print(f"threshold ({args.rule}):", best_t)
    for r in curve[::10]:
        print(r)
    Path("benchmarks/out").mkdir(parents=True, exist_ok=True)
    # the main set's curve (the others are small and fitted on too): what benchmarks/plot_curves.py draws
    Path("benchmarks/out/answer_curve.json").write_text(json.dumps(per_set[Path(args.questions).name], indent=1))
    if args.write:
        table = json.loads(CALIBRATION.read_text()) if CALIBRATION.exists() else {}
        table[f"{index.embedder.model_id}|sentence"] = {
            "features": list(FEATURES), "coef": [float(c) for c in coef], "intercept": float(intercept),
            "threshold": best_t["threshold"], "read_passages": n_read, "w_answer": list(w), "w_type": w_type,
            "w_near": w_near,
            "threshold_rule": args.rule, "fitted_on": [Path(q).name for q in sets], "n": len(qs)}
        CALIBRATION.write_text(json.dumps(table, indent=1) + "\n")
        print("wrote", CALIBRATION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
