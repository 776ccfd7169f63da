"""The index: passages and sentences with offsets, their vectors in FAISS, BM25 beside them, saved to disk.

Layout of ``embeddings/<name>/`` (written file by file, each to a temporary name and then renamed; the
manifest is written last and records every other file's size and SHA-256, so a partial or damaged index is
recognised and rebuilt, never used):

* ``manifest.json`` — format version, model, dimension, metric, index type, chunking settings, and for each
  document its content hash, title and page starts.
* ``texts.json`` — each document's extracted text (citations are offsets into it).
* ``spans.npz`` — passages (document number, start, end) and sentences (passage number, start, end).
* ``passage_vectors.npy`` / ``sentence_vectors.npy`` — float32, L2-normalised.
* ``dense.faiss`` — the FAISS index, for approximate index types (a flat index is rebuilt from the vectors).
* ``partial/`` — only while a build is unfinished: one checkpoint per embedded group of documents, so that an
  interrupted build (Ctrl-C, a crash) resumes where it stopped; removed once the index is saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import chunk_pool
from .bm25 import BM25
from .chunking import chunk_document
from .config import Config
from .documents import Document, check_folder, iter_files, read_document
from .embedding import Embedder, make_embedder
from .errors import DocumentsError, IndexFileError
from .results import Passage

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2
MANIFEST = "manifest.json"
FILES = ("texts.json", "spans.npz", "passage_vectors.npy", "sentence_vectors.npy")
PARTIAL = "partial"
#: Folder of the saved BM25 index, beside the files of the manifest.
BM25_FOLDER = "bm25"
# Passages embedded between two checkpoints (whole documents are added to a group until it has at least this
# many). It bounds the work an interruption loses: about two minutes on a 2-core CPU (~9 passages/s), 0.1 s
# on a GPU at 10,000 passages/s, where the checkpoint (~9 MB: vectors of 1,024 passages and their
# sentences) is written in the background while the next group is embedded.
GROUP_PASSAGES = 1024


class IndexingInterrupted(KeyboardInterrupt):
    """Embedding was interrupted (Ctrl-C); the groups finished so far are kept on disk and the next build with
    the same documents, model and settings reuses them.

    Attributes:
        done: passages whose vectors are kept (finished in this run or an earlier one).
        total: passages the build had to embed.
        folder: where they are kept (``<index>/partial``).
    """

    def __init__(self, done: int, total: int, folder: Path) -> None:
        super().__init__(f"{done:,} of {total:,} passages embedded and kept in {folder}; "
                         "run the same command again to resume")
        self.done, self.total, self.folder = done, total, folder


@dataclass
class Corpus:
    """Everything the index stores, in arrays. Sentences are grouped by passage, passages by document."""

    docs: list[Document]
    p_doc: np.ndarray  # int32 (n_passages,)
    p_start: np.ndarray  # int64
    p_end: np.ndarray
    s_passage: np.ndarray  # int32 (n_sentences,)
    s_start: np.ndarray
    s_end: np.ndarray
    p_vec: np.ndarray  # float32 (n_passages, dim)
    s_vec: np.ndarray  # float32 (n_sentences, dim)

    @classmethod
    def empty(cls, dim: int) -> Corpus:
        i32, i64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        return cls([], i32, i64, i64, i32, i64, i64, np.zeros((0, dim), np.float32),
                   np.zeros((0, dim), np.float32))

    @property
    def n_passages(self) -> int:
        return len(self.p_doc)

    @cached_property
    def s_first(self) -> np.ndarray:
        """CSR pointer: sentences of passage i are ``s_first[i]:s_first[i + 1]``."""
        return np.searchsorted(self.s_passage, np.arange(self.n_passages + 1)).astype(np.int64)

    def subset(self, keep_docs: Iterable[int]) -> Corpus:
        """The part of the corpus that belongs to the given document numbers (renumbered)."""
        keep = sorted(set(keep_docs))
        remap = np.full(len(self.docs), -1, np.int64)
        remap[keep] = np.arange(len(keep))
        pmask = np.isin(self.p_doc, keep)
        pnew = np.full(self.n_passages, -1, np.int64)
        pnew[pmask] = np.arange(int(pmask.sum()))
        smask = pmask[self.s_passage] if len(self.s_passage) else np.zeros(0, bool)
        return Corpus(
            [self.docs[i] for i in keep], remap[self.p_doc[pmask]].astype(np.int32), self.p_start[pmask],
            self.p_end[pmask], pnew[self.s_passage[smask]].astype(np.int32), self.s_start[smask],
            self.s_end[smask], self.p_vec[pmask], self.s_vec[smask],
        )

    @staticmethod
    def concat(parts: list[Corpus]) -> Corpus:
        parts = [p for p in parts if p.docs]
        if not parts:
            raise ValueError("nothing to concatenate")
        doc_off = np.cumsum([0] + [len(p.docs) for p in parts])
        p_off = np.cumsum([0] + [p.n_passages for p in parts])
        return Corpus(
            [d for p in parts for d in p.docs],
            np.concatenate([p.p_doc + doc_off[i] for i, p in enumerate(parts)]).astype(np.int32),
            np.concatenate([p.p_start for p in parts]), np.concatenate([p.p_end for p in parts]),
            np.concatenate([p.s_passage + p_off[i] for i, p in enumerate(parts)]).astype(np.int32),
            np.concatenate([p.s_start for p in parts]), np.concatenate([p.s_end for p in parts]),
            np.concatenate([p.p_vec for p in parts]), np.concatenate([p.s_vec for p in parts]),
        )


@dataclass
class _Chunks:
    """One document cut into passages: the texts given to the model and the spans the index keeps."""

    texts: list[str]
    sent_rel: list[list[tuple[int, int]]]  # sentence spans relative to each text
    p_start: list[int]
    p_end: list[int]
    s_passage: list[int]  # passage number within the document
    s_start: list[int]
    s_end: list[int]

    @cached_property
    def digest(self) -> str:
        """SHA-256 of exactly what the model is given for this document: its texts and sentence spans."""
        return hashlib.sha256(json.dumps([self.texts, self.sent_rel]).encode()).hexdigest()


def _chunk(doc: Document, max_tokens: int, count: Callable[[str], int], config: Config) -> _Chunks:
    c = _Chunks([], [], [], [], [], [], [])
    prefix = f"{doc.title}\n" if config.title_in_passage and doc.title else ""
    for (ps, pe), sentences in chunk_document(doc.text, max_tokens - count(prefix), count, config.min_words):
        # The title is given to the model as context, unless the passage starts with it already.
        pre = "" if doc.text[ps:pe].startswith(doc.title) else prefix
        p = len(c.p_start)
        c.p_start.append(ps)
        c.p_end.append(pe)
        c.texts.append(pre + doc.text[ps:pe])
        c.sent_rel.append([(s - ps + len(pre), e - ps + len(pre)) for s, e in sentences])
        for s, e in sentences:
            c.s_passage.append(p)
            c.s_start.append(s)
            c.s_end.append(e)
    return c


def _assemble(docs: list[Document], chunks: list[_Chunks], p_vec: np.ndarray, s_vec: np.ndarray) -> Corpus:
    """The corpus of documents embedded together: ``p_vec``/``s_vec`` in the order of their chunks."""
    p_off = np.cumsum([0] + [len(c.p_start) for c in chunks])
    return Corpus(
        docs, np.asarray([d for d, c in enumerate(chunks) for _ in c.p_start], np.int32),
        np.asarray([x for c in chunks for x in c.p_start], np.int64),
        np.asarray([x for c in chunks for x in c.p_end], np.int64),
        np.asarray([p + p_off[d] for d, c in enumerate(chunks) for p in c.s_passage], np.int32),
        np.asarray([x for c in chunks for x in c.s_start], np.int64),
        np.asarray([x for c in chunks for x in c.s_end], np.int64), p_vec, s_vec,
    )


def _groups(todo: list[int], chunks: list[_Chunks], size: int) -> list[list[int]]:
    """Consecutive documents, each group closed once it has ``size`` passages or more. Deterministic, so that a
    resumed build (whose finished groups are a prefix) cuts the rest exactly as an uninterrupted one would."""
    groups: list[list[int]] = []
    group: list[int] = []
    n = 0
    for i in todo:
        group.append(i)
        n += len(chunks[i].texts)
        if n >= size:
            groups.append(group)
            group, n = [], 0
    if group:
        groups.append(group)
    return groups


_CK_ARRAYS = ("p_doc", "p_start", "p_end", "s_passage", "s_start", "s_end", "p_vec", "s_vec")


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{exc.__class__.__name__}: {msg}" if msg else exc.__class__.__name__


class _Checkpoints:
    """The finished groups of a build, one ``<key>.npz`` each in ``folder`` (``<index>/partial``).

    A file records what it holds — format version, model, index settings, and for each document its id, content
    hash and the hash of the texts and sentence spans given to the model — and is named by the SHA-256 of that
    record. A document's passages are reused only from a file whose record matches the current model and
    settings and the document's current hashes, and whose spans equal the ones the document is cut into now;
    other files are left alone, and an unreadable or inconsistent one is redone with a warning. Files are
    written atomically, on one background thread, so that the disk work overlaps the next group's embedding
    (at most one write is in flight).
    """

    def __init__(self, folder: Path, model_id: str, settings: dict[str, Any]) -> None:
        self.folder = folder
        self.head = {"format_version": FORMAT_VERSION, "model": model_id, "settings": settings}
        self.kept = 0  # passages in the folder that this build reused or wrote
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[Future[None], int] | None = None
        self._failed = False

    @staticmethod
    def key(record: dict[str, Any]) -> str:
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    @staticmethod
    def entry(doc: Document, chunks: _Chunks) -> tuple[str, str, str]:
        return doc.doc_id, doc.sha256, chunks.digest

    def reuse(self, docs: list[Document], chunks: list[_Chunks]) -> list[tuple[list[int], Corpus]]:
        """Parts of ``docs`` finished by an earlier build: (document numbers, their corpus) for each file used."""
        if not self.folder.is_dir():
            return []
        wanted = {self.entry(d, c): i for i, (d, c) in enumerate(zip(docs, chunks))}
        found: set[int] = set()
        parts: list[tuple[list[int], Corpus]] = []
        dim = None
        for f in sorted(self.folder.glob("*.npz")):
            try:
                with np.load(f, allow_pickle=False) as z:
                    record = json.loads(str(z["meta"]))
                    if self.key(record) != f.stem:
                        raise ValueError("its name does not match its content")
                    if {k: record.get(k) for k in self.head} != self.head:
                        continue  # another model or other settings: not ours to use or judge
                    listed = [tuple(m) for m in record["documents"]]
                    local = [(j, wanted[m]) for j, m in enumerate(listed) if m in wanted and wanted[m] not in found]
                    if not local:
                        continue
                    arrays = {k: z[k] for k in _CK_ARRAYS}
                placeholder: list[Any] = [None] * len(listed)
                sub = Corpus(placeholder, **arrays).subset([j for j, _ in local])
                mine = [i for _, i in local]
                part = _assemble([docs[i] for i in mine], [chunks[i] for i in mine], sub.p_vec, sub.s_vec)
                width = sub.p_vec.shape[1] if sub.p_vec.ndim == 2 else -1
                if (any(not np.array_equal(getattr(sub, k), getattr(part, k)) for k in _CK_ARRAYS[:6])
                        or sub.p_vec.dtype != np.float32 or sub.s_vec.dtype != np.float32
                        or sub.p_vec.shape != (sub.n_passages, width) or sub.s_vec.shape != (len(sub.s_passage), width)
                        or width != (dim or width)):
                    raise ValueError("its passages do not match the documents")
            except Exception as exc:  # whatever is wrong with a checkpoint, its work is redone
                logger.warning("checkpoint %s not used, its documents are embedded again (%s)", f, _one_line(exc))
                continue
            dim = width
            parts.append((mine, part))
            found.update(mine)
            self.kept += part.n_passages
        return parts

    def save(self, part: Corpus, chunks: list[_Chunks]) -> None:
        """Write ``part`` (cut into ``chunks``) in the background, once the previous write has finished."""
        self.wait()
        if self._failed:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="qa-checkpoint")
        self._pending = (self._pool.submit(self._write, part, chunks), part.n_passages)

    def _write(self, part: Corpus, chunks: list[_Chunks]) -> None:
        record = {**self.head, "documents": [list(self.entry(d, c)) for d, c in zip(part.docs, chunks)]}
        arrays = {k: getattr(part, k) for k in _CK_ARRAYS}
        self.folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.folder / f"{self.key(record)}.npz",
                      lambda f: np.savez(f, meta=np.array(json.dumps(record)), **arrays))

    def wait(self) -> None:
        """Wait for the write in flight; a write that failed turns checkpoints off for this build, with a warning."""
        if self._pending is None:
            return
        future, n = self._pending
        try:
            future.result()
        except OSError as exc:
            self._failed = True
            logger.warning("cannot write checkpoints in %s, going on without (%s)", self.folder, _one_line(exc))
        else:
            self.kept += n
        self._pending = None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None


def embed_documents(docs: list[Document], embedder: Embedder, config: Config, show_progress: bool = False,
                    checkpoints: Path | None = None, group_passages: int | None = None) -> Corpus:
    """Chunk and embed documents (the expensive step), in groups of whole documents of at least
    ``group_passages`` passages (default :data:`GROUP_PASSAGES`).

    With ``checkpoints`` (a folder), each finished group is saved there and groups saved by an earlier,
    interrupted call for the same documents, model and settings are reused; an interruption then raises
    :class:`IndexingInterrupted`, which says how much is kept.
    """
    return _embed(docs, embedder, config, show_progress, checkpoints, group_passages)[0]


def _embed(docs: list[Document], embedder: Embedder, config: Config, show_progress: bool,
           checkpoints: Path | None, group_passages: int | None) -> tuple[Corpus, int]:
    """:func:`embed_documents`, and how many of the passages are kept in ``checkpoints``."""
    size = max(1, GROUP_PASSAGES if group_passages is None else group_passages)
    max_tokens = min(config.max_tokens, embedder.max_tokens) - 2
    chunks = None
    workers = chunk_pool.start(docs, max_tokens, embedder.portable_counter(), config)
    if workers is not None:  # a large collection: chunked in worker processes while the model loads here
        try:
            embedder.prepare()
        finally:
            chunks = workers.result()
    if chunks is None:
        chunks = [_chunk(doc, max_tokens, embedder.count_tokens, config) for doc in docs]
    total = sum(len(c.texts) for c in chunks)
    store = _Checkpoints(checkpoints, embedder.model_id, config.index_fields()) if checkpoints is not None else None
    parts: list[tuple[list[int], Corpus]] = []
    bar = _Progress(0, False)
    try:
        if store is not None:
            parts = store.reuse(docs, chunks)
            if parts:
                logger.info("resuming: %d of %d passages were embedded by an earlier run (%s)", store.kept, total,
                            store.folder)
        found = {i for mine, _ in parts for i in mine}
        bar = _Progress(total, show_progress, initial=store.kept if store else 0)
        for group in _groups([i for i in range(len(docs)) if i not in found], chunks, size):
            p_vec, s_vec = embedder.encode_passages([t for i in group for t in chunks[i].texts],
                                                    [s for i in group for s in chunks[i].sent_rel], progress=bar)
            part = _assemble([docs[i] for i in group], [chunks[i] for i in group], p_vec, s_vec)
            parts.append((group, part))
            if store is not None:
                store.save(part, [chunks[i] for i in group])
        if store is not None:
            store.wait()
    except KeyboardInterrupt:
        if store is None:
            raise
        store.close()
        raise IndexingInterrupted(store.kept, total, store.folder) from None
    finally:
        bar.close()
        if store is not None:
            store.close()
    if not parts:  # no documents
        return Corpus.empty(embedder.dim), 0
    corpus = Corpus.concat([part for _, part in parts])
    return _reorder(corpus, [i for mine, _ in parts for i in mine]), store.kept if store else 0


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def choose_index_type(config: Config, n: int) -> str:
    """``config.index_type``, or with ``auto``: exact search (``Flat``) below ``config.exact_below`` passages,
    else an inverted file with about sqrt(n) lists. Chosen by ``benchmarks/scale.py`` (2-core CPU): exact search
    takes ~17 ms per query at 100k passages and ~110 ms at 1M; ``IVF{sqrt n},Flat`` searching 16 lists keeps
    recall@10 against exact search at 0.96-0.98 from 100k to 1M in 0.4-3.6 ms, and builds in a minute at 1M
    where HNSW32 needs 5-8 (the FAISS index is rebuilt when documents change)."""
    if config.index_type != "auto":
        return config.index_type
    if n < config.exact_below:
        return "Flat"
    return f"IVF{max(1, round(n ** 0.5))},Flat"


#: Search settings of the approximate indexes (``benchmarks/scale.py``: recall@10 >= 0.95 against exact
#: search up to 1M passages): lists probed by IVF, and HNSW's graph build and search breadth.
IVF_NPROBE = 16
HNSW_EF_CONSTRUCTION = 128
HNSW_EF_SEARCH = 256


def build_faiss(vectors: np.ndarray, index_type: str) -> Any:
    """A FAISS inner-product index of the given factory type over L2-normalised vectors."""
    import faiss

    dim = vectors.shape[1]
    index = faiss.index_factory(dim, index_type, faiss.METRIC_INNER_PRODUCT)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    if not index.is_trained:
        index.train(vectors)
    params = faiss.ParameterSpace()
    if "HNSW" in index_type:
        params.set_index_parameter(index, "efSearch", HNSW_EF_SEARCH)
    if "IVF" in index_type:
        params.set_index_parameter(index, "nprobe", IVF_NPROBE)
    index.add(vectors)
    return index


class Index:
    """A searchable, saved collection: documents, passages, sentences, dense and BM25 indexes.

    Use :func:`load_index` (or ``qa.load_index``) to get one; it builds or updates the saved copy as needed.
    """

    def __init__(self, corpus: Corpus, embedder: Embedder, config: Config, path: Path | None,
                 docs_folder: Path | None, faiss_index: Any = None, index_type: str = "Flat") -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.config = config
        self.path = path
        self.docs_folder = docs_folder
        self.index_type = index_type
        self._faiss = faiss_index
        self.doc_by_id = {d.doc_id: d for d in corpus.docs}
        self.doc_number = {d.doc_id: i for i, d in enumerate(corpus.docs)}

    # -- read access -------------------------------------------------------------------------------------
    @property
    def documents(self) -> list[Document]:
        return self.corpus.docs

    def __len__(self) -> int:
        return self.corpus.n_passages

    def passage(self, i: int) -> Passage:
        c = self.corpus
        doc = c.docs[int(c.p_doc[i])]
        s, e = int(c.p_start[i]), int(c.p_end[i])
        return Passage(doc.doc_id, s, e, doc.text[s:e], title=doc.title)

    def sentences_of(self, i: int) -> range:
        return range(int(self.corpus.s_first[i]), int(self.corpus.s_first[i + 1]))

    @cached_property
    def faiss(self) -> Any:
        if self._faiss is None:
            self._faiss = build_faiss(self.corpus.p_vec, self.index_type)
        return self._faiss

    @cached_property
    def bm25(self) -> BM25:
        """BM25 over the passages (with their titles): loaded from ``<index>/bm25/`` when that was saved for
        this very index, else built from the texts and saved there (best effort) for the next process."""
        saved = _SavedBM25(self.path) if self.path is not None else None
        bm = saved.load() if saved is not None else None
        if bm is None:
            c = self.corpus
            texts = []
            for i in range(c.n_passages):
                doc = c.docs[int(c.p_doc[i])]
                title = doc.title if self.config.title_in_passage else ""
                texts.append(f"{title}\n{doc.text[int(c.p_start[i]):int(c.p_end[i])]}")
            bm = BM25(texts)
            if saved is not None:
                saved.save(bm)
        return bm

    @cached_property
    def s_bm25(self) -> BM25:
        """BM25 over sentences, for idf-weighted term matches inside a passage."""
        c = self.corpus
        return BM25([c.docs[int(c.p_doc[int(p)])].text[int(s):int(e)]
                     for p, s, e in zip(c.s_passage, c.s_start, c.s_end)])

    def warm_up(self) -> None:
        """Build the in-memory search structures and load the model now rather than on the first question."""
        _ = self.faiss, self.bm25
        self.embedder.encode_queries(["warm up"])

    # -- saving ------------------------------------------------------------------------------------------
    def save(self, path: Path | None = None) -> None:
        path = Path(path or self.path or "")
        path.mkdir(parents=True, exist_ok=True)
        c = self.corpus
        _atomic_write(path / "texts.json", lambda f: f.write(json.dumps([d.text for d in c.docs])), "w")
        _atomic_write(path / "spans.npz", lambda f: np.savez(
            f, p_doc=c.p_doc, p_start=c.p_start, p_end=c.p_end, s_passage=c.s_passage, s_start=c.s_start,
            s_end=c.s_end))
        _atomic_write(path / "passage_vectors.npy", lambda f: np.save(f, c.p_vec))
        _atomic_write(path / "sentence_vectors.npy", lambda f: np.save(f, c.s_vec))
        files = list(FILES)
        if self.index_type != "Flat":
            import faiss

            _atomic_write(path / "dense.faiss", lambda f: f.write(faiss.serialize_index(self.faiss).tobytes()))
            files.append("dense.faiss")
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": self.embedder.model_id,
            "dim": int(c.p_vec.shape[1]),
            "normalized": True,
            "metric": "inner_product",
            "index_type": self.index_type,
            "settings": self.config.index_fields(),
            "n_passages": c.n_passages,
            "n_sentences": len(c.s_passage),
            "docs_folder": str(self.docs_folder) if self.docs_folder else None,
            "documents": [{"doc_id": d.doc_id, "sha256": d.sha256, "title": d.title, "pages": list(d.pages),
                           "chars": len(d.text)} for d in c.docs],
            "files": {name: {"bytes": (path / name).stat().st_size, "sha256": _sha256_file(path / name)}
                      for name in files},
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        _atomic_write(path / MANIFEST, lambda f: f.write(json.dumps(manifest, indent=1)), "w")
        self.path = path
        # BM25 is saved beside the index now (built first if it was not yet), so a new process only loads it
        if "bm25" in self.__dict__:
            _SavedBM25(path).save(self.bm25)
        else:
            _ = self.bm25


class _SavedBM25:
    """``<index>/bm25/``: the BM25 index saved beside a saved index. It is derived from the passages, so it is
    keyed by the manifest it was built for; a stale or damaged copy is rebuilt, never used, and never makes
    the index itself count as damaged. Building it costs about 0.45 s per 1,000 passages (tokenising with
    stemming); loading it, a few milliseconds."""

    #: Bumped whenever tokenisation or scoring changes, so that older saved copies are rebuilt.
    VERSION = 1

    def __init__(self, index_path: Path) -> None:
        self.folder = index_path / BM25_FOLDER
        self.manifest = index_path / MANIFEST

    def _key(self) -> str | None:
        try:
            digest = hashlib.sha256(self.manifest.read_bytes()).hexdigest()
        except OSError:
            return None
        return f"{self.VERSION}:{digest}"

    def load(self) -> BM25 | None:
        key = self._key()
        try:
            if key is None or (self.folder / "key").read_text(encoding="utf-8") != key:
                return None  # none saved yet, or saved for other contents: rebuilt quietly
        except OSError:
            return None
        try:
            return BM25.load(self.folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("%s: unreadable (%s); rebuilding BM25 from the passages", self.folder, exc)
            return None

    def save(self, bm: BM25) -> None:
        key = self._key()
        if key is None:
            return
        tmp = None
        try:
            tmp = Path(tempfile.mkdtemp(dir=self.folder.parent, prefix=f".{BM25_FOLDER}-"))
            bm.save(tmp)
            (tmp / "key").write_text(key, encoding="utf-8")  # last: a copy without it is never used
            old = self.folder.with_name(f"{tmp.name}-old")
            if self.folder.exists():
                os.replace(self.folder, old)
            os.replace(tmp, self.folder)
            shutil.rmtree(old, ignore_errors=True)
        except OSError as exc:  # a read-only index folder, a full disk, another process saving at once
            logger.info("BM25 not saved in %s (%s); it is rebuilt when the index is next opened", self.folder, exc)
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of a saved index, or :class:`IndexFileError` naming the file and what is wrong."""
    mpath = path / MANIFEST
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexFileError(f"{mpath}: missing") from exc
    except (OSError, ValueError) as exc:
        raise IndexFileError(f"{mpath}: unreadable ({exc.__class__.__name__})") from exc
    if not isinstance(manifest, dict):
        raise IndexFileError(f"{mpath}: not a manifest (expected a JSON object)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFileError(f"{mpath}: format version {manifest.get('format_version')!r}, "
                             f"expected {FORMAT_VERSION}")
    return manifest


