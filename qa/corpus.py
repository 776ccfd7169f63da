"""The arrays an index stores: documents, their passages and sentences (offsets), and the vectors of both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .documents import Document

#: Version of the saved arrays' layout (saved indexes and build checkpoints); others are rebuilt.
FORMAT_VERSION = 2


@dataclass
class Corpus:
    """Everything the index stores, in arrays. Sentences are grouped by passage, passages by document."""

    docs: list[Document]
    p_doc: np.ndarray  # int32 (n_passages,)
    p_start: np.ndarray  # int64
    p_end: np.ndarray
    s_passage: np.ndarray  # int32 (n_sentences,)
    s_start: np.ndarray
    s_end: np.ndarray
    p_vec: np.ndarray  # float32 (n_passages, dim)
    s_vec: np.ndarray  # float32 (n_sentences, dim)

    @classmethod
    def empty(cls, dim: int) -> Corpus:
        i32, i64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        return cls([], i32, i64, i64, i32, i64, i64, np.zeros((0, dim), np.float32),
                   np.zeros((0, dim), np.float32))

    @property
    def n_passages(self) -> int:
        return len(self.p_doc)

    @cached_property
    def s_first(self) -> np.ndarray:
        """CSR pointer: sentences of passage i are ``s_first[i]:s_first[i + 1]``."""
        return np.searchsorted(self.s_passage, np.arange(self.n_passages + 1)).astype(np.int64)

    def subset(self, keep_docs: Iterable[int]) -> Corpus:
        """The part of the corpus that belongs to the given document numbers (renumbered)."""
        keep = sorted(set(keep_docs))
        remap = np.full(len(self.docs), -1, np.int64)
        remap[keep] = np.arange(len(keep))
        pmask = np.isin(self.p_doc, keep)
        pnew = np.full(self.n_passages, -1, np.int64)
        pnew[pmask] = np.arange(int(pmask.sum()))
        smask = pmask[self.s_passage] if len(self.s_passage) else np.zeros(0, bool)
        return Corpus(
            [self.docs[i] for i in keep], remap[self.p_doc[pmask]].astype(np.int32), self.p_start[pmask],
            self.p_end[pmask], pnew[self.s_passage[smask]].astype(np.int32), self.s_start[smask],
            self.s_end[smask], self.p_vec[pmask], self.s_vec[smask],
        )

    @staticmethod
    def concat(parts: list[Corpus]) -> Corpus:
        parts = [p for p in parts if p.docs]
        if not parts:
            raise ValueError("nothing to concatenate")
        doc_off = np.cumsum([0] + [len(p.docs) for p in parts])
        p_off = np.cumsum([0] + [p.n_passages for p in parts])
        return Corpus(
            [d for p in parts for d in p.docs],
            np.concatenate([p.p_doc + doc_off[i] for i, p in enumerate(parts)]).astype(np.int32),
            np.concatenate([p.p_start for p in parts]), np.concatenate([p.p_end for p in parts]),
            np.concatenate([p.s_passage + p_off[i] for i, p in enumerate(parts)]).astype(np.int32),
            np.concatenate([p.s_start for p in parts]), np.concatenate([p.s_end for p in parts]),
            np.concatenate([p.p_vec for p in parts]), np.concatenate([p.s_vec for p in parts]),
        )


def reorder(corpus: Corpus, rank: list[int]) -> Corpus:
    """Documents put in the order ``rank`` gives them; passages and sentences follow their documents."""
    if rank == sorted(rank):
        return corpus
    c = corpus
    doc_rank = np.argsort(np.argsort(rank))  # dense 0..n-1 rank of each document
    p_perm = np.lexsort((np.arange(c.n_passages), doc_rank[c.p_doc]))
    p_new = np.empty_like(p_perm)
    p_new[p_perm] = np.arange(len(p_perm))
    s_key = p_new[c.s_passage]
    s_perm = np.lexsort((np.arange(len(s_key)), s_key))
    docs = [c.docs[i] for i in np.argsort(doc_rank)]
    return Corpus(docs, doc_rank[c.p_doc][p_perm].astype(np.int32), c.p_start[p_perm], c.p_end[p_perm],
                  s_key[s_perm].astype(np.int32), c.s_start[s_perm], c.s_end[s_perm], c.p_vec[p_perm],
                  c.s_vec[s_perm])
