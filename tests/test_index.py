"""qa.index: built on first use, saved with a manifest, reloaded identically, updated incrementally,
damaged or mismatched copies detected and rebuilt (never used), written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

import qa
from qa import Config, IndexFileError
from qa.files import LOCK_NAME, atomic_write
from qa.index import BM25_FOLDER, FILES, FORMAT_VERSION, MANIFEST
from tests.conftest import HASHING, CountingEmbedder, write_docs

QUESTIONS = [
    "How many nesting herons did the team count?",
    "Who proposed moving the first ferry?",
    "When did the Marlow glassworks open?",
    "How many cider apple trees were planted?",
    "pike population night trawling ban",
]


def load(docs: Path | None, index_dir: Path, config: Config = HASHING, embedder=None) -> qa.Index:
    return qa.load_index(docs=docs, index_dir=index_dir, config=config, embedder=embedder, progress=False)


def results(index: qa.Index, k: int = 5) -> list[list[dict]]:
    return [[h.to_dict() for h in qa.retrieve(q, k=k, index=index)] for q in QUESTIONS]


def passages_of(index: qa.Index, doc_id: str) -> int:
    return sum(1 for i in range(len(index)) if index.passage(i).doc_id == doc_id)


def tmp_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- building and saving -----------------------------------------------------------------------------------


def test_built_on_first_use_with_manifest(docs_dir: Path, index_dir: Path) -> None:
    assert not index_dir.exists()
    index = load(docs_dir, index_dir)
    assert index.path == index_dir
    for name in (MANIFEST, *FILES):
        assert (index_dir / name).is_file(), name
    m = json.loads((index_dir / MANIFEST).read_text())
    assert m["format_version"] == FORMAT_VERSION
    assert m["model"] == "hashing-256"
    assert m["dim"] == 256
    assert m["index_type"] == "Flat"
    assert m["metric"] == "inner_product" and m["normalized"] is True
    assert m["settings"] == HASHING.index_fields()
    assert m["n_passages"] == len(index)
    assert {d["doc_id"] for d in m["documents"]} == {"alpha.txt", "beta.md", "page.html", "sub/gamma.txt"}
    for d in m["documents"]:
        assert d["sha256"] == hashlib.sha256((docs_dir / d["doc_id"]).read_bytes()).hexdigest()
    for name in FILES:
        f = index_dir / name
        assert m["files"][name] == {
            "bytes": f.stat().st_size,
            "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
        }
    vecs = np.load(index_dir / "passage_vectors.npy")
    assert vecs.shape == (len(index), 256) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)


def test_default_index_dir_is_under_the_working_directory(docs_dir: Path) -> None:
    index = qa.load_index(docs=docs_dir, config=HASHING, progress=False)
    assert (Path.cwd() / "embeddings" / "docs" / MANIFEST).is_file()
    assert index.path == Path("embeddings") / "docs"


def test_no_temporary_files_left(index: qa.Index, index_dir: Path) -> None:
    assert tmp_leftovers(index_dir) == []
    # the lock (an empty file) stays: removing it on release would let a waiting process and a new one both hold it
    assert sorted(p.name for p in index_dir.iterdir()) == sorted([MANIFEST, *FILES, BM25_FOLDER, LOCK_NAME])
    assert (index_dir / LOCK_NAME).stat().st_size == 0


def test_atomic_write_failure_keeps_old_file_and_leaves_no_tmp(tmp_path: Path) -> None:
    target = tmp_path / "data.bin"
    target.write_bytes(b"old content")

    def half_then_fail(f) -> None:  # type: ignore[no-untyped-def]
        f.write(b"new con")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old content"
    assert tmp_leftovers(tmp_path) == []


def test_interrupted_save_is_detected_not_used(docs_dir: Path, index_dir: Path, monkeypatch, caplog) -> None:
    load(docs_dir, index_dir)
    (docs_dir / "alpha.txt").write_text("A different survey text about herons and lakes entirely.\n")
    real_save = np.save
    calls = {"n": 0}

    def failing_save(f, arr, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # passage vectors written, sentence vectors not: the old manifest no longer fits
            raise OSError("disk full")
        return real_save(f, arr, *a, **kw)

    monkeypatch.setattr(np, "save", failing_save)
    with caplog.at_level(logging.WARNING, logger="qa"):
        unsaved = load(docs_dir, index_dir)  # the save fails: the index is used from memory, and says so
    assert "cannot save the updated index" in caplog.text and "disk full" in caplog.text
    assert "different survey text" in unsaved.doc_by_id["alpha.txt"].text and not unsaved.saved
    assert len(unsaved.bm25.scores("herons")) == len(unsaved)  # its own BM25, not the one saved for the old files
    caplog.clear()
    monkeypatch.setattr(np, "save", real_save)
    assert tmp_leftovers(index_dir) == []
    with pytest.raises(IndexFileError):
        load(None, index_dir)
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = load(docs_dir, index_dir, embedder=emb)
    assert "rebuilding" in caplog.text
    # The failed run had embedded the changed alpha.txt and kept it in partial/: only the rest is embedded.
    assert emb.passages_embedded == len(index) - passages_of(index, "alpha.txt")
    assert not (index_dir / "partial").exists()


# -- reloading ---------------------------------------------------------------------------------------------


def test_reload_gives_identical_results_and_embeds_nothing(
    index: qa.Index, docs_dir: Path, index_dir: Path
) -> None:
    before = results(index)
    manifest = (index_dir / MANIFEST).read_bytes()
    emb = CountingEmbedder()
    again = load(docs_dir, index_dir, embedder=emb)
    assert emb.passage_calls == 0
    assert (index_dir / MANIFEST).read_bytes() == manifest  # nothing changed, nothing written
    assert results(again) == before
    assert np.array_equal(again.corpus.p_vec, index.corpus.p_vec)
    assert np.array_equal(again.corpus.s_vec, index.corpus.s_vec)
    saved_only = load(None, index_dir)  # the saved index as is, no documents folder given
    assert results(saved_only) == before
    assert saved_only.docs_folder == docs_dir.resolve()


def test_hnsw_index_round_trip(docs_dir: Path, index_dir: Path) -> None:
    config = Config(model="hashing", index_type="HNSW32")
    index = load(docs_dir, index_dir, config)
    assert index.index_type == "HNSW32"
    before = results(index)
    m = json.loads((index_dir / MANIFEST).read_text())
    assert m["index_type"] == "HNSW32" and "dense.faiss" in m["files"]
    again = load(None, index_dir, config)
    assert again._faiss is not None  # read from dense.faiss, not rebuilt
    assert results(again) == before


# -- incremental updates -----------------------------------------------------------------------------------


def test_an_update_reads_each_document_file_once(index: qa.Index, docs_dir: Path, index_dir: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (docs_dir / "alpha.txt").write_text("Lake Brindle Survey\n\nThe survey counted 530 nesting herons.\n")
    reads: list[str] = []
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.is_relative_to(docs_dir):
            reads.append(self.relative_to(docs_dir).as_posix())
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    updated = load(docs_dir, index_dir)
    assert "530 nesting herons" in updated.doc_by_id["alpha.txt"].text  # the changed file, re-read
    assert sorted(reads) == sorted(d.doc_id for d in index.documents)  # each file once, the changed one too


def test_only_the_changed_document_is_reembedded(index: qa.Index, docs_dir: Path, index_dir: Path) -> None:
    old_beta = passages_of(index, "beta.md")
    (docs_dir / "alpha.txt").write_text(
        "Lake Brindle Survey\n\nThe 2020 survey counted 530 nesting herons on the lake shore near the weir.\n"
    )
    emb = CountingEmbedder()
    updated = load(docs_dir, index_dir, embedder=emb)
    assert emb.passage_calls == 1
    assert emb.passages_embedded == passages_of(updated, "alpha.txt") == 1
    assert passages_of(updated, "beta.md") == old_beta
    assert "530 nesting herons" in updated.doc_by_id["alpha.txt"].text
    assert [d.doc_id for d in updated.documents] == [d.doc_id for d in index.documents]  # folder order kept
    # The incrementally updated index answers exactly like one built from scratch.
    fresh = load(docs_dir, index_dir.parent / "fresh")
    assert results(updated) == results(fresh)
    assert np.array_equal(updated.corpus.p_vec, fresh.corpus.p_vec)
    assert np.array_equal(updated.corpus.s_start, fresh.corpus.s_start)
    # and the update was saved: loading again embeds nothing
    emb2 = CountingEmbedder()
    load(docs_dir, index_dir, embedder=emb2)
    assert emb2.passage_calls == 0


NEWS = ("Monday, April 25, 2022\n\nFerry Strike Ends After Nine Days\n\nThe ferry crews of the island route went "
        "back to work on Monday after nine days on strike, when the council agreed to pay the overtime it had "
        "owed since the winter timetable began.\n")


def older_extraction(index_dir: Path, titles: dict[str, str] | None = None) -> None:
    """Make the saved index look built by the first extraction: no version in its manifest, and ``titles``."""
    mpath = index_dir / MANIFEST
    manifest = json.loads(mpath.read_text())
    del manifest["extraction"]
    for d in manifest["documents"]:
        d["title"] = (titles or {}).get(d["doc_id"], d["title"])
    mpath.write_text(json.dumps(manifest))


def test_an_index_of_an_older_extraction_reembeds_only_what_reads_differently(
    docs_dir: Path, index_dir: Path, caplog
) -> None:
    write_docs(docs_dir, {"news.txt": NEWS})
    built = load(docs_dir, index_dir)
    assert built.doc_by_id["news.txt"].title == "Ferry Strike Ends After Nine Days"  # not its dateline
    assert json.loads((index_dir / MANIFEST).read_text())["extraction"] == qa.documents.EXTRACTION_VERSION
    older_extraction(index_dir, {"news.txt": "Monday, April 25, 2022"})  # what the first line gave
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING):
        updated = load(docs_dir, index_dir, embedder=emb)
    assert emb.passages_embedded == passages_of(updated, "news.txt")  # that document alone
    assert "1 document(s) are read differently" in caplog.text
    assert updated.doc_by_id["news.txt"].title == "Ferry Strike Ends After Nine Days"
    assert results(updated) == results(load(docs_dir, index_dir.parent / "fresh"))
    emb2 = CountingEmbedder()
    load(docs_dir, index_dir, embedder=emb2)  # and recorded: nothing is read or embedded again
    assert emb2.passage_calls == 0


def test_an_index_of_an_older_extraction_that_reads_the_same_is_kept(index: qa.Index, docs_dir: Path,
                                                                      index_dir: Path) -> None:
    older_extraction(index_dir)
    emb = CountingEmbedder()
    kept = load(docs_dir, index_dir, embedder=emb)
    assert emb.passage_calls == 0 and results(kept) == results(index)
    assert json.loads((index_dir / MANIFEST).read_text())["extraction"] == qa.documents.EXTRACTION_VERSION


def test_a_new_document_alone_is_embedded(index: qa.Index, docs_dir: Path, index_dir: Path) -> None:
    write_docs(
        docs_dir,
        {"sub/delta.txt": "Delta Notes\n\nThe Harwick lighthouse was automated in 1987 by the trust.\n"},
    )
    emb = CountingEmbedder()
    updated = load(docs_dir, index_dir, embedder=emb)
    assert emb.passages_embedded == passages_of(updated, "sub/delta.txt") == 1
    assert len(updated) == len(index) + 1
    hits = qa.retrieve("When was the Harwick lighthouse automated?", k=1, index=updated)
    assert hits[0].doc_id == "sub/delta.txt"


def test_a_removed_document_disappears(index: qa.Index, docs_dir: Path, index_dir: Path) -> None:
    assert qa.retrieve("cider apple trees Wexcombe orchard", k=1, index=index)[0].doc_id == "sub/gamma.txt"
    (docs_dir / "sub" / "gamma.txt").unlink()
    emb = CountingEmbedder()
    updated = load(docs_dir, index_dir, embedder=emb)
    assert emb.passage_calls == 0
    assert "sub/gamma.txt" not in updated.doc_by_id
    assert passages_of(updated, "sub/gamma.txt") == 0
    hits = qa.retrieve("cider apple trees Wexcombe orchard", k=len(updated), index=updated)
    assert all(h.doc_id != "sub/gamma.txt" for h in hits)
    m = json.loads((index_dir / MANIFEST).read_text())
    assert "sub/gamma.txt" not in {d["doc_id"] for d in m["documents"]}
    assert results(updated) == results(load(docs_dir, index_dir.parent / "fresh"))


def test_a_document_emptied_is_removed(index: qa.Index, docs_dir: Path, index_dir: Path, caplog) -> None:
    (docs_dir / "beta.md").write_text("")
    with caplog.at_level(logging.WARNING, logger="qa"):
        updated = load(docs_dir, index_dir)
    assert "beta.md" not in updated.doc_by_id
    assert "beta.md" in caplog.text


# -- damaged or mismatched saved indexes ---------------------------------------------------------------------


def _truncate(index_dir: Path) -> None:
    f = index_dir / "passage_vectors.npy"
    f.write_bytes(f.read_bytes()[:-100])


def _flip(index_dir: Path) -> None:
    f = index_dir / "passage_vectors.npy"
    data = bytearray(f.read_bytes())
    for i in range(len(data) - 50, len(data) - 40):
        data[i] ^= 0xFF
    f.write_bytes(bytes(data))


def _garbage_manifest(index_dir: Path) -> None:
    (index_dir / MANIFEST).write_bytes(os.urandom(64) + b"\x00{not json")


def _manifest_not_an_object(index_dir: Path) -> None:
    (index_dir / MANIFEST).write_text("[1, 2, 3]")


def _manifest_keys_missing(index_dir: Path) -> None:
    m = json.loads((index_dir / MANIFEST).read_text())
    del m["files"], m["dim"]
    (index_dir / MANIFEST).write_text(json.dumps(m))


def _old_format(index_dir: Path) -> None:
    m = json.loads((index_dir / MANIFEST).read_text())
    m["format_version"] = FORMAT_VERSION - 1
    (index_dir / MANIFEST).write_text(json.dumps(m))


def _missing_file(index_dir: Path) -> None:
    (index_dir / "spans.npz").unlink()


def _missing_manifest(index_dir: Path) -> None:
    (index_dir / MANIFEST).unlink()


def _garbage_texts(index_dir: Path) -> None:
    # content damaged and the manifest's checksum updated to match: still caught when it is read
    f = index_dir / "texts.json"
    f.write_text("{oops")
    m = json.loads((index_dir / MANIFEST).read_text())
    m["files"]["texts.json"] = {
        "bytes": f.stat().st_size,
        "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
    }
    (index_dir / MANIFEST).write_text(json.dumps(m))


def _rewrite(index_dir: Path, name: str, data: bytes) -> None:
    """Replace a file of the index and its checksum in the manifest, as a hostile index would."""
    (index_dir / name).write_bytes(data)
    m = json.loads((index_dir / MANIFEST).read_text())
    m["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (index_dir / MANIFEST).write_text(json.dumps(m))


def _pages_not_offsets(index_dir: Path) -> None:  # the manifest has no checksum of its own
    m = json.loads((index_dir / MANIFEST).read_text())
    m["documents"][0]["pages"] = "abc"
    (index_dir / MANIFEST).write_text(json.dumps(m))


def _texts_not_text(index_dir: Path) -> None:
    n = len(json.loads((index_dir / "texts.json").read_text()))
    _rewrite(index_dir, "texts.json", json.dumps(list(range(n))).encode())


def _spans_out_of_range(index_dir: Path) -> None:
    import io

    spans = dict(np.load(index_dir / "spans.npz"))
    spans["p_doc"] = spans["p_doc"] + 1000  # passages of no document
    buf = io.BytesIO()
    np.savez(buf, **spans)
    _rewrite(index_dir, "spans.npz", buf.getvalue())


def _negative_offsets(index_dir: Path) -> None:
    import io

    spans = dict(np.load(index_dir / "spans.npz"))
    spans["s_start"] = spans["s_start"] - 5
    buf = io.BytesIO()
    np.savez(buf, **spans)
    _rewrite(index_dir, "spans.npz", buf.getvalue())


DAMAGE = [
    _pages_not_offsets,
    _texts_not_text,
    _spans_out_of_range,
    _negative_offsets,
    _truncate,
    _flip,
    _garbage_manifest,
    _manifest_not_an_object,
    _manifest_keys_missing,
    _old_format,
    _missing_file,
    _missing_manifest,
    _garbage_texts,
]


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_damaged_index_is_rebuilt_with_warning(
    damage, index: qa.Index, docs_dir: Path, index_dir: Path, caplog
) -> None:
    before = results(index)
    damage(index_dir)
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="qa"):
        rebuilt = load(docs_dir, index_dir, embedder=emb)
    assert any(r.levelno == logging.WARNING and "rebuilding" in r.getMessage() for r in caplog.records)
    assert emb.passages_embedded == len(
        rebuilt
    )  # everything embedded again: nothing of the damaged copy used
    assert results(rebuilt) == before
    assert tmp_leftovers(index_dir) == []
    emb2 = CountingEmbedder()
    load(docs_dir, index_dir, embedder=emb2)  # the rebuilt copy is sound
    assert emb2.passage_calls == 0


@pytest.mark.parametrize("damage", DAMAGE, ids=lambda f: f.__name__.strip("_"))
def test_damaged_index_without_documents_is_an_error(damage, index: qa.Index, index_dir: Path) -> None:
    damage(index_dir)
    with pytest.raises(IndexFileError):
        load(None, index_dir)


def test_model_mismatch_rebuilds(index: qa.Index, docs_dir: Path, index_dir: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="qa"):
        other = load(docs_dir, index_dir, Config(model="hashing-64"))
    assert "hashing-256" in caplog.text and "hashing-64" in caplog.text
    assert other.corpus.p_vec.shape[1] == 64
    m = json.loads((index_dir / MANIFEST).read_text())
    assert m["model"] == "hashing-64" and m["dim"] == 64
    with pytest.raises(IndexFileError, match="model"):
        load(None, index_dir, HASHING)


def test_other_weights_of_the_same_model_rebuild(index: qa.Index, docs_dir: Path, index_dir: Path, caplog) -> None:
    """Same model name, other weights (a new bundled model): the saved index is stale, and so are checkpoints."""
    emb = CountingEmbedder()
    emb.model_version = "v2"
    with caplog.at_level(logging.WARNING, logger="qa"):
        other = load(docs_dir, index_dir, embedder=emb)
    assert "other weights" in caplog.text
    assert emb.passages_embedded == len(other) == len(index)
    assert json.loads((index_dir / MANIFEST).read_text())["model_version"] == "v2"
    again = CountingEmbedder()
    again.model_version = "v2"
    load(docs_dir, index_dir, embedder=again)
    assert again.passage_calls == 0


def test_bundled_model_version_is_its_training_record() -> None:
    from qa.embedding import SentenceTransformerEmbedder

    v = SentenceTransformerEmbedder("bundled").model_version
    assert v is not None and len(v) == 16
    assert SentenceTransformerEmbedder("default").model_version == v
    assert SentenceTransformerEmbedder("all-MiniLM-L6-v2").model_version is None


def test_settings_mismatch_rebuilds(index: qa.Index, docs_dir: Path, index_dir: Path, caplog) -> None:
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="qa"):
        other = load(docs_dir, index_dir, Config(model="hashing", max_tokens=48), embedder=emb)
    assert "settings" in caplog.text
    assert emb.passages_embedded == len(other) > len(index)


def test_folder_that_is_not_an_index_is_refused_and_left_as_it_was(docs_dir: Path, index_dir: Path) -> None:
    index_dir.mkdir()
    (index_dir / "stray.txt").write_text("not an index")
    with pytest.raises(qa.DocumentsError, match=r"holds files that are not part of an index \(stray.txt\)"):
        load(docs_dir, index_dir)
    assert sorted(p.name for p in index_dir.iterdir()) == ["stray.txt"]


def test_load_index_needs_docs_or_index() -> None:
    with pytest.raises(qa.DocumentsError):
        qa.load_index(docs=None, index_dir=None, config=HASHING)


def test_no_saved_index_and_no_documents_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexFileError, match="no saved index"):
        load(None, tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexFileError, match="no saved index"):
        load(None, tmp_path / "empty")


def test_tests_cannot_write_into_the_repository(index: qa.Index) -> None:
    from tests.conftest import REPO_EMBEDDINGS

    with pytest.raises(AssertionError, match="repository"):
        index.save(REPO_EMBEDDINGS / "guard-test")
    assert not (REPO_EMBEDDINGS / "guard-test").exists()


def test_auto_index_type_by_size(docs_dir: Path, index_dir: Path) -> None:
    """Exact search below ``exact_below`` passages, an inverted file of ~sqrt(n) lists above; it is saved,
    read back with its search settings, and finds what exact search finds on this small collection."""
    import faiss

    from qa.index import IVF_NPROBE, build_faiss, choose_index_type

    assert choose_index_type(Config(), 199_999) == "Flat"
    assert choose_index_type(Config(), 1_000_000) == "IVF1000,Flat"
    assert choose_index_type(Config(index_type="HNSW32"), 10) == "HNSW32"  # an explicit choice stands
    exact = load(docs_dir, tmp := index_dir.parent / "exact", Config(model="hashing"))
    assert exact.index_type == "Flat" and tmp.is_dir()
    index = load(docs_dir, index_dir, Config(model="hashing", exact_below=2))
    n = len(index)
    assert index.index_type == f"IVF{round(n ** 0.5)},Flat"
    again = load(None, index_dir, Config(model="hashing", exact_below=2))
    assert again._faiss is not None and faiss.extract_index_ivf(again._faiss).nprobe == IVF_NPROBE
    assert results(again) == results(exact)  # few lists, all probed: the same passages as exact search
    hnsw = build_faiss(index.corpus.p_vec, "HNSW32")
    assert hnsw.hnsw.efConstruction == 128 and hnsw.hnsw.efSearch == 256


# -- BM25 saved beside the index ---------------------------------------------------------------------------


def _no_bm25_building(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("BM25 was rebuilt from the texts")

    monkeypatch.setattr(qa.index.BM25, "__init__", refuse)


def test_bm25_is_saved_with_the_index_and_loaded_not_rebuilt(
    index: qa.Index, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = results(index)
    assert (index_dir / BM25_FOLDER / "key").is_file()
    _no_bm25_building(monkeypatch)
    reopened = load(None, index_dir)
    assert results(reopened) == expected
    for q in QUESTIONS:
        assert np.array_equal(reopened.bm25.scores(q), index.bm25.scores(q))


def test_bm25_saved_for_other_contents_is_rebuilt(index: qa.Index, docs_dir: Path, index_dir: Path) -> None:
    key = (index_dir / BM25_FOLDER / "key").read_text()
    write_docs(docs_dir, {"zeppelin.txt": "Zeppelin Notes\n\nThe zeppelin hangar at Cardington was built in 1917."})
    updated = load(docs_dir, index_dir)
    assert (index_dir / BM25_FOLDER / "key").read_text() != key
    assert load(None, index_dir).bm25.scores("zeppelin hangar").max() > 0
    assert updated.bm25.scores("zeppelin hangar").max() > 0


def test_damaged_bm25_is_rebuilt_with_a_warning_and_repaired(
    index: qa.Index, index_dir: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = results(index)
    (index_dir / BM25_FOLDER / "data.csc.index.npy").write_bytes(b"not an array")
    with caplog.at_level(logging.WARNING, logger="qa"):
        reopened = load(None, index_dir)
        assert results(reopened) == expected
    (line,) = [r.getMessage() for r in caplog.records]
    assert "bm25: unreadable" in line and "rebuilding BM25" in line and "\n" not in line
    assert tmp_leftovers(index_dir) == []
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME]
    _no_bm25_building(monkeypatch)  # repaired: the next process loads it
    assert results(load(None, index_dir)) == expected


def test_bm25_that_cannot_be_saved_is_kept_in_memory(
    docs_dir: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(self, folder):  # type: ignore[no-untyped-def]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(qa.index.BM25, "save", full_disk)
    index = load(docs_dir, index_dir)
    assert results(index)[0]
    assert not (index_dir / BM25_FOLDER).exists()
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".") and p.name != LOCK_NAME]


def test_an_index_is_never_saved_over_other_files(tmp_path: Path) -> None:
    from qa import DocumentsError

    docs = write_docs(tmp_path / "docs")
    with pytest.raises(DocumentsError, match="is the documents folder"):
        qa.load_index(docs=docs, index_dir=docs, config=HASHING)
    mine = tmp_path / "mine"
    (mine / "partial").mkdir(parents=True)
    (mine / "partial" / "notes.txt").write_text("my notes")  # a user's folder that happens to be named so
    with pytest.raises(DocumentsError, match=r"not part of an index \(partial/notes.txt\)"):
        qa.load_index(docs=docs, index_dir=mine, config=HASHING)
    (mine / "partial" / "notes.txt").unlink()
    (mine / "report.docx").write_bytes(b"x")
    with pytest.raises(DocumentsError, match=r"\(report.docx\)"):
        qa.load_index(docs=docs, index_dir=mine, config=HASHING)
    assert (mine / "report.docx").read_bytes() == b"x"
    # an index folder, with or without its manifest (a damaged one is rebuilt), and an empty folder are fine
    built = qa.load_index(docs=docs, index_dir=tmp_path / "idx", config=HASHING)
    (tmp_path / "idx" / "manifest.json").unlink()
    assert len(qa.load_index(docs=docs, index_dir=tmp_path / "idx", config=HASHING)) == len(built)
    (tmp_path / "empty").mkdir()
    assert len(qa.load_index(docs=docs, index_dir=tmp_path / "empty", config=HASHING)) == len(built)


def _tamper(idx: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """Change the saved index with ``edit(manifest)`` and give every file its new checksum, as a hand edit
    that knows the format would: what the checksums cannot catch."""
    import hashlib
    import json

    m = json.loads((idx / MANIFEST).read_text())
    edit(m)
    if isinstance(m.get("files"), dict):
        for name, rec in m["files"].items():
            if isinstance(rec, dict) and (idx / name).exists():
                data = (idx / name).read_bytes()
                rec.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    (idx / MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize("edit", [
    lambda m: m.update(documents="oops"),
    lambda m: m["files"].update({"texts.json": "oops"}),
    lambda m: m.update(docs_folder=12345),
    lambda m: Path(m["_idx"]).joinpath("spans.npz").write_bytes(b"not a zip"),
], ids=["documents", "files", "docs_folder", "spans"])
def test_an_index_edited_past_its_checksums_is_rebuilt_or_a_clear_error(docs_dir: Path, tmp_path: Path, edit) -> None:
    idx = tmp_path / "idx"
    n = len(qa.load_index(docs=docs_dir, index_dir=idx, config=HASHING))

    def with_path(m: dict) -> None:
        m["_idx"] = str(idx)
        edit(m)
        del m["_idx"]

    _tamper(idx, with_path)
    with pytest.raises(IndexFileError):  # nothing to rebuild from: one line, no TypeError or BadZipFile
        qa.load_index(docs=None, index_dir=idx, config=HASHING)
    assert len(qa.load_index(docs=docs_dir, index_dir=idx, config=HASHING)) == n  # rebuilt with a warning


def test_an_index_type_faiss_cannot_build_is_refused_before_embedding(docs_dir: Path, tmp_path: Path) -> None:
    emb = CountingEmbedder()
    with pytest.raises(qa.ArgumentError, match="QA_INDEX_TYPE 'Bogus' is not a FAISS index factory string"):
        qa.load_index(docs=docs_dir, index_dir=tmp_path / "i", config=Config(model="hashing", index_type="Bogus"),
                      embedder=emb)
    assert emb.passage_calls == 0 and not (tmp_path / "i").exists()


def test_a_file_of_zero_width_characters_is_empty(tmp_path: Path, caplog) -> None:
    docs = write_docs(tmp_path / "docs", {"ok.txt": "The ferry leaves at six from the north pier.\n",
                                          "invisible.txt": "\ufeff\u200b\u200b\n\u2060\u00ad \u200e\n"})
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = qa.load_index(docs=docs, index_dir=tmp_path / "idx", config=HASHING)
    assert "invisible.txt: empty (no text); skipped" in caplog.text  # no passage that shows nothing
    assert [d.doc_id for d in index.corpus.docs] == ["ok.txt"]


def test_a_skipped_file_is_remembered_and_read_again_only_when_it_changes(tmp_path: Path, caplog) -> None:
    docs = write_docs(tmp_path / "docs", {"ok.txt": "The ferry leaves at six from the north pier.\n",
                                          "empty.txt": "  \n", "blob.txt": b"\x00\x01binary"})
    idx = tmp_path / "idx"
    with caplog.at_level(logging.WARNING, logger="qa"):
        qa.load_index(docs=docs, index_dir=idx, config=HASHING)
    assert "empty.txt: empty (no text); skipped" in caplog.text and "blob.txt: it holds NUL bytes" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = qa.load_index(docs=docs, index_dir=idx, config=HASHING)
    assert [r.getMessage() for r in caplog.records] == [
        "2 file(s) skipped as when last read, unchanged: blob.txt, empty.txt"]  # one line, the files not re-read
    assert set(index.skipped) == {"blob.txt", "empty.txt"}
    (docs / "empty.txt").write_text("The ferry's captain is Ada Lind.\n")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qa"):
        index = qa.load_index(docs=docs, index_dir=idx, config=HASHING)
    assert "empty.txt" in index.doc_by_id and set(index.skipped) == {"blob.txt"}
    assert [r.getMessage() for r in caplog.records] == ["1 file(s) skipped as when last read, unchanged: blob.txt"]
    assert set(qa.load_index(docs=None, index_dir=idx, config=HASHING).skipped) == {"blob.txt"}  # saved
    (docs / "blob.txt").write_bytes(b"\x00\x02other binary")  # changed, still not text: read and warned again
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="qa"):
        qa.load_index(docs=docs, index_dir=idx, config=HASHING)
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and said[0].startswith("blob.txt: it holds NUL bytes") and said[0].endswith("; skipped")


def test_a_title_as_long_as_a_passage_is_not_put_before_each_passage(tmp_path: Path) -> None:
    """A title taking the whole token budget left no room for the passage (a crash at exactly the budget, one
    token passages near it): a title longer than a quarter of it heads no passage."""
    from qa.build import _chunk
    from qa.documents import Document

    body = "Herons nested on the island in spring. The team counted 412 of them in May.\n"
    doc = Document("t.html", body, "0" * 64, title="cat " * 252)
    chunks = _chunk(doc, 256, lambda t: len(t.split()), HASHING)
    assert [doc.text[s:e] for s, e in zip(chunks.p_start, chunks.p_end)] == [body.strip()]
    assert chunks.texts == [body.strip()]
    short = _chunk(Document("t.html", body, "0" * 64, title="Island survey"), 256, lambda t: len(t.split()), HASHING)
    assert HASHING.title_in_passage and short.texts == ["Island survey\n" + body.strip()]  # a short one heads it


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_saved_index_has_the_permissions_new_files_get(docs_dir: Path, tmp_path: Path) -> None:
    # written through temporary files (0600, 0700), it had kept them: another account could not open it
    old = os.umask(0o027)
    try:
        from qa import files
        saved_umask, files._UMASK = files._UMASK, 0o027
        try:
            qa.load_index(docs=docs_dir, index_dir=tmp_path / "idx", config=HASHING)
        finally:
            files._UMASK = saved_umask
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path / "idx").as_posix(): p.stat().st_mode & 0o777
             for p in (tmp_path / "idx").rglob("*") if p.name != LOCK_NAME}
    assert modes[MANIFEST] == modes["texts.json"] == 0o640 and modes[BM25_FOLDER] == 0o750, modes
    assert all(m in (0o640, 0o750) for m in modes.values()), modes
