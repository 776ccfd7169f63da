"""Score a trained reader given the gold paragraph, as the training command's evaluation does, with the
engine's spans (:func:`qa.reader.finish_span`: whole words, the qualifier before the span, whole quotations)
and with the tokens' own spans, which is how the model card's earlier scores were taken.

    python benchmarks/reader_gold.py --reader qa/data/reader \\
        --open ../shared/data/squad2-open/corpus ../shared/data/squad2-open/questions-dev.jsonl

Each decoding reads the 1,299 answerable questions' paragraphs again (keeping the logits to decode both
from one read is not worth the memory): about 5 minutes a decoding on 2 CPU cores (288 and 333 s on
2026-12-03, with other work running).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qa.embedding import quiet_transformers  # noqa: E402
from qa.reader import resolve_reader  # noqa: E402
from qa.reader_train import Recipe, evaluate, load_open_gold  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reader", nargs="+", default=["bundled"])
    ap.add_argument("--open", nargs=2, required=True, metavar=("DOCS", "QUESTIONS"))
    args = ap.parse_args()
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    quiet_transformers()
    torch.set_num_threads(os.cpu_count() or 1)
    examples = load_open_gold(*args.open)
    out = {}
    for name in args.reader:
        path = resolve_reader(name)
        model = AutoModelForQuestionAnswering.from_pretrained(path, torch_dtype=torch.float32).eval()
        tokenizer = AutoTokenizer.from_pretrained(path)
        for finish in (True, False):
            t = time.perf_counter()
            s = evaluate(model, tokenizer, examples, Recipe(), "cpu", finish=finish)
            s["seconds"] = round(time.perf_counter() - t, 1)
            out[f"{name} ({'engine spans' if finish else 'token spans'})"] = s
            print(f"{name}, {'engine spans' if finish else 'token spans'}:", s, flush=True)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
