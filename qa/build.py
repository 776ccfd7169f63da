"""Building: documents cut into passages and embedded (the expensive step), in groups with checkpoints, so
that an interrupted build resumes where it stopped."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from . import chunk_pool
from .chunking import chunk_document
from .config import Config
from .corpus import FORMAT_VERSION, Corpus, reorder
from .documents import Document
from .embedding import Embedder
from .files import atomic_write

logger = logging.getLogger(__name__)

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
                         "run the same command again to resume" if done else
                         f"0 of {total:,} passages embedded, nothing to keep; run the same command again to start")
        self.done, self.total, self.folder = done, total, folder


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
    if prefix and count(prefix) > max_tokens // 4:  # a title that long would crowd out the passage it heads
        prefix = ""
    for (ps, pe), sentences in chunk_document(doc.text, max_tokens - count(prefix), count, config.min_words):
        # The title is given to the model as context, unless the passage starts with it already.
        pre = "" if not prefix or doc.text[ps:pe].startswith(doc.title) else prefix
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

    def __init__(self, folder: Path, model_id: str, settings: dict[str, Any], model_version: str | None = None) -> None:
        self.folder = folder
        self.head = {"format_version": FORMAT_VERSION, "model": model_id, "model_version": model_version,
                     "settings": settings}
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
        atomic_write(self.folder / f"{self.key(record)}.npz",
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
    return embed_corpus(docs, embedder, config, show_progress, checkpoints, group_passages)[0]


def embed_corpus(docs: list[Document], embedder: Embedder, config: Config, show_progress: bool,
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
    store = (_Checkpoints(checkpoints, embedder.model_id, config.index_fields(), embedder.model_version)
             if checkpoints is not None else None)
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
    return reorder(corpus, [i for mine, _ in parts for i in mine]), store.kept if store else 0


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