def _check_files(path: Path, manifest: dict[str, Any]) -> None:
    for name, meta in manifest.get("files", {}).items():
        f = path / name
        if not f.exists():
            raise IndexFileError(f"{f}: missing")
        if f.stat().st_size != meta["bytes"]:
            raise IndexFileError(f"{f}: {f.stat().st_size} bytes, manifest says {meta['bytes']} (partial write?)")
        if _sha256_file(f) != meta["sha256"]:
            raise IndexFileError(f"{f}: content does not match its checksum (corrupted)")


def open_saved(path: Path, embedder: Embedder, config: Config) -> Index:
    """Open a saved index, checking format, model, settings and every file's checksum."""
    manifest = read_manifest(path)
    if manifest.get("model") != embedder.model_id:
        raise IndexFileError(f"{path}: built with model {manifest.get('model')!r}, not {embedder.model_id!r}")
    if manifest.get("settings") != config.index_fields():
        raise IndexFileError(f"{path}: built with other settings {manifest.get('settings')}")
    missing = [k for k in ("dim", "index_type", "documents", "files") if k not in manifest]
    if missing or not isinstance(manifest["files"], dict) or not set(FILES) <= set(manifest["files"]):
        what = ", ".join(missing) or "file checksums"
        raise IndexFileError(f"{path / MANIFEST}: incomplete (missing {what})")
    _check_files(path, manifest)
    try:
        texts = json.loads((path / "texts.json").read_text(encoding="utf-8"))
        spans = np.load(path / "spans.npz")
        p_vec = np.load(path / "passage_vectors.npy")
        s_vec = np.load(path / "sentence_vectors.npy")
        docs = [Document(m["doc_id"], t, m["sha256"], m.get("title", ""), tuple(m.get("pages", ())))
                for m, t in zip(manifest["documents"], texts, strict=True)]
        corpus = Corpus(docs, spans["p_doc"], spans["p_start"], spans["p_end"], spans["s_passage"],
                        spans["s_start"], spans["s_end"], p_vec, s_vec)
    except (OSError, ValueError, KeyError) as exc:
        raise IndexFileError(f"{path}: unreadable ({exc})") from exc
    if p_vec.shape != (corpus.n_passages, manifest["dim"]) or len(s_vec) != len(corpus.s_passage):
        raise IndexFileError(f"{path}: vector shapes do not match the manifest")
    faiss_index = None
    if "dense.faiss" in manifest["files"]:
        import faiss

        faiss_index = faiss.deserialize_index(np.fromfile(path / "dense.faiss", dtype=np.uint8))
    folder = Path(manifest["docs_folder"]) if manifest.get("docs_folder") else None
    return Index(corpus, embedder, config, path, folder, faiss_index, manifest["index_type"])


