"""Compare trained readers as the engine uses them, without the engine: record what it asks a reader, replay it.

``capture`` runs the answerer with the bundled reader over a question set and writes, per question, every call
it makes to the reader (the question, the windows around its best sentences, the ranges inside them) and each
window's sentence score. ``score`` replays those reads with one or more readers, picks each question's best span
the way the answerer does (sentence score + ``w_reader`` x the reader's scaled margin) and reports:

* ``f1``: HasAns F1 of that span, answering everything;
* ``noans@f1``: the share of unanswerable questions withheld, thresholding the best span's margin, at the
  highest threshold that keeps HasAns F1 at ``--f1`` or more;
* ``auc``: the area under HasAns F1 against NoAns as that threshold moves;
* ``span_contains`` and ``sentence_contains``: the share of answerable questions whose best span, and the
  sentence it stands in, cover a gold answer (``qa eval``'s answer_contains@1 and guess_sentence_contains@1
  with every answer given). With the bundled reader they reproduce ``qa eval`` on squad2-open dev exactly
  (F1 0.635, span 0.627, sentence 0.765, no abstention): the replay makes the engine's choice, in about 4
  minutes on 2 CPU cores against 13 for the whole engine.

The windows come from retrieval and the sentence ranker, not from the reader, so one capture serves every
reader; what it leaves out is re-ranking (the passages are those the bundled reader re-ranked) and the
calibrated confidence (``score`` thresholds the margin alone). ``score`` needs
only numpy, torch and transformers (no index): it runs on a GPU machine with the captured file beside it.

    python benchmarks/reader_reads.py capture --docs ../shared/data/squad2-open/corpus \\
        --index benchmarks/out/squad-index --questions ../shared/data/squad2-open/questions-dev.jsonl \\
        --out benchmarks/out/reads.jsonl
    python benchmarks/reader_reads.py score --reads benchmarks/out/reads.jsonl --reader qa/data/reader other/

``score --w-reader 0.1 0.2 0.5`` picks with each of those weights from one read per question; ``--joint`` also
replays every question with its contexts read as one text (``joint_reads``: every span in one softmax, against
one "no answer" score), which was measured and not kept (docs/results-history.md).
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
from qa.evaluation import Gold, covers, golds, read_questions  # noqa: E402
from qa.reader import Reader, SpanGuess, scaled_margin  # noqa: E402
from qa.textnorm import f1_score  # noqa: E402


def capture(args: argparse.Namespace) -> None:
    from qa.answering import Answerer
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
            # the answer's read is the one confined to windows (``within``); re-ranking reads whole passages first
            call = next((x for x in calls if x["within"] is not None), None)
            sentence_scores, places = [], []
            if call:  # the candidates follow the reader's guesses, one per (context, window)
                seen = []
                for g in call["guesses"]:
                    if (g.context, g.part) not in seen:
                        seen.append((g.context, g.part))
                for g, cand in zip(seen, r.candidates, strict=False):
                    sentence_scores.append([g[0], g[1], cand.score - config.w_reader * cand.features["reader"]])
                    places.append(place(index, r.ranked.hits[cand.hit].doc_id, call["contexts"][g[0]], g, cand))
            f.write(json.dumps({
                "id": q.get("id"), "impossible": not golds(q),
                "golds": [g.text for g in golds(q)], "gold_spans": [[g.doc, g.start, g.end] for g in golds(q)],
                "question": call["question"] if call else q["question"],
                "contexts": call["contexts"] if call else [], "within": call["within"] if call else [],
                "sentence_scores": sentence_scores, "places": places}) + "\n")
            if n % 500 == 0:
                print(f"  {n}/{len(questions)}", flush=True)


def place(index, doc_id: str, context: str, g: tuple[int, int], cand) -> list:
    """Where a (context, window) stands: [context, window, document, the context's offset in it, the sentences
    of the window's passage relative to that offset], so that a replayed span can be scored as the engine scores
    it (the span and its sentence against the gold answers' character ranges)."""
    c = index.corpus
    text = index.doc_by_id[doc_id].text
    lo = text.rfind(context, 0, cand.start + len(context))
    sids = index.sentences_of(int(c.s_passage[cand.sentence]))
    sents = [[int(c.s_start[x]) - lo, int(c.s_end[x]) - lo] for x in sids]
    return [g[0], g[1], doc_id, lo, sents]


def replay(reader: Reader, rows: list[dict], w_reader: float, joint: bool = False,
           reads: dict[int, list] | None = None) -> list[tuple[float, str, bool, bool]]:
    """Per row: (the best span's raw margin, its text, whether the span covers a gold answer, whether its
    sentence does); (-inf, "", False, False) when nothing was read. ``joint``: read the windows as one text
    (``joint_reads``). ``reads``: the reader's guesses by row, kept between calls with the same reader and
    ``joint`` (they do not depend on ``w_reader``, so one read per row serves every weight)."""
    reads = {} if reads is None else reads
    out = []
    for i, row in enumerate(rows):
        if not row["contexts"]:
            out.append((-np.inf, "", False, False))
            continue
        base = {(c, p): s for c, p, s in row["sentence_scores"]}
        floor = min(base.values(), default=0.0)
        best = None
        if i not in reads:
            reads[i] = (joint_reads(reader, row) if joint else
                        reader.read(row["question"], row["contexts"], top=1, within=row["within"]))
        for g in reads[i]:
            margin = g.score - g.null_score
            score = base.get((g.context, g.part), floor) + w_reader * float(scaled_margin(margin))
            if best is None or score > best[0]:
                best = (score, margin, g)
        if best is None:
            out.append((-np.inf, "", False, False))
            continue
        g = best[2]
        out.append((best[1], row["contexts"][g.context][g.start:g.end], *covered(row, g)))
    return out


def joint_reads(reader: Reader, row: dict) -> list:
    """One read of all of a row's contexts as one text, instead of one read per context: the contexts (each a
    lead-in sentence and the windows read), in order, joined by blank lines. Every span then competes in one
    softmax against one "no answer" score (where the text fits the reader's window). Returned as guesses in the
    context coordinates of the separate reads (``context``, ``start``, ``end``, ``part`` as they would be), so
    that they are picked and scored the same way."""
    ranges, back, pos = [], [], 0
    for c, rs in enumerate(row["within"]):
        for p, (a, b) in enumerate(rs):
            ranges.append((pos + a, pos + b))
            back.append((c, p, pos))
        pos += len(row["contexts"][c]) + 2
    text = "\n\n".join(row["contexts"])
    out = []
    for g in reader.read(row["question"], [text], top=1, within=[ranges]):
        c, p, shift = back[g.part]
        out.append(SpanGuess(c, g.start - shift, g.end - shift, g.score, g.null_score, p))
    return out


def covered(row: dict, g) -> tuple[bool, bool]:
    """Whether the span ``g`` covers a gold answer, and whether its sentence does (as ``qa.evaluation`` and
    ``Answerer._citation`` define them: the sentence it starts in, run on to the end of those it reaches into)."""
    where = next((p for p in row.get("places", []) if (p[0], p[1]) == (g.context, g.part)), None)
    if where is None:
        return False, False
    _, _, doc, lo, sents = where
    s, e = lo + g.start, lo + g.end
    home_start, home_end = next(((a + lo, b + lo) for a, b in sents if a + lo <= s < b + lo), (s, e))
    sent_end = max([home_end] + [b + lo for a, b in sents if a + lo < e]) if e > home_end else home_end
    gs = [Gold(d, a, b, "") for d, a, b in row.get("gold_spans", [])]
    return any(covers(doc, s, e, x) for x in gs), any(covers(doc, home_start, sent_end, x) for x in gs)


def curve(rows: list[dict], preds: list[tuple[float, str, bool, bool]], target_f1: float) -> dict:
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
    contains = np.array([preds[i][2] for i in ans], dtype=float)
    sentence = np.array([preds[i][3] for i in ans], dtype=float)
    return {"f1": round(float(f1.mean()), 4), f"noans@f1>={target_f1}": round(max(held), 4) if held else None,
            "auc": round(float(np.trapezoid(ys[order], xs[order])), 4),
            "span_contains": round(float(contains.mean()), 4), "sentence_contains": round(float(sentence.mean()), 4),
            "answerable": len(ans), "unanswerable": len(imp)}


def score(args: argparse.Namespace) -> None:
    import torch

    rows = [json.loads(line) for line in Path(args.reads).read_text(encoding="utf-8").splitlines() if line.strip()]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.limit:
        rows = rows[:args.limit]
    weights = args.w_reader or [Config().w_reader]
    results = {}
    for path in args.reader:
        reader = Reader(path, device=device)
        for joint in ([False, True] if args.joint else [False]):
            reads: dict[int, list] = {}  # this reader's guesses, read once for every weight
            for w in weights:
                t = time.perf_counter()
                preds = replay(reader, rows, w, joint=joint, reads=reads)
                name = f"{path} w_reader={w}" + (" joint" if joint else "")
                results[name] = {**curve(rows, preds, args.f1), "seconds": round(time.perf_counter() - t, 1)}
                print(name, results[name], flush=True)
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
    s.add_argument("--w-reader", type=float, nargs="+", help="the pick's reader weights (default: the engine's)")
    s.add_argument("--joint", action="store_true", help="also read each question's windows as one text")
    s.add_argument("--limit", type=int, help="only the first N questions")
    s.add_argument("--out")
    args = ap.parse_args()
    (capture if args.cmd == "capture" else score)(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
