"""Dense search at 10k, 100k and 1M passages: exact (Flat) against approximate (HNSW32, IVF) FAISS indexes.

The collection is synthetic but made of real embeddings: every passage vector is a random mixture of 2-3 real
all-MiniLM-L6-v2 vectors of the squad2-open index (its 1,360 passage and 6,456 sentence vectors; Dirichlet
weights) plus gaussian noise (sigma 0.02 per dimension), re-normalised. At 20k vectors their nearest-neighbour
cosines are close to the real passages' (top-1 0.62 against 0.69, top-10 0.46 against 0.52); uniformly random
high-dimensional vectors would be the pathological case for HNSW. The queries are real: 300 squad2-open dev
questions encoded with the project's embedder (``--query-source questions``, the default). Questions are much
harder for approximate search than vectors near the collection (held-out sentences plus noise,
``--query-source sentences``, gave HNSW32 recall@10 0.97 at efSearch=16 and 100k passages where the questions
give 0.77): their best match is loose (cosine ~0.54) and close to the 10th best. Caveat: at 1M every real vector
is part of ~320 mixtures, so a question's neighbourhood is more crowded than in a real corpus of that size (its
top-1 and top-10 cosines are 0.03 apart, against 0.06 at 100k), which makes recall@10 harder to reach.

For each size, in its own process (so memory is measured from a clean start), with the project's own
``qa.index.build_faiss``:

* build time, index size (``faiss.serialize_index``) and the process's resident memory growth (and peak);
* query latency p50/p95, one query at a time as a user asks them, for k=10 and for k=100 (the candidates
  ``qa.retrieval.rank`` asks FAISS for), with FAISS's default threads and with one thread;
* recall@10 (and @100) of each approximate index against exact search (ground truth: the flat index, one
  batched call), over a sweep of efSearch (HNSW) or nprobe (IVF), doubled past the list until the target is
  met; the chosen setting is the smallest that reaches ``--target`` recall@10.

``HNSW32@efC128`` is the one index not built by ``build_faiss``: the same HNSW32 with efConstruction 128
instead of FAISS's default 40, to show what a better graph buys (a candidate change to ``build_faiss``).

    python -m qa index --docs ../shared/data/squad2-open/corpus --index benchmarks/out/squad-index  # vectors
    nice -n 10 python benchmarks/scale.py --sizes 10000,100000,1000000 --out benchmarks/results/scale.json
    python benchmarks/plot_scale.py   # docs/scale.png

About 30 minutes on a busy 2-core CPU, most of it the two 1M HNSW builds and exact search one query at a time.
``--merge`` keeps the other sizes already in ``--out`` (same machine), so sizes can be run one at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VECTORS = ROOT / "benchmarks" / "out" / "squad-index"
CHUNK = 10_000  # the collection is generated in seeded chunks: a smaller collection is a prefix of a larger one
BUILD_HINT = "python -m qa index --docs ../shared/data/squad2-open/corpus --index benchmarks/out/squad-index"


# -- data ------------------------------------------------------------------------------------------------------
def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def real_vectors(folder: Path, n_held: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The pool the collection is mixed from, and ``n_held`` sentence vectors held out of it (for queries)."""
    p = np.load(folder / "passage_vectors.npy")
    s = np.load(folder / "sentence_vectors.npy")
    held = np.zeros(len(s), bool)
    held[np.random.default_rng([seed, 1]).choice(len(s), n_held, replace=False)] = True
    return np.vstack([p, s[~held]]).astype(np.float32), s[held].astype(np.float32)


