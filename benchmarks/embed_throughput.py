"""Embedding throughput: plain sentence-transformers against this project's passage encoder.

Grows the squad2-open corpus paragraphs (repeated, each copy perturbed) to ``--n`` passages and encodes them
warm, reporting passages per second:

* ``st-encode``: ``SentenceTransformer.encode`` as people call it (fp32, batch 32), passage vectors only;
* ``qa``: ``SentenceTransformerEmbedder.encode_passages`` with the given batch sizes; it also derives every
  sentence's vector from the same forward pass (fp16 on a GPU, pooling on the device).

    python benchmarks/embed_throughput.py --docs ../shared/data/squad2-open/corpus --n 20000 --out results.json

Runs unchanged on a CPU (use a small --n) or a GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'])")


def corpus(docs: Path, n: int, seed: int = 0) -> tuple[list[str], list[list[tuple[int, int]]]]:
    paras = [p.strip() for f in sorted(docs.glob("*.txt")) for p in f.read_text(encoding="utf-8").split("\n\n")]
    paras = [p for p in paras if len(p.split()) >= 6]
    rng = random.Random(seed)
    texts = []
    while len(texts) < n:
        for p in paras:
            words = p.split(" ")
            if len(texts) >= len(paras):  # copies: drop a random word so no two passages are identical
                del words[rng.randrange(len(words))]
            texts.append(" ".join(words))
    texts = texts[:n]
    spans = []
    for t in texts:
        cuts = [0] + [m.end() for m in _SENT.finditer(t)] + [len(t)]
        spans.append([(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if t[a:b].strip()])
    return texts, spans


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", required=True)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--model", default="all-MiniLM-L6-v2")
    ap.add_argument("--batch", type=int, nargs="+", default=[64, 256, 512])
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    import torch

    from qa.embedding import SentenceTransformerEmbedder, resolve_model_path

    texts, spans = corpus(Path(args.docs), args.n)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    result = {"n": len(texts), "sentences": sum(map(len, spans)), "device": device,
              "gpu": torch.cuda.get_device_name() if device == "cuda" else None, "torch": torch.__version__,
              "runs": []}
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(resolve_model_path(args.model), device=device).float()
    st.encode(texts[:256], batch_size=32)  # warm-up
    sync()
    t = time.perf_counter()
    st.encode(texts, batch_size=32, show_progress_bar=False)
    sync()
    dt = time.perf_counter() - t
    result["runs"].append({"method": "st-encode fp32 batch 32", "seconds": round(dt, 2),
                           "passages_per_s": round(len(texts) / dt)})
    print(result["runs"][-1], flush=True)
    del st
    for bs in args.batch:
        emb = SentenceTransformerEmbedder(args.model, device=device, batch_size=bs)
        emb.encode_passages(texts[:512], spans[:512])  # warm-up (and fp16 cast on a GPU)
        sync()
        t = time.perf_counter()
        p, s = emb.encode_passages(texts, spans)
        sync()
        dt = time.perf_counter() - t
        result["runs"].append({"method": f"qa encode_passages batch {bs}", "seconds": round(dt, 2),
                               "passages_per_s": round(len(texts) / dt), "sentence_vectors": int(s.shape[0])})
        print(result["runs"][-1], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