def default_index_dir(docs: str | Path) -> Path:
    """``embeddings/<name of the docs folder>`` under the current directory."""
    return Path("embeddings") / (Path(docs).resolve().name or "docs")


class _Progress:
    """A tqdm bar of passages embedded, with throughput and time left; ``initial`` passages were done before."""

    def __init__(self, total: int, enabled: bool, initial: int = 0) -> None:
        self.bar = None
        if enabled and total > initial:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, unit="passage", desc="embedding", dynamic_ncols=True)

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def load_index(
    docs: str | Path | None = None,
    index_dir: str | Path | None = None,
    config: Config | None = None,
    embedder: Embedder | None = None,
    progress: bool = True,
    save: bool = True,
) -> Index:
    """The index of a folder of documents, built on first use and brought up to date when files change.

    Only new or changed documents are embedded again; a saved index that is damaged, partial or built with
    another model or settings is rebuilt, with a warning. With ``docs=None`` the saved index is used as is.

    Raises:
        DocumentsError: the folder is missing, unreadable or has no documents with text.
        IndexFileError: ``docs`` is None and the saved index cannot be used.
    """
    config = config or Config.from_env()
    embedder = embedder or make_embedder(config.model, config.device or None, config.batch_size, config.backend)
    if docs is None and index_dir is None:
        raise DocumentsError("give a documents folder or a saved index")
    path = Path(index_dir) if index_dir is not None else default_index_dir(docs)  # type: ignore[arg-type]
    saved: Index | None = None
    # A folder holding only the checkpoints of an interrupted first build has no index to open yet.
    if (path / MANIFEST).exists() or (path.exists() and any(p.name != PARTIAL for p in path.iterdir())):
        try:
            saved = open_saved(path, embedder, config)
        except IndexFileError as exc:
            if docs is None:
                raise
            logger.warning("saved index not used, rebuilding: %s", exc)
    if docs is None:
        if saved is None:
            raise IndexFileError(f"no saved index in {path}: give the documents folder to build one")
        return saved
    folder = check_folder(docs).resolve()
    return update_index(saved, folder, path, embedder, config, progress=progress, save=save)


