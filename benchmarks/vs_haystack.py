"""Side by side with Haystack's hybrid retrieval, in one run on one machine (issue: speed and scale).

Haystack 2 (``haystack-ai`` + ``sentence-transformers-haystack``): all-MiniLM-L6-v2 (the packaged weights;
this project's default is the same network fine-tuned, ``qa/data/retriever``, so equally fast to run),
``InMemoryEmbeddingRetriever`` and ``InMemoryBM25Retriever`` joined by reciprocal rank fusion,
over the squad2-open corpus split into its paragraphs. This project: ``qa.load_index`` / ``qa.retrieve`` /
``qa.answer`` (the default answerer, the bundled reader; and the sentence answerer). 300 answerable dev
questions, taken round-robin over the articles they are about; warm, one query at a time; recall@5 = the
gold answer lies in a top-5 passage. Also the cold start of ``qa ask`` (a new process, index already built).

    pip install -e .[bench]
    python benchmarks/vs_haystack.py --docs ../shared/data/squad2-open/corpus \\
        --questions ../shared/data/squad2-open/questions-dev.jsonl --out benchmarks/results/vs_haystack.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pick_questions(path: Path, n: int) -> list[dict]:
    by_doc: dict[str, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        q = json.loads(line)
        if q["answers"]:
            by_doc.setdefault(q["answers"][0]["doc"], []).append(q)
    out, i = [], 0
    while len(out) < n and any(i < len(v) for v in by_doc.values()):
        out += [v[i] for v in by_doc.values() if i < len(v)]
        i += 1
    return out[:n]


def hit(doc: str, start: int, end: int, q: dict) -> bool:
    return any(a["doc"] == doc and start <= a["start"] and a["start"] + len(a["text"]) <= end for a in q["answers"])


def p50(xs: list[float]) -> float:
    return round(statistics.median(xs) * 1000, 1)


def p95(xs: list[float]) -> float:
    return round(sorted(xs)[int(0.95 * (len(xs) - 1))] * 1000, 1)


def haystack_run(docs: Path, questions: list[dict], model: str) -> dict:
    from haystack import Document, Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder,
        SentenceTransformersTextEmbedder,
    )

    documents = []
    for f in sorted(docs.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        at = 0
        for para in text.split("\n\n"):
            if para.strip():
                documents.append(Document(content=para, meta={"doc": f.name, "start": at, "end": at + len(para)}))
            at += len(para) + 2
    t0 = time.perf_counter()
    store = InMemoryDocumentStore()
    embedder = SentenceTransformersDocumentEmbedder(model=model, progress_bar=False)
    embedder.warm_up()
    store.write_documents(embedder.run(documents)["documents"])
    index_s = time.perf_counter() - t0
    p = Pipeline()
    p.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model, progress_bar=False))
    p.add_component("embedding_retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=5))
    p.add_component("bm25_retriever", InMemoryBM25Retriever(document_store=store, top_k=5))
    p.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=5))
    p.connect("text_embedder", "embedding_retriever")
    p.connect("embedding_retriever", "joiner")
    p.connect("bm25_retriever", "joiner")
    p.warm_up()
    p.run({"text_embedder": {"text": "warm up"}, "bm25_retriever": {"query": "warm up"}})
    times, found = [], 0
    for q in questions:
        t = time.perf_counter()
        got = p.run({"text_embedder": {"text": q["question"]}, "bm25_retriever": {"query": q["question"]}})
        times.append(time.perf_counter() - t)
        found += any(hit(d.meta["doc"], d.meta["start"], d.meta["end"], q) for d in got["joiner"]["documents"][:5])
    return {"index_s": round(index_s, 1), "passages": len(documents), "retrieve_ms_p50": p50(times),
            "retrieve_ms_p95": p95(times), "recall@5": round(found / len(questions), 3)}


def qa_run(docs: Path, questions: list[dict], index_dir: Path) -> dict:
    import qa
    from qa.config import Config

    shutil.rmtree(index_dir, ignore_errors=True)
    t0 = time.perf_counter()
    index = qa.load_index(docs=docs, index_dir=index_dir, config=Config.from_env(), progress=False)
    index.warm_up()
    index_s = time.perf_counter() - t0
    qa.retrieve("warm up", index=index)
    r_times, found = [], 0
    for q in questions:
        t = time.perf_counter()
        hits = qa.retrieve(q["question"], k=5, index=index)
        r_times.append(time.perf_counter() - t)
        found += any(hit(h.doc_id, h.start, h.end, q) for h in hits)
    out = {"index_s": round(index_s, 1), "passages": len(index), "retrieve_ms_p50": p50(r_times),
           "retrieve_ms_p95": p95(r_times), "recall@5": round(found / len(questions), 3)}
    for name, reader in (("answer", None), ("answer_sentence", "sentence")):
        qa.answer("warm up", index=index, reader=reader)
        a_times = []
        for q in questions:
            t = time.perf_counter()
            qa.answer(q["question"], index=index, reader=reader)
            a_times.append(time.perf_counter() - t)
        out[f"{name}_ms_p50"], out[f"{name}_ms_p95"] = p50(a_times), p95(a_times)
    return out


def cold_ask(docs: Path, index_dir: Path, question: str, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa", "ask", question, "--docs", str(docs), "--index", str(index_dir)],
                       check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    from qa import onnx_backend
    from qa.config import Config
    from qa.embedding import resolve_model_path

    questions = pick_questions(args.questions, args.n)
    model = resolve_model_path("all-MiniLM-L6-v2")
    config = Config.from_env()
    backend, ours_model = config.backend, resolve_model_path(config.model)
    # the ONNX export is made once per model and cached; say whether this run's index build included it
    exported = (onnx_backend.exportable(ours_model)
                and (onnx_backend.cache_dir(ours_model, "encoder") / "model.onnx").is_file())
    with tempfile.TemporaryDirectory() as tmp:
        ours = qa_run(args.docs, questions, Path(tmp) / "index")
        ours.update(backend=backend, onnx_export_cached=bool(exported), model=config.model)
        print("qa:", ours, flush=True)
        ours["cold_ask_s"] = cold_ask(args.docs, Path(tmp) / "index", questions[0]["question"])
        print("qa cold ask:", ours["cold_ask_s"], "s", flush=True)
    theirs = haystack_run(args.docs, questions, model)
    theirs["model"] = "all-MiniLM-L6-v2"
    print("haystack:", theirs, flush=True)
    ratios = {"retrieve_p50 / haystack": round(ours["retrieve_ms_p50"] / theirs["retrieve_ms_p50"], 2),
              "answer_p50 / haystack retrieve_p50": round(ours["answer_ms_p50"] / theirs["retrieve_ms_p50"], 2),
              "answer_sentence_p50 / haystack retrieve_p50": round(ours["answer_sentence_ms_p50"]
                                                                   / theirs["retrieve_ms_p50"], 2),
              "index / haystack": round(ours["index_s"] / theirs["index_s"], 2)}
    print("ratios:", ratios)
    result = {"questions": len(questions), "machine": f"{os.cpu_count()} CPU cores", "qa": ours,
              "haystack": theirs, "ratios": ratios}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
