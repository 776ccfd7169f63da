"""Transformer forward passes with ONNX Runtime, so that answering a question needs no torch.

Importing torch, transformers and sentence-transformers takes several seconds; ONNX Runtime and the
``tokenizers`` library load in well under one. A model is exported to ONNX once (with torch, which is
needed only then), cached, and from then on runs without it. The exported graph is the model's own, in
fp32, so its outputs match torch's to about 1e-6 and an index built with either backend serves the other.

The cache lives in ``$QA_CACHE_DIR`` (default ``~/.cache/grounded-qa``), one folder per model and kind,
keyed by the model folder's path and its weights' size and modification time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .files import temp_dir

logger = logging.getLogger(__name__)

ENCODER, QA_HEAD = "encoder", "qa"
_OUTPUTS = {ENCODER: ["last_hidden_state"], QA_HEAD: ["start_logits", "end_logits"]}
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


def available() -> bool:
    """True when ONNX Runtime and the tokenizers library are installed."""
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return True


def cache_root() -> Path:
    return Path(os.environ.get("QA_CACHE_DIR") or Path.home() / ".cache" / "grounded-qa")


def exportable(model_dir: str | Path) -> bool:
    """A local model folder with weights and a fast tokenizer (``tokenizer.json``): what export needs."""
    d = Path(model_dir)
    return d.is_dir() and (d / "tokenizer.json").is_file() and any((d / w).is_file() for w in _WEIGHTS)


def cache_dir(model_dir: str | Path, kind: str) -> Path:
    """Where the ONNX export of ``model_dir`` (a local folder) is kept."""
    d = Path(model_dir).resolve()
    weights = next(d / w for w in _WEIGHTS if (d / w).is_file())
    st = weights.stat()
    key = hashlib.sha256(f"{d}|{st.st_size}|{st.st_mtime_ns}|{kind}".encode()).hexdigest()[:16]
    return cache_root() / "onnx" / f"{d.name}-{kind}-{key}"


def _wrapped(model: Any, kind: str) -> Any:
    """``model`` as a module that takes the three BERT inputs by position and returns plain tensors."""
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state if kind == ENCODER else (out.start_logits, out.end_logits)

    return Wrapped().eval()


def export(model_dir: str | Path, kind: str = ENCODER) -> Path:
    """Export ``model_dir`` to ONNX (``encoder``: the last hidden state; ``qa``: start and end logits) into
    its cache folder, unless it is there already; returns the folder. Needs torch and transformers."""
    out = cache_dir(model_dir, kind)
    if (out / "model.onnx").is_file():
        return out
    import torch

    from .embedding import quiet_transformers

    quiet_transformers()
    from transformers import AutoModel, AutoModelForQuestionAnswering

    loader = AutoModel if kind == ENCODER else AutoModelForQuestionAnswering
    model = loader.from_pretrained(str(model_dir)).float().eval()
    logger.info("exporting %s to ONNX (once) in %s", model_dir, out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_dir(out.parent, out.name + ".")
    try:
        ids = torch.ones((2, 16), dtype=torch.long)
        axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"}}
        axes.update({name: {0: "batch", 1: "tokens"} for name in _OUTPUTS[kind]})
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _wrapped(model, kind), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp / "model.onnx"),
                input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=_OUTPUTS[kind],
                dynamic_axes=axes, opset_version=17, dynamo=False,
            )
        shutil.copy2(Path(model_dir) / "tokenizer.json", tmp / "tokenizer.json")
        (tmp / "source.json").write_text(json.dumps({"model": str(Path(model_dir).resolve()), "kind": kind}))
        try:
            os.replace(tmp, out)  # atomic: a half-written export is never used
        except OSError:  # another process finished first
            if not (out / "model.onnx").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def load(model_dir: str | Path, kind: str, backend: str, usable: bool, needs: str) -> OnnxModel | None:
    """The model of ``model_dir`` under ONNX Runtime, or None to run it under torch: where it is not ``usable``
    (``needs`` says what it lacks) or its export cannot be written. With ``backend`` ``onnx`` either is a
    one-line :class:`~qa.errors.QAError` instead."""
    if not (usable and available()):
        if backend == "onnx":
            from .errors import QAError

            raise QAError(f"the onnx backend needs onnxruntime and {needs}; {model_dir} is not one "
                          f"(use QA_BACKEND=torch)")
        return None
    folder = export_or_warn(model_dir, kind, required=backend == "onnx")
    return None if folder is None else OnnxModel(folder)


def export_or_warn(model_dir: str | Path, kind: str, required: bool) -> Path | None:
    """:func:`export`, or where it fails (the cache cannot be written, the ``onnx`` package torch's exporter
    needs is missing, the model does not export): a one-line :class:`~qa.errors.QAError` when ONNX was asked
    for (``required``), else a warning and None (the caller runs the model under torch)."""
    try:
        return export(model_dir, kind)
    except OSError as exc:
        msg = f"cannot write the ONNX export to {cache_root()} ({exc.__class__.__name__}: {exc}); set QA_CACHE_DIR"
    except Exception as exc:  # noqa: BLE001 - any exporter failure: torch still runs the model
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        msg = f"cannot export {Path(model_dir).name} to ONNX ({exc.__class__.__name__}: {first})"
    if required:
        from .errors import QAError

        raise QAError(msg)
    logger.warning("%s; running the model under torch instead", msg)
    return None


class OnnxModel:
    """An exported model and its tokenizer, run on the CPU with ONNX Runtime."""

    def __init__(self, folder: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.folder = folder = Path(folder)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(os.cpu_count() or 1, 8)
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: the query encoder and the reader are two sessions,
        # and on a small CPU one's spinning threads starved the other (answer p50 with the reader, 2 cores:
        # 142 ms spinning, 90 ms not; benchmarks/vs_haystack.py).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0

    def batch(self, encodings: list[Any]) -> dict[str, np.ndarray]:
        """Pad ``tokenizers`` encodings into the model's three inputs."""
        n = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), n), self.pad_id, np.int64)
        mask = np.zeros((len(encodings), n), np.int64)
        types = np.zeros((len(encodings), n), np.int64)
        for i, e in enumerate(encodings):
            k = len(e.ids)
            ids[i, :k], mask[i, :k], types[i, :k] = e.ids, e.attention_mask, e.type_ids
        return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(None, inputs)