def mixtures(pool: np.ndarray, n: int, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """``n`` vectors, each a Dirichlet-weighted mixture of 2 or 3 random pool vectors plus N(0, sigma) noise."""
    parts = rng.integers(0, len(pool), (n, 3))
    w = rng.dirichlet(np.ones(3), n)
    w[rng.integers(2, 4, n) == 2, 2] = 0.0
    x = np.einsum("nk,nkd->nd", w, pool[parts]) + rng.normal(0.0, sigma, (n, pool.shape[1]))
    return _normalise(x)


def collection(pool: np.ndarray, n: int, seed: int, sigma: float) -> np.ndarray:
    out = np.empty((n, pool.shape[1]), np.float32)
    for i, start in enumerate(range(0, n, CHUNK)):
        chunk = mixtures(pool, CHUNK, np.random.default_rng([seed, 2, i]), sigma)
        out[start:start + CHUNK] = chunk[: n - start]
    return out


def sentence_queries(held: np.ndarray, seed: int, sigma: float) -> np.ndarray:
    rng = np.random.default_rng([seed, 3])
    return _normalise(held + rng.normal(0.0, sigma, held.shape))


def question_queries(path: Path, n: int, seed: int, index_model: str) -> tuple[np.ndarray, str]:
    """``n`` questions of a JSONL question set (seeded pick), encoded with the project's embedder."""
    from qa.config import Config
    from qa.embedding import make_embedder

    questions = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line]
    pick = np.random.default_rng([seed, 5]).choice(len(questions), min(n, len(questions)), replace=False)
    embedder = make_embedder(Config().model)
    if embedder.model_id != index_model:
        raise SystemExit(f"the vectors were made with {index_model!r}, the embedder is {embedder.model_id!r}")
    return embedder.encode_queries([questions[i] for i in sorted(pick)]).astype(np.float32), embedder.model_id


# -- measuring -------------------------------------------------------------------------------------------------
def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def rss_bytes() -> int:
    try:
        import psutil
    except ImportError:
        return _status_kb("VmRSS") * 1024
    return int(psutil.Process().memory_info().rss)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) so a step's own peak can be read; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def latency_ms(search: Any, q: np.ndarray, k: int, warmup: int = 10) -> dict[str, float]:
    """Per-query wall time of ``search(one_query, k)``, one query after another."""
    for i in range(min(warmup, len(q))):
        search(q[i:i + 1], k)
    t = np.empty(len(q))
    for i in range(len(q)):
        one = q[i:i + 1]
        t0 = time.perf_counter()
        search(one, k)
        t[i] = time.perf_counter() - t0
    t *= 1000.0
    return {"p50": float(np.percentile(t, 50)), "p95": float(np.percentile(t, 95)), "mean": float(t.mean())}


def latencies(search: Any, q: np.ndarray, kmax: int) -> dict[str, dict[str, float]]:
    """k=10 and k=kmax with FAISS's default threads, and k=10 with one thread (what a server answering several
    users at once would give each query; also far less disturbed by other processes on a busy machine)."""
    import faiss

    out = {"k10": latency_ms(search, q, 10), f"k{kmax}": latency_ms(search, q, kmax)}
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        out["k10_1thread"] = latency_ms(search, q, 10)
    finally:
        faiss.omp_set_num_threads(threads)
    return out


