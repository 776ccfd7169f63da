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
import json
import logging
import os
import shutil
import time
import zipfile
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .bm25 import BM25
from .build import IndexingInterrupted, embed_corpus
from .config import Config
from .corpus import FORMAT_VERSION, Corpus, reorder
from .documents import EXTRACTION_VERSION, Document, check_folder, hash_bytes, iter_files, no_documents, read_document
from .embedding import Embedder, make_embedder
from .errors import DocumentsError, IndexFileError
from .files import atomic_write, folder_lock, sha256_file, temp_dir
from .results import Passage

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FILES = ("texts.json", "spans.npz", "passage_vectors.npy", "sentence_vectors.npy")
PARTIAL = "partial"
#: Folder of the saved BM25 index, beside the files of the manifest.
BM25_FOLDER = "bm25"


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


def check_index_type(index_type: str) -> None:
    """Refuse a ``QA_INDEX_TYPE`` that FAISS cannot build, before any passage is embedded for it."""
    if index_type == "auto":
        return
    import faiss

    try:
        faiss.index_factory(384, index_type, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as exc:
        from .errors import ArgumentError

        raise ArgumentError(f"QA_INDEX_TYPE {index_type!r} is not a FAISS index factory string (auto, Flat, "
                            f"HNSW32, IVF1024,Flat...)") from exc


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
                 docs_folder: Path | None, faiss_index: Any = None, index_type: str = "Flat",
                 extraction: int = EXTRACTION_VERSION, skipped: dict[str, str] | None = None) -> None:
        self.corpus = corpus
        self.embedder = embedder
        self.config = config
        self.path = path
        self.docs_folder = docs_folder
        self.index_type = index_type
        self._faiss = faiss_index
        #: how its documents' text and titles were extracted (:data:`qa.documents.EXTRACTION_VERSION` when built)
        self.extraction = extraction
        #: files of the folder that were not indexed (unreadable, no text): id -> SHA-256 of their bytes, so
        #: that an unchanged one is not read, and warned about at length, again at every update
        self.skipped = dict(skipped or {})
        self.doc_by_id = {d.doc_id: d for d in corpus.docs}
        self.doc_number = {d.doc_id: i for i, d in enumerate(corpus.docs)}
        #: False while what is in ``path`` is not this index (its save failed): nothing derived is read from there
        self.saved = True

    def __repr__(self) -> str:
        where = f", at {self.path}" if self.path is not None else ", in memory"
        return (f"<qa.Index: {len(self.documents)} documents, {len(self)} passages, {self.index_type} index, "
                f"model {self.embedder.model_id}{where}>")

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
        saved = _SavedBM25(self.path) if self.path is not None and self.saved else None
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
        atomic_write(path / "texts.json", lambda f: f.write(json.dumps([d.text for d in c.docs])), "w")
        atomic_write(path / "spans.npz", lambda f: np.savez(
            f, p_doc=c.p_doc, p_start=c.p_start, p_end=c.p_end, s_passage=c.s_passage, s_start=c.s_start,
            s_end=c.s_end))
        atomic_write(path / "passage_vectors.npy", lambda f: np.save(f, c.p_vec))
        atomic_write(path / "sentence_vectors.npy", lambda f: np.save(f, c.s_vec))
        files = list(FILES)
        if self.index_type != "Flat":
            import faiss

            atomic_write(path / "dense.faiss", lambda f: f.write(faiss.serialize_index(self.faiss).tobytes()))
            files.append("dense.faiss")
        manifest = {
            "format_version": FORMAT_VERSION,
            "extraction": self.extraction,
            "model": self.embedder.model_id,
            "model_version": self.embedder.model_version,
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
            "skipped": self.skipped,
            "files": {name: {"bytes": (path / name).stat().st_size, "sha256": sha256_file(path / name)}
                      for name in files},
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        atomic_write(path / MANIFEST, lambda f: f.write(json.dumps(manifest, indent=1)), "w")
        self.path, self.saved = path, True
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
            digest = hash_bytes(self.manifest.read_bytes())
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
            tmp = temp_dir(self.folder.parent, f".{BM25_FOLDER}-")
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
        if sha256_file(f) != meta["sha256"]:
            raise IndexFileError(f"{f}: content does not match its checksum (corrupted)")


def open_saved(path: Path, embedder: Embedder, config: Config) -> Index:
    """Open a saved index, checking format, model, settings and every file's checksum; anything in it that
    cannot be read as an index's (a hand-edited manifest, a file replaced along with its checksum) is an
    :class:`IndexFileError` too."""
    try:
        return _open_saved(path, embedder, config)
    except IndexFileError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, RuntimeError,
            zipfile.BadZipFile) as exc:
        why = " ".join(str(exc).split())
        raise IndexFileError(f"{path}: unreadable ({exc.__class__.__name__}: {why[:160]})") from exc


