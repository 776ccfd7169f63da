"""BM25 at open time: building it from the passage texts against loading the copy saved beside the index.

Grows the squad2-open corpus paragraphs to ``--n`` passages (repeated, each copy with its own numbered
title, so the vocabulary grows too) and times ``qa.bm25.BM25(texts)``, ``save`` and ``BM25.load``.

    python benchmarks/bm25_load.py --docs ../shared/data/squad2-open/corpus --n 10000 100000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.bm25 import BM25  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--n", type=int, nargs="+", default=[10000, 100000])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    paras = [p for f in sorted(Path(args.docs).glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n\n")
             if p.strip()]
    rows = []
    for n in args.n:
        texts = [f"Copy {i // len(paras)}\n{paras[i % len(paras)]}" for i in range(n)]
        t = time.perf_counter()
        bm = BM25(texts)
        build = time.perf_counter() - t
        folder = Path(tempfile.mkdtemp()) / "bm25"
        t = time.perf_counter()
        bm.save(folder)
        save = time.perf_counter() - t
        t = time.perf_counter()
        loaded = BM25.load(folder)
        load = time.perf_counter() - t
        assert np.array_equal(loaded.scores("Normandy duke castle"), bm.scores("Normandy duke castle"))
        size = sum(f.stat().st_size for f in folder.iterdir())
        shutil.rmtree(folder.parent)
        rows.append({"passages": n, "build_s": round(build, 2), "save_s": round(save, 2), "load_s": round(load, 3),
                     "saved_mb": round(size / 1e6, 1)})
        print(rows[-1], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