def recall(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    return float(np.mean([len(np.intersect1d(f[:k], t[:k])) / k for f, t in zip(found, truth)]))


def build_measured(x: np.ndarray, factory: str, ef_construction: int = 0) -> tuple[Any, dict[str, Any]]:
    """The project's ``build_faiss(x, factory)``, measured; with ``ef_construction`` an HNSW index built the same
    way but with that efConstruction (build_faiss leaves FAISS's default, 40): a candidate change, labelled so."""
    import faiss

    from qa.index import build_faiss

    gc.collect()
    peak_ok = reset_peak()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    if ef_construction:
        index = faiss.index_factory(x.shape[1], factory, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = 128
        index.add(x)
    else:
        index = build_faiss(x, factory)
    build_s = time.perf_counter() - t0
    rss1 = rss_bytes()
    peak = _status_kb("VmHWM") * 1024 if peak_ok else None
    size = len(faiss.serialize_index(index))
    gc.collect()
    built_by = (f"faiss.index_factory + hnsw.efConstruction={ef_construction} (not qa.index.build_faiss)"
                if ef_construction else "qa.index.build_faiss")
    return index, {"factory": factory + (f"@efC{ef_construction}" if ef_construction else ""), "built_by": built_by,
                   "build_s": build_s, "index_bytes": size, "rss_growth_bytes": rss1 - rss0,
                   "rss_peak_growth_bytes": peak - rss0 if peak is not None else None}


def log(msg: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# -- one size --------------------------------------------------------------------------------------------------
def run_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    import faiss

    from qa.config import Config
    from qa.index import choose_index_type

    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    q = np.load(args.query_file)
    pool, _ = real_vectors(Path(args.vectors), args.queries if args.query_source == "sentences" else 0, args.seed)
    t0 = time.perf_counter()
    x = collection(pool, n, args.seed, args.sigma)
    res: dict[str, Any] = {"n": n, "auto_index_type": choose_index_type(Config(), n),
                           "generate_s": time.perf_counter() - t0, "vectors_bytes": int(x.nbytes),
                           "first_chunk_sha256": hashlib.sha256(x[:CHUNK].tobytes()).hexdigest(),
                           "rss_start_bytes": rss_bytes(), "indexes": []}
    log(f"{n:,} vectors generated in {res['generate_s']:.1f} s")

    flat, meas = build_measured(x, "Flat")
    t0 = time.perf_counter()
    d_gt, i_gt = flat.search(q, args.kmax)
    res["ground_truth_batch_s"] = time.perf_counter() - t0
    res["realism"] = {"query_top1_cos": float(d_gt[:, 0].mean()), "query_top10_cos": float(d_gt[:, 9].mean())}
    meas["settings"] = [{"param": None, "value": None, "recall@10": 1.0, f"recall@{args.kmax}": 1.0,
                         "latency_ms": latencies(flat.search, q, args.kmax)}]
    meas["chosen"] = meas["settings"][0]
    res["indexes"].append(meas)
    lat = meas["chosen"]["latency_ms"]
    log(f"Flat: build {meas['build_s']:.2f} s, p50 {lat['k10']['p50']:.2f} ms ({lat['k10_1thread']['p50']:.2f} ms "
        "on one thread)")
    del flat
    gc.collect()

    # The per-query O(n) work qa.retrieval.rank does besides FAISS: picking the top candidates out of a BM25
    # score for every passage (np.argpartition over n floats). A lower bound: the BM25 scoring itself is extra.
    scores = np.random.default_rng([args.seed, 4]).random((20, n), dtype=np.float32)
    res["bm25_top_select_ms"] = latency_ms(lambda s, k: np.argpartition(-s[0], k - 1), scores, args.kmax,
                                           warmup=3)
    del scores

    for name in args.approx:
        efc = 0
        if name.startswith("HNSW"):  # HNSW32, or HNSW32@efC128 for another efConstruction
            factory, _, efc_text = name.partition("@efC")
            efc = int(efc_text or 0)
            param, values, limit = "efSearch", args.ef, args.ef_max
        elif name == "IVF":
            nlist = max(1, round(math.sqrt(n)))
            factory, param, values, limit = f"IVF{nlist},Flat", "nprobe", args.nprobe, nlist
        else:
            raise SystemExit(f"unknown approximate index {name!r}: HNSW<M>[@efC<n>] or IVF")
        log(f"{name}: building")
        index, meas = build_measured(x, factory, efc)
        hnsw = getattr(index, "hnsw", None)
        meas["project_default"] = {param: int(hnsw.efSearch if hnsw is not None else index.nprobe)}
        log(f"{meas['factory']}: built in {meas['build_s']:.1f} s")
        ps = faiss.ParameterSpace()
        sweep: list[dict[str, Any]] = []
        values = [v for v in values if v <= limit]
        while values:
            v = values.pop(0)
            ps.set_index_parameter(index, param, v)
            _, i10 = index.search(q, 10)
            _, ik = index.search(q, args.kmax)
            row = {"param": param, "value": v, "recall@10": recall(i10, i_gt, 10),
                   f"recall@{args.kmax}": recall(ik, i_gt, args.kmax),
                   "latency_ms": latencies(index.search, q, args.kmax)}
            sweep.append(row)
            log(f"{meas['factory']} {param}={v}: recall@10 {row['recall@10']:.3f}, "
                f"p50 {row['latency_ms']['k10']['p50']:.3f} ms")
            if not values and row["recall@10"] < args.target and 2 * v <= limit:
                values.append(2 * v)  # below the target at the largest listed value: keep doubling
        meas["settings"] = sweep
        meas["chosen"] = next((r for r in sweep if r["recall@10"] >= args.target), None)
        res["indexes"].append(meas)
        del index
        gc.collect()
    return res


# -- the whole run ---------------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    import faiss

    model = platform.processor()
    with contextlib.suppress(OSError, StopIteration):
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")) or model
    mem = None
    with contextlib.suppress(OSError, StopIteration):
        mem = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    return {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": model,
            "memory_bytes": mem, "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "faiss": faiss.__version__, "faiss_compile": faiss.get_compile_options(),
            "faiss_threads": faiss.omp_get_max_threads(), "nice": os.nice(0), "loadavg_start": os.getloadavg()}


def footprint(folder: Path) -> dict[str, Any]:
    """Bytes per passage of what the project keeps in memory, measured on the real squad2-open index."""
    from qa.bm25 import BM25

    manifest = json.loads((folder / "manifest.json").read_text())
    texts = json.loads((folder / "texts.json").read_text())
    spans = np.load(folder / "spans.npz")
    p_vec = np.load(folder / "passage_vectors.npy", mmap_mode="r")
    s_vec = np.load(folder / "sentence_vectors.npy", mmap_mode="r")
    n_p, n_s = len(spans["p_doc"]), len(spans["s_passage"])
    titles = [d.get("title", "") for d in manifest["documents"]]
    passages = [f"{titles[d]}\n{texts[d][s:e]}" for d, s, e in zip(spans["p_doc"], spans["p_start"], spans["p_end"])]
    sentences = [texts[spans["p_doc"][p]][s:e] for p, s, e in zip(spans["s_passage"], spans["s_start"],
                                                                   spans["s_end"])]

    def bm25_bytes(corpus: list[str]) -> tuple[int, float]:
        t0 = time.perf_counter()
        bm = BM25(corpus)
        took = time.perf_counter() - t0
        arrays = sum(a.nbytes for a in bm._model.scores.values() if isinstance(a, np.ndarray))
        vocab = sum(sys.getsizeof(k) + 100 for k in bm._vocab)  # key + dict entry + int, roughly
        return arrays + vocab + bm.idf.nbytes, took

    bp, tp = bm25_bytes(passages)
    bs, ts = bm25_bytes(sentences)
    per = {
        "passage_vector": p_vec.nbytes / n_p,
        "sentence_vectors": s_vec.nbytes / n_p,
        "spans": sum(spans[k].nbytes for k in spans.files) / n_p,
        "document_text": sum(sys.getsizeof(t) for t in texts) / n_p,
        "bm25_passages": bp / n_p,
        "bm25_sentences": bs / n_p,
    }
    return {"index": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder),
            "passages": n_p, "sentences": n_s, "sentences_per_passage": n_s / n_p, "bytes_per_passage": per,
            "bm25_build_s_per_1k_passages": 1000 * tp / n_p, "bm25_build_s_per_1k_sentences": 1000 * ts / n_s}


def table(doc: dict[str, Any]) -> str:
    rows = ["| passages | index | build s | index MB | RSS growth MB | p50 ms | p95 ms | p50 ms, 1 thread | "
            "recall@10 | setting |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for size in doc["sizes"]:
        for ix in size["indexes"]:
            c = ix["chosen"]
            if c is None:
                rows.append(f"| {size['n']:,} | {ix['factory']} | {ix['build_s']:.1f} | | | | | | <target | |")
                continue
            lat = c["latency_ms"]["k10"]
            setting = f"{c['param']}={c['value']}" if c["param"] else "exact"
            rows.append(f"| {size['n']:,} | {ix['factory']} | {ix['build_s']:.1f} | {ix['index_bytes'] / 1e6:.0f} | "
                        f"{ix['rss_growth_bytes'] / 1e6:.0f} | {lat['p50']:.2f} | {lat['p95']:.2f} | "
                        f"{c['latency_ms']['k10_1thread']['p50']:.2f} | "
                        f"{c['recall@10']:.3f} | {setting} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000", help="collection sizes, comma-separated")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.json"))
    ap.add_argument("--merge", action="store_true", help="keep the other sizes already in --out")
    ap.add_argument("--vectors", default=str(VECTORS), help="a saved index with passage/sentence_vectors.npy")
    ap.add_argument("--approx", default="HNSW32,IVF,HNSW32@efC128",
                    help="approximate indexes: HNSW<M> (as build_faiss makes it), HNSW<M>@efC<n> (the same with "
                         "another efConstruction), IVF (nlist=√n)")
    ap.add_argument("--ef", default="16,32,64,128,256,512", help="efSearch values to sweep (HNSW)")
    ap.add_argument("--ef-max", type=int, default=4096, help="efSearch doubles up to this until the target")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64,128", help="nprobe values to sweep (IVF; doubles up to "
                    "nlist until the target)")
    ap.add_argument("--target", type=float, default=0.95, help="recall@10 the chosen setting must reach")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--query-source", choices=("questions", "sentences"), default="questions",
                    help="real questions encoded with the project's model, or held-out sentence vectors + noise")
    ap.add_argument("--questions", default=str(ROOT.parent / "shared" / "data" / "squad2-open" /
                                                "questions-dev.jsonl"), help="JSONL with a 'question' field")
    ap.add_argument("--query-sigma", type=float, default=0.06, help="noise on held-out sentence queries")
    ap.add_argument("--kmax", type=int, default=100, help="second k: the candidates retrieval asks FAISS for")
    ap.add_argument("--sigma", type=float, default=0.02, help="gaussian noise per dimension")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="FAISS threads (0: FAISS's default)")
    ap.add_argument("--step", type=int, default=0, help=argparse.SUPPRESS)  # one size, in a child process
    ap.add_argument("--step-out", default="", help=argparse.SUPPRESS)
    ap.add_argument("--query-file", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.approx = [a for a in args.approx.split(",") if a]
    args.ef = [int(v) for v in args.ef.split(",")]
    args.nprobe = [int(v) for v in args.nprobe.split(",")]

    if args.step:
        Path(args.step_out).write_text(json.dumps(run_size(args.step, args)))
        return 0

    folder = Path(args.vectors)
    missing = [f for f in ("passage_vectors.npy", "sentence_vectors.npy") if not (folder / f).exists()]
    if missing:
        print(f"missing {folder / missing[0]}: build it first with `{BUILD_HINT}`", file=sys.stderr)
        return 2
    manifest = json.loads((folder / "manifest.json").read_text()) if (folder / "manifest.json").exists() else {}
    if args.query_source == "questions":
        if not Path(args.questions).exists():
            print(f"missing {args.questions}: give --questions, or --query-source sentences", file=sys.stderr)
            return 2
        q, model = question_queries(Path(args.questions), args.queries, args.seed, manifest.get("model", ""))
        source = f"{len(q)} questions of {args.questions}, encoded with {model}"
    else:
        q = sentence_queries(real_vectors(folder, args.queries, args.seed)[1], args.seed, args.query_sigma)
        source = f"{len(q)} held-out sentence vectors + N(0, {args.query_sigma}) noise"
    real_p = np.load(folder / "passage_vectors.npy")
    top = np.sort(q @ real_p.T, axis=1)[:, ::-1]
    out = Path(args.out)
    doc: dict[str, Any] = {
        "benchmark": "benchmarks/scale.py", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine(),
        "settings": {k: getattr(args, k) for k in ("approx", "ef", "ef_max", "nprobe", "target", "queries",
                                                     "query_source", "kmax", "sigma", "seed", "threads")}
        | {"vectors": str(folder)},
        "queries": {"source": source, "n": len(q), "top1_cos_vs_real_passages": float(top[:, 0].mean()),
                    "top10_cos_vs_real_passages": float(top[:, 9].mean())},
        "footprint": footprint(folder), "sizes": [],
    }
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.merge and out.exists():
        old = json.loads(out.read_text())
        if old.get("machine", {}).get("cpu_model") == doc["machine"]["cpu_model"]:
            doc["sizes"] = [s for s in old.get("sizes", []) if s["n"] not in sizes]
    t_all = time.perf_counter()
    for n in sizes:
        print(f"[{n:,} passages]", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            part, qfile = Path(tmp) / "part.json", Path(tmp) / "queries.npy"
            np.save(qfile, q)
            cmd = [sys.executable, __file__, "--step", str(n), "--step-out", str(part), "--vectors", str(folder),
                   "--query-file", str(qfile), "--query-source", args.query_source,
                   "--approx", ",".join(args.approx), "--ef", ",".join(map(str, args.ef)),
                   "--nprobe", ",".join(map(str, args.nprobe)), "--target", str(args.target),
                   "--ef-max", str(args.ef_max),
                   "--queries", str(args.queries), "--kmax", str(args.kmax), "--sigma", str(args.sigma),
                   "--seed", str(args.seed), "--threads", str(args.threads)]
            # A fixed mmap threshold: large buffers are returned to the system when freed, so RSS growth
            # measures each index rather than what glibc kept from the previous one.
            env = os.environ | {"MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
            t0 = time.perf_counter()
            load0 = os.getloadavg()
            if subprocess.run(cmd, env=env).returncode != 0:
                print(f"size {n:,} failed; stopping", file=sys.stderr)
                return 1
            size = json.loads(part.read_text())
            size["step_s"] = time.perf_counter() - t0
            size["loadavg"] = {"start": load0, "end": os.getloadavg()}
        doc["sizes"] = sorted([s for s in doc["sizes"] if s["n"] != n] + [size], key=lambda s: s["n"])
        doc["total_s"] = time.perf_counter() - t_all
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=1))
    print(table(doc))
    print(f"{out} ({doc['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
