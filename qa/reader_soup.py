"""Average the weights of readers fine-tuned from the same encoder into one reader (a "model soup").

Readers fine-tuned from the same pre-trained weights usually stay in one basin of the loss, so the uniform
average of their weights is itself a good reader, often better than each of them, at the cost of one
(Wortsman et al. 2022, "Model soups"). The averaged reader's ``training.json`` names its ingredients, their
weights' hashes and how each was trained. (Measured for the bundled reader and not shipped: see its model card.)

    qa average-readers READER_DIR READER_DIR [...] --out DIR
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import QAError
from .files import replace_dir, sha256_file, staging_dir

WEIGHTS = "model.safetensors"
COPIED = ("config.json", "tokenizer.json", "tokenizer_config.json")  # from the first reader


def average_readers(sources: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Write the uniform average of ``sources``' weights (fp16 safetensors) to ``out``, with the first
    reader's config and tokenizer and a ``training.json`` naming the ingredients; returns that record."""
    from safetensors.torch import save_file

    dirs = [Path(s) for s in sources]
    if len(dirs) < 2:
        raise QAError("average-readers needs at least two reader folders")
    for d in dirs:
        if not (d / WEIGHTS).is_file():
            raise QAError(f"{d} is not a reader folder: it has no {WEIGHTS}")
    configs = [json.loads((d / "config.json").read_text(encoding="utf-8")) if (d / "config.json").is_file()
               else None for d in dirs]
    if configs[0] is None or any(_shape(c) != _shape(configs[0]) for c in configs[1:]):
        raise QAError("the readers differ in architecture (config.json): only readers fine-tuned from the "
                      "same encoder can be averaged")
    states = [_load(d / WEIGHTS) for d in dirs]
    for d, state in zip(dirs[1:], states[1:], strict=True):
        if state.keys() != states[0].keys() or any(state[k].shape != states[0][k].shape for k in state):
            raise QAError(f"{d}'s weights do not match {dirs[0]}'s tensor for tensor")
    soup = {}
    for name, first in states[0].items():
        if first.is_floating_point():
            soup[name] = (sum(s[name].float() for s in states) / len(states)).half().contiguous()
        else:
            soup[name] = first.clone()
    record = {"soup": {
        "method": "uniform average of the weights (model soup), saved in fp16",
        "ingredients": [{"path": str(d), "sha256": sha256_file(d / WEIGHTS), "training": _training(d)}
                        for d in dirs]}}
    out = Path(out)
    tmp = staging_dir(out)
    save_file(soup, str(tmp / WEIGHTS), metadata={"format": "pt"})
    for name in COPIED:
        if (dirs[0] / name).is_file():
            shutil.copyfile(dirs[0] / name, tmp / name)
    (tmp / "training.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    replace_dir(tmp, out)
    return record


def _load(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type, and OSError for unreadable files
        raise QAError(f"{path}: not readable as safetensors ({type(exc).__name__}: {exc})") from exc


def _shape(config: dict[str, Any] | None) -> tuple[Any, ...]:
    keys = ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size", "architectures")
    return tuple((config or {}).get(k) for k in keys)


def _training(d: Path) -> Any:
    try:
        return json.loads((d / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
