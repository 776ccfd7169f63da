"""Compare trained readers as the engine uses them, without the engine: record what it asks a reader, replay it.

``capture`` runs the answerer with the bundled reader over a question set and writes, per question, every call
it makes to the reader (the question, the windows around its best sentences, the ranges inside them) and each
window's sentence score. ``score`` replays those reads with one or more readers, picks each question's best span
the way the answerer does (sentence score + ``w_reader`` x the reader's scaled margin) and reports:

* ``f1``: HasAns F1 of that span, answering everything;
* ``noans@f1``: the share of unanswerable questions withheld, thresholding the best span's margin, at the
  highest threshold that keeps HasAns F1 at ``--f1`` or more;
* ``auc``: the area under HasAns F1 against NoAns as that threshold moves.

The windows come from retrieval and the sentence ranker, not from the reader, so one capture serves every
reader; what it leaves out is the calibrated confidence (``score`` thresholds the margin alone). ``score`` needs
only numpy, torch and transformers (no index): it runs on a GPU machine with the captured file beside it.

    python benchmarks/reader_reads.py capture --docs ../shared/data/squad2-open/corpus \\
        --index benchmarks/out/squad-index --questions ../shared/data/squad2-open/questions-dev.jsonl \\
        --out benchmarks/out/reads.jsonl
    python benchmarks/reader_reads.py score --reads benchmarks/out/reads.jsonl --reader qa/data/reader other/
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.config import Config  # noqa: E402
from qa.reader import Reader, scaled_margin  # noqa: E402
from qa.textnorm import f1_score  # noqa: E402


def capture(args: argparse.Namespace) -> None:
    from qa.answering import Answerer
    from qa.evaluation import golds, read_questions
    from qa.index import load_index

    config = Config.from_env()
    index = load_index(args.docs, args.index, config=config)
    reader = Reader("bundled", backend=config.backend)
    answerer = Answerer(index, config=config, reader=reader)
    calls: list[dict] = []
    real = reader.read

    def recording(question, contexts, top=5, within=None):
        guesses = real(question, contexts, top=top, within=within)
        calls.append({"question": question, "contexts": contexts, "within": within, "guesses": guesses})
        return guesses

    reader.read = recording
    questions = read_questions(args.questions)
    with open(args.out, "w", encoding="utf-8") as f:
        for n, q in enumerate(questions):
            calls.clear()
            turns = answerer.conversation(q["question"], q.get("history"))
            r = answerer.read(q["question"], turns, k=config.read_passages)
            call = calls[0] if calls else None
            sentence_scores = []
            if call:  # the candidates follow the reader's guesses, one per (context, window)
                seen = []
                for g in call["guesses"]:
                    if (g.context, g.part) not in seen:
                        seen.append((g.context, g.part))
                sentence_scores = [[g[0], g[1], c.score - config.w_reader * c.features["reader"]]
                                   for g, c in zip(seen, r.candidates, strict=False)]
            f.write(json.dumps({
                "id": q.get("id"), "impossible": not golds(q), "golds": [g.text for g in golds(q)],
                "question": call["question"] if call else q["question"],
                "contexts": call["contexts"] if call else [], "within": call["within"] if call else [],
                "sentence_scores": sentence_scores}) + "\n")
            if n % 500 == 0:
                print(f"  {n}/{len(questions)}", flush=True)


def replay(reader: Reader, rows: list[dict], w_reader: float) -> list[tuple[float, str]]:
    """Per row: (the best span's raw margin, its text); (-inf, "") when nothing was read."""
    out = []
    for row in rows:
        if not row["contexts"]:
            out.append((-np.inf, ""))
            continue
        base = {(c, p): s for c, p, s in row["sentence_scores"]}
        floor = min(base.values(), default=0.0)
        best = None
        for g in reader.read(row["question"], row["contexts"], top=1, within=row["within"]):
            margin = g.score - g.null_score
            score = base.get((g.context, g.part), floor) + w_reader * float(scaled_margin(margin))
            if best is None or score > best[0]:
                best = (score, margin, row["contexts"][g.context][g.start:g.end])
        out.append((-np.inf, "") if best is None else (best[1], best[2]))
    return out


def curve(rows: list[dict], preds: list[tuple[float, str]], target_f1: float) -> dict:
    ans = [i for i, r in enumerate(rows) if not r["impossible"]]
    imp = [i for i, r in enumerate(rows) if r["impossible"]]
    f1 = np.array([max((f1_score(preds[i][1], g) for g in rows[i]["golds"]), default=0.0) for i in ans])
    m_ans = np.array([preds[i][0] for i in ans])
    m_imp = np.array([preds[i][0] for i in imp])
    pts = []
    for t in np.unique(np.concatenate([[-np.inf], m_ans, m_imp])):
        pts.append((float((f1 * (m_ans >= t)).sum() / max(1, len(ans))), float((m_imp < t).mean()) if imp else 0.0))
    pts.sort()
    held = [na for f, na in pts if f >= target_f1]
    xs = np.array([na for _, na in pts])
    ys = np.array([f for f, _ in pts])
    order = np.argsort(xs)
    return {"f1": round(float(f1.mean()), 4), f"noans@f1>={target_f1}": round(max(held), 4) if held else None,
            "auc": round(float(np.trapezoid(ys[order], xs[order])), 4), "answerable": len(ans),
            "unanswerable": len(imp)}


def score(args: argparse.Namespace) -> None:
    import torch

    rows = [json.loads(line) for line in Path(args.reads).read_text(encoding="utf-8").splitlines() if line.strip()]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    w_reader = Config().w_reader
    results = {}
    for path in args.reader:
        t = time.perf_counter()
        preds = replay(Reader(path, device=device), rows, w_reader)
        results[path] = {**curve(rows, preds, args.f1), "seconds": round(time.perf_counter() - t, 1)}
        print(path, results[path], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("capture")
    c.add_argument("--docs", required=True)
    c.add_argument("--index", required=True)
    c.add_argument("--questions", required=True)
    c.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("--reads", required=True)
    s.add_argument("--reader", nargs="+", required=True)
    s.add_argument("--f1", type=float, default=0.55)
    s.add_argument("--out")
    args = ap.parse_args()
    (capture if args.cmd == "capture" else score)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