def _corpus_problem(corpus: Corpus) -> str | None:
    """What is wrong with a saved corpus's documents and spans (a hand-edited or hostile index), else None:
    its fields of the wrong type, passages of no document, offsets outside their document's text."""
    for d in corpus.docs:
        if not all(isinstance(v, str) for v in (d.doc_id, d.text, d.sha256, d.title)):
            return f"document {d.doc_id!r}: a field that is not text"
        if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= len(d.text) for x in d.pages):
            return f"document {d.doc_id!r}: page starts that are not offsets in its text"
    n_docs, n_pass = len(corpus.docs), len(corpus.p_start)
    if n_pass and (corpus.p_doc.min() < 0 or corpus.p_doc.max() >= n_docs):
        return "a passage of no document"
    if len(corpus.s_passage) and (corpus.s_passage.min() < 0 or corpus.s_passage.max() >= n_pass):
        return "a sentence of no passage"
    lengths = np.array([len(d.text) for d in corpus.docs], np.int64)
    p_len = lengths[corpus.p_doc] if n_pass else np.zeros(0, np.int64)
    if n_pass and ((corpus.p_start < 0) | (corpus.p_start > corpus.p_end) | (corpus.p_end > p_len)).any():
        return "passage offsets outside their document"
    s_len = p_len[corpus.s_passage] if len(corpus.s_passage) else np.zeros(0, np.int64)
    if len(s_len) and ((corpus.s_start < 0) | (corpus.s_start > corpus.s_end) | (corpus.s_end > s_len)).any():
        return "sentence offsets outside their document"
    return None


def _open_saved(path: Path, embedder: Embedder, config: Config) -> Index:
    manifest = read_manifest(path)
    if manifest.get("model") != embedder.model_id:
        raise IndexFileError(f"{path}: built with model {manifest.get('model')!r}, not {embedder.model_id!r}")
    if manifest.get("model_version") != embedder.model_version:
        raise IndexFileError(f"{path}: built with other weights of model {embedder.model_id!r} "
                             f"(version {manifest.get('model_version')}, now {embedder.model_version})")
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
    problem = _corpus_problem(corpus)
    if problem:
        raise IndexFileError(f"{path}: damaged ({problem})")
    if p_vec.shape != (corpus.n_passages, manifest["dim"]) or len(s_vec) != len(corpus.s_passage):
        raise IndexFileError(f"{path}: vector shapes do not match the manifest")
    faiss_index = None
    if "dense.faiss" in manifest["files"]:
        import faiss

        faiss_index = faiss.deserialize_index(np.fromfile(path / "dense.faiss", dtype=np.uint8))
    folder = Path(manifest["docs_folder"]) if manifest.get("docs_folder") else None
    # an index saved before the manifest recorded it was extracted the first way
    skipped = manifest.get("skipped") or {}
    if not isinstance(skipped, dict) or not all(isinstance(v, str) for v in skipped.values()):
        raise IndexFileError(f"{path / MANIFEST}: \"skipped\" is not a table of file checksums")
    return Index(corpus, embedder, config, path, folder, faiss_index, manifest["index_type"],
                 extraction=int(manifest.get("extraction", 1)), skipped=skipped)