def update_index(saved: Index | None, folder: Path, path: Path, embedder: Embedder, config: Config,
                 progress: bool = True, save: bool = True) -> Index:
    """Bring ``saved`` (or nothing) in line with ``folder``: keep unchanged documents, embed the rest."""
    old = saved.corpus if saved is not None else None
    old_by_id = {d.doc_id: (i, d) for i, d in enumerate(old.docs)} if old else {}
    keep: list[int] = []
    fresh: list[Document] = []
    order: list[str] = []
    for f in iter_files(folder):
        doc_id = f.relative_to(folder).as_posix()
        if doc_id in old_by_id:
            i, d = old_by_id[doc_id]
            try:
                same = hashlib.sha256(f.read_bytes()).hexdigest() == d.sha256
            except OSError:
                same = False
            if same:
                keep.append(i)
                order.append(doc_id)
                continue
        doc = read_document(folder, f)
        if doc is not None:
            fresh.append(doc)
            order.append(doc_id)
    if not order:
        raise DocumentsError(f"no documents with text in {folder} (looked for .txt, .md, .html)")
    removed = len(old_by_id) - len(keep)
    if saved is not None and not fresh and not removed:
        saved.docs_folder = folder
        return saved
    if fresh:
        logger.info("embedding %d new or changed document(s); %d unchanged", len(fresh), len(keep))
    checkpoints = path / PARTIAL if save else None
    new_part, kept = _embed(fresh, embedder, config, progress, checkpoints, None) if fresh else (None, 0)
    parts = [old.subset(keep)] if old is not None and keep else []
    if new_part is not None:
        parts.append(new_part)
    corpus = Corpus.concat(parts)
    # Same order as the folder, so results do not depend on edit history.
    pos = {doc_id: i for i, doc_id in enumerate(order)}
    corpus = _reorder(corpus, [pos[d.doc_id] for d in corpus.docs])
    index = Index(corpus, embedder, config, path, folder,
                  index_type=choose_index_type(config, corpus.n_passages))
    if save:
        try:
            index.save(path)
        except KeyboardInterrupt:
            if checkpoints is None or new_part is None:
                raise
            raise IndexingInterrupted(kept, new_part.n_passages, checkpoints) from None
        logger.info("index saved to %s (%d documents, %d passages)", path, len(corpus.docs), corpus.n_passages)
        shutil.rmtree(path / PARTIAL, ignore_errors=True)  # the checkpoints of this build (or stale ones)
    return index


def _reorder(corpus: Corpus, rank: list[int]) -> Corpus:
    """Documents put in the order ``rank`` gives them; passages and sentences follow their documents."""
    if rank == sorted(rank):
        return corpus
    c = corpus
    doc_rank = np.argsort(np.argsort(rank))  # dense 0..n-1 rank of each document
    p_perm = np.lexsort((np.arange(c.n_passages), doc_rank[c.p_doc]))
    p_new = np.empty_like(p_perm)
    p_new[p_perm] = np.arange(len(p_perm))
    s_key = p_new[c.s_passage]
    s_perm = np.lexsort((np.arange(len(s_key)), s_key))
    docs = [c.docs[i] for i in np.argsort(doc_rank)]
    return Corpus(docs, doc_rank[c.p_doc][p_perm].astype(np.int32), c.p_start[p_perm], c.p_end[p_perm],
                  s_key[s_perm].astype(np.int32), c.s_start[s_perm], c.s_end[s_perm], c.p_vec[p_perm],
                  c.s_vec[s_perm])
