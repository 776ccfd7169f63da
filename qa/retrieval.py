"""Ranking passages for a question: dense (FAISS) and BM25 candidates, fused with the best sentence's match."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Config
from .index import Index
from .results import Hit


@dataclass(frozen=True)
class Ranked:
    """Retrieval's full result: the hits, the query vector, and each hit's sentence numbers and scores."""

    hits: list[Hit]
    query: str
    q_vec: np.ndarray
    passages: np.ndarray  # passage numbers of the hits
    sent_ids: list[np.ndarray]  # per hit: sentence numbers
    sent_cos: list[np.ndarray]  # per hit: cosine of each sentence with the query


def fuse(dense: np.ndarray, bm25: np.ndarray, sentence: np.ndarray, config: Config) -> np.ndarray:
    """Weighted sum of the three signals; BM25 is scaled by the best candidate's score for this query."""
    top = float(bm25.max()) if len(bm25) else 0.0
    bm25_rel = bm25 / top if top > 0 else np.zeros_like(bm25)
    return config.w_dense * dense + config.w_bm25 * bm25_rel + config.w_sentence * sentence


def _sentence_max(index: Index, passages: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, list, list]:
    first = index.corpus.s_first
    ids = [np.arange(first[p], first[p + 1]) for p in passages]
    flat = np.concatenate(ids) if ids else np.zeros(0, np.int64)
    cos = index.corpus.s_vec[flat] @ q if len(flat) else np.zeros(0, np.float32)
    per, best, pos = [], np.full(len(passages), -1.0, np.float32), 0
    for i, sid in enumerate(ids):
        c = cos[pos : pos + len(sid)]
        pos += len(sid)
        per.append(c)
        if len(c):
            best[i] = c.max()
    return best, ids, per


def rank(index: Index, query: str, k: int = 5, config: Config | None = None,
         allowed: np.ndarray | None = None) -> Ranked:
    """The ``k`` best passages for ``query``. ``allowed`` (a boolean mask over passages) scopes the search."""
    config = config or index.config
    n = len(index)
    q = index.embedder.encode_queries([query])[0]
    bm25_all = index.bm25.scores(query)
    c = min(max(config.candidates, k), n)
    if allowed is None:
        _, dense_ids = index.faiss.search(q[None, :], c)
        dense_ids = dense_ids[0][dense_ids[0] >= 0]
        bm_ids = np.argpartition(-bm25_all, c - 1)[:c] if c < n else np.arange(n)
    else:
        pool = np.flatnonzero(allowed)
        c = min(c, len(pool))
        if c == 0:
            return Ranked([], query, q, np.zeros(0, np.int64), [], [])
        dense_ids = pool[np.argpartition(-(index.corpus.p_vec[pool] @ q), c - 1)[:c]]
        bm_ids = pool[np.argpartition(-bm25_all[pool], c - 1)[:c]]
    cand = np.union1d(dense_ids, bm_ids[bm25_all[bm_ids] > 0]).astype(np.int64)
    dense = index.corpus.p_vec[cand] @ q
    sent_best, sent_ids, sent_cos = _sentence_max(index, cand, q)
    fused = fuse(dense, bm25_all[cand], sent_best, config)
    order = np.argsort(-fused, kind="stable")[:k]
    hits = [
        Hit(index.passage(int(cand[i])), float(fused[i]), float(dense[i]), float(bm25_all[cand[i]]),
            float(sent_best[i]), rank=r + 1)
        for r, i in enumerate(order)
    ]
    return Ranked(hits, query, q, cand[order], [sent_ids[i] for i in order], [sent_cos[i] for i in order])