def _checksum(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def saved_docs_folder(index_dir: Path) -> Path | None:
    """The documents folder a saved index was built from (``Path("")`` when it does not say); None when
    there is no readable index there."""
    try:
        manifest = read_manifest(index_dir)
    except IndexFileError:
        return None
    folder = manifest.get("docs_folder") or ""
    return Path(folder) if isinstance(folder, str) else None


def warn_folder_gone(index_dir: str | Path, folder: Path, give: str) -> None:
    """Say that a saved index is used as saved because the folder it was built from is gone, and how to bring
    it up to date (``give``: the option or argument that names a folder)."""
    logger.warning("%s: the documents folder it was built from, %s, is not there; using the index as saved "
                   "(give %s to bring it up to date)", index_dir, folder, give)


def holds_an_index(folder: Path) -> bool:
    """Whether ``folder`` holds an index (whole or damaged), or anything but the checkpoints of an interrupted
    first build (``partial/``), which leave no index to open yet, and hidden files (its lock, temporaries)."""
    try:
        return folder.is_dir() and any(p.name != PARTIAL and not p.name.startswith(".") for p in folder.iterdir())
    except OSError:
        return True


def default_index_dir(docs: str | Path) -> Path:
    """``embeddings/<name of the docs folder>`` under the current directory."""
    return Path("embeddings") / (Path(docs).resolve().name or "docs")


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
    embedder.check()
    path = Path(index_dir) if index_dir is not None else default_index_dir(docs)  # type: ignore[arg-type]
    if path.exists() and not path.is_dir():
        raise IndexFileError(f"{path} is a file, not an index folder")
    folder = None
    if docs is not None:
        folder = check_folder(docs).resolve()
        check_index_type(config.index_type)
        if save:
            check_index_dir(path, folder)
    # one process at a time reads and writes the folder: never a half-written index, never two builds in one
    with folder_lock(path) if (save and folder is not None) or path.is_dir() else contextlib.nullcontext():
        saved: Index | None = None
        if holds_an_index(path):
            try:
                saved = open_saved(path, embedder, config)
            except IndexFileError as exc:
                if folder is None:  # nothing to rebuild it from: say how
                    raise IndexFileError(f"{exc}; give the documents folder (--docs) to rebuild the index") from exc
                logger.warning("saved index not used, rebuilding: %s", exc)
        if saved is not None and folder is not None and saved.docs_folder is not None \
                and Path(saved.docs_folder).resolve() != folder:
            logger.warning("%s holds the index of %s; replacing it with the index of %s (give --index another "
                           "folder to keep both)", path, saved.docs_folder, folder)
        if folder is None:
            if saved is None:
                raise IndexFileError(f"no saved index in {path}: give the documents folder to build one")
            return saved
        return update_index(saved, folder, path, embedder, config, progress=progress, save=save)


#: What an index folder holds (besides the hidden temporary files of a write in progress).
INDEX_ENTRIES = {MANIFEST, *FILES, "dense.faiss", BM25_FOLDER, PARTIAL}


def check_index_dir(path: Path, docs_folder: Path) -> None:
    """Refuse to save an index where saving it would remove or mix with other files: into the documents
    folder, or into a folder holding anything an index does not (saving replaces ``bm25/`` and removes
    ``partial/`` whole, whatever is in them)."""
    try:
        if path.resolve() == docs_folder:
            raise DocumentsError(f"{path} is the documents folder; give the index a folder of its own (--index)")
        if not path.is_dir():
            return
        foreign = sorted(p.name for p in path.iterdir() if not p.name.startswith(".") and p.name not in INDEX_ENTRIES)
        partial = path / PARTIAL
        if partial.is_dir():
            foreign += [f"{PARTIAL}/{p.name}" for p in sorted(partial.iterdir()) if p.suffix != ".npz"]
    except OSError as exc:
        raise IndexFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if foreign:
        shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
        raise DocumentsError(f"{path} holds files that are not part of an index ({shown}); give the index an "
                             "empty or new folder (--index), so that nothing in it is overwritten")


def update_index(saved: Index | None, folder: Path, path: Path, embedder: Embedder, config: Config,
                 progress: bool = True, save: bool = True) -> Index:
    """Bring ``saved`` (or nothing) in line with ``folder``: keep unchanged documents, embed the rest (saved to
    ``path`` under its lock, with ``save``)."""
    with folder_lock(path) if save else contextlib.nullcontext():
        return _update_index(saved, folder, path, embedder, config, progress, save)


def _update_index(saved: Index | None, folder: Path, path: Path, embedder: Embedder, config: Config,
                  progress: bool, save: bool) -> Index:
    old = saved.corpus if saved is not None else None
    old_by_id = {d.doc_id: (i, d) for i, d in enumerate(old.docs)} if old else {}
    # files read by an older version of the extraction are read again: unchanged bytes can give other text or titles
    reread = saved is not None and saved.extraction != EXTRACTION_VERSION
    keep: list[int] = []
    fresh: list[Document] = []
    order: list[str] = []
    changed = 0  # files whose bytes are the same but whose text or title is read differently now
    was_skipped = saved.skipped if saved is not None and not reread else {}
    skipped: dict[str, str] = {}  # files not indexed, with their checksums
    unchanged: list[str] = []  # of those, the ones skipped before whose bytes are the same: not read again
    for f in iter_files(folder):
        doc_id = f.relative_to(folder).as_posix()
        data: bytes | None = None  # the file's bytes, once read: a file is read once
        if doc_id in old_by_id:
            i, d = old_by_id[doc_id]
            with contextlib.suppress(OSError):  # unreadable now: read_document below says so
                data = f.read_bytes()
            same = data is not None and hash_bytes(data) == d.sha256
            if same and reread:
                doc = read_document(folder, f, data)
                if doc is None:  # unreadable now (said by read_document): dropped, as a removed file is
                    continue
                if (doc.text, doc.title, doc.pages) != (d.text, d.title, d.pages):
                    changed += 1
                    fresh.append(doc)
                    order.append(doc_id)
                    continue
            if same:
                keep.append(i)
                order.append(doc_id)
                continue
        digest = _checksum(f) if doc_id in was_skipped else None
        if digest is not None and digest == was_skipped[doc_id]:  # skipped before, unchanged: said below
            skipped[doc_id] = digest
            unchanged.append(doc_id)
            continue
        doc = read_document(folder, f, data)  # a changed file: its bytes read above
        if doc is not None:
            fresh.append(doc)
            order.append(doc_id)
        elif (digest := digest or _checksum(f)) is not None:
            skipped[doc_id] = digest
    if unchanged:
        logger.warning("%d file(s) skipped as when last read, unchanged: %s", len(unchanged),
                       ", ".join(unchanged[:3]) + (", …" if len(unchanged) > 3 else ""))
    if not order:
        raise no_documents(folder)
    removed = len(old_by_id) - len(keep) - changed
    if changed:
        logger.warning("%s: %d document(s) are read differently by this version of qa (text or title); embedding "
                       "them again", path, changed)
    if saved is not None and not fresh and not removed:
        # the same texts: the manifest is out of date only in how the files read, or where they are (a moved
        # folder, recorded once so that the next run does not take it for another folder's index)
        moved = saved.docs_folder is None or Path(saved.docs_folder).resolve() != folder.resolve()
        saved.docs_folder = folder
        stale = reread or moved or skipped != saved.skipped
        saved.extraction, saved.skipped = EXTRACTION_VERSION, skipped
        if stale and save:
            _save_or_warn(saved, path)
        return saved
    if fresh:
        logger.info("embedding %d new or changed document(s); %d unchanged", len(fresh), len(keep))
    checkpoints = path / PARTIAL if save else None
    new_part, kept = embed_corpus(fresh, embedder, config, progress, checkpoints, None) if fresh else (None, 0)
    parts = [old.subset(keep)] if old is not None and keep else []
    if new_part is not None:
        parts.append(new_part)
    corpus = Corpus.concat(parts)
    # Same order as the folder, so results do not depend on edit history.
    pos = {doc_id: i for i, doc_id in enumerate(order)}
    corpus = reorder(corpus, [pos[d.doc_id] for d in corpus.docs])
    if corpus.n_passages == 0:  # documents whose text makes no passage (too short to keep): nothing to search
        raise DocumentsError(f"no passage to index in {folder}: the documents' text is too short to search")
    index = Index(corpus, embedder, config, path, folder,
                  index_type=choose_index_type(config, corpus.n_passages), skipped=skipped)
    if save:
        try:
            saved_ok = _save_or_warn(index, path)
        except KeyboardInterrupt:
            if checkpoints is None or new_part is None:
                raise
            raise IndexingInterrupted(kept, new_part.n_passages, checkpoints) from None
        if saved_ok:
            logger.info("index saved to %s (%d documents, %d passages)", path, len(corpus.docs), corpus.n_passages)
            shutil.rmtree(path / PARTIAL, ignore_errors=True)  # the checkpoints of this build (or stale ones)
    return index


def _save_or_warn(index: Index, path: Path) -> bool:
    """Save ``index`` to ``path``; where that folder cannot be written (read-only, full, no permission), say
    so in one line and go on with the index in memory: the question is still answered. Each file is written
    beside its old one and swapped in whole, and the manifest last, so what is left there is either the old
    index or files that do not match their manifest, which the next load notices and rebuilds."""
    try:
        index.save(path)
    except OSError as exc:
        index.saved = False  # what is in ``path`` is another index: its BM25 must not be loaded for this one
        logger.warning("cannot save the updated index in %s (%s); using it from memory, and it will be "
                       "brought up to date again next time", path, exc.strerror or " ".join(str(exc).split()))
        return False
    return True
