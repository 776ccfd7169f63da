"""Draw query latency and memory against collection size, from what benchmarks/scale.py measured:

    nice -n 10 python benchmarks/scale.py     # writes benchmarks/results/scale.json
    python benchmarks/plot_scale.py           # writes docs/scale.png

Left: per-query latency (p50 solid, p95 dashed), one query at a time, k=10, for exact search (Flat) and each
approximate index at its chosen setting (the smallest reaching the target recall@10). The lines are with one
FAISS thread (``--threads one``, the default): on a shared 2-core machine the default two threads made exact
search several times slower, not faster (the grey dotted line). Right: the FAISS index's size (serialized) and
the estimated memory of the whole index (vectors, sentence vectors, BM25, texts: bytes per passage measured on
squad2-open, times the number of passages) against the machine's memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
MARKERS = ["o", "s", "^", "D", "v", "P"]


def kind(factory: str) -> str:
    """One line per kind of index: IVF's list count grows with the size (√n), so all IVF sizes are one line."""
    return "IVF√n,Flat" if factory.startswith("IVF") else factory


def series(doc: dict, name: str) -> list[tuple[int, dict, dict]]:
    """(n, index entry, chosen setting) for each size where that kind of index reached its target."""
    return [(size["n"], ix, ix["chosen"]) for size in doc["sizes"] for ix in size["indexes"]
            if kind(ix["factory"]) == name and ix["chosen"] is not None]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "scale.png"))
    ap.add_argument("--threads", choices=("one", "default"), default="one", help="which latencies to draw")
    args = ap.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    doc = json.loads(Path(args.results).read_text())
    m = doc["machine"]
    key = "k10_1thread" if args.threads == "one" else "k10"
    kinds = list(dict.fromkeys(kind(ix["factory"]) for s in doc["sizes"] for ix in s["indexes"]))
    sizes = [s["n"] for s in doc["sizes"]]

    fig, (lat, mem) = plt.subplots(1, 2, figsize=(11, 5.4), dpi=120)
    for i, name in enumerate(kinds):
        pts = series(doc, name)
        if not pts:
            continue
        ns = [n for n, _, _ in pts]
        c, mk = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
        lat.plot(ns, [s["latency_ms"][key]["p50"] for _, _, s in pts], "-", marker=mk, color=c, label=f"{name} p50")
        lat.plot(ns, [s["latency_ms"][key]["p95"] for _, _, s in pts], "--", color=c, alpha=0.6,
                 label=f"{name} p95")
        n, _, s = pts[-1]  # the setting chosen at the largest size (the others are in the JSON)
        if s["param"]:
            lat.annotate(f"{s['param']}={s['value']}", (n, s["latency_ms"][key]["p50"]), textcoords="offset points",
                         xytext=(5, -3), fontsize=7, color=c)
        mem.plot(ns, [ix["index_bytes"] / 1e9 for _, ix, _ in pts], "-", marker=mk, color=c, alpha=0.8,
                 label=f"{name} index")
        if name == "Flat" and args.threads == "one":
            lat.plot(ns, [s["latency_ms"]["k10"]["p50"] for _, _, s in pts], ":", color="gray",
                     label="Flat p50, 2 threads, busy machine")
    lat.axhline(50, color="red", lw=0.8, alpha=0.6)
    lat.text(0.99, 50, "50 ms ", transform=lat.get_yaxis_transform(), ha="right", va="bottom", fontsize=8,
             color="red")
    lat.axvline(200_000, color="black", lw=0.8, ls=":", alpha=0.6)
    lat.text(200_000, 0.98, " exact_below (200k)", transform=lat.get_xaxis_transform(), rotation=90, va="top",
             fontsize=7)
    lat.set_xscale("log")
    lat.set_yscale("log")
    lat.set_xlabel("passages in the collection")
    lat.set_ylabel("query latency, ms (k=10, one query at a time)")
    threads = "one FAISS thread" if args.threads == "one" else f"{m['faiss_threads']} FAISS threads"
    lat.set_title(f"Dense search latency ({threads})", fontsize=10)
    lat.grid(alpha=0.3, which="both")
    lat.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)

    fp = doc.get("footprint")
    if fp:  # the rest (measured per passage on squad2-open) plus the FAISS index the default picks at that size
        rest = sum(fp["bytes_per_passage"].values())
        total = [rest * s["n"] + next((ix["index_bytes"] for ix in s["indexes"]
                                       if ix["factory"] == s["auto_index_type"]), 0) for s in doc["sizes"]]
        mem.plot(sizes, [t / 1e9 for t in total], "s-", color="black",
                 label=f"whole index, estimated ({total[-1] / sizes[-1] / 1e3:.1f} kB/passage)")
    if m.get("memory_bytes"):
        mem.axhline(m["memory_bytes"] / 1e9, color="red", lw=0.8, alpha=0.6)
        mem.text(0.99, m["memory_bytes"] / 1e9, f"machine RAM ({m['memory_bytes'] / 2**30:.0f} GiB) ",
                 transform=mem.get_yaxis_transform(), ha="right", va="top", fontsize=8, color="red")
    mem.set_xscale("log")
    mem.set_yscale("log")
    mem.set_xlabel("passages in the collection")
    mem.set_ylabel("memory, GB")
    mem.set_title("Memory: FAISS index (serialized) and the whole index", fontsize=10)
    mem.grid(alpha=0.3, which="both")
    mem.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)

    ram = f", {m['memory_bytes'] / 2**30:.0f} GiB" if m.get("memory_bytes") else ""
    fig.suptitle(f"{m['cpu_model']}, {m['cpu_count']} cores{ram} · FAISS {m['faiss']} · all-MiniLM-L6-v2 vectors "
                 f"(384-d) · {doc['queries']['n']} real questions", fontsize=10)
    fig.tight_layout()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
