"""BM25 over the passages (bm25s: sparse matrices, no Python loop over the corpus per query)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

_TOKEN = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


# Irregular verb forms Snowball leaves apart ("said" / "say"): questions ask "what did he say" of "he said".
_IRREGULAR = {
    "said": "say", "told": "tell", "went": "go", "gone": "go", "gave": "give", "given": "give", "took": "take",
    "taken": "take", "came": "come", "fled": "flee", "left": "leave", "made": "make", "began": "begin",
    "begun": "begin", "won": "win", "wrote": "write", "written": "write", "built": "build", "bought": "buy",
    "sold": "sell", "thought": "think", "brought": "bring", "held": "hold", "led": "lead", "met": "meet",
    "paid": "pay", "sent": "send", "spent": "spend", "found": "find", "fought": "fight", "knew": "know",
    "known": "know", "grew": "grow", "grown": "grow", "chose": "choose", "chosen": "choose", "fell": "fall",
    "fallen": "fall", "ran": "run", "saw": "see", "seen": "see", "spoke": "speak", "spoken": "speak",
    "stood": "stand", "taught": "teach", "became": "become", "rose": "rise", "risen": "rise",
}


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop words dropped, Snowball-stemmed word tokens (common irregular verbs lemmatised)."""
    words = [_IRREGULAR.get(w, w) for w in _TOKEN.findall(text.lower()) if w not in _stopwords()]
    return _stemmer().stemWords(words)


class BM25:
    """A BM25 index over a list of texts. Scores are raw BM25 (not comparable across queries)."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self.n = len(texts)
        self._vocab: dict[str, int] = {}
        corpus_ids = [[self._vocab.setdefault(t, len(self._vocab)) for t in tokenize(x)] for x in texts]
        df = np.zeros(len(self._vocab), np.float64)
        for ids in corpus_ids:
            df[list(set(ids))] += 1
        #: Inverse document frequency of each vocabulary entry (BM25's, floored at a small positive value).
        self.idf = np.maximum(np.log((self.n - df + 0.5) / (df + 0.5) + 1.0), 1e-3)
        self._model = bm25s.BM25(k1=k1, b=b)
        # bm25s takes (ids, vocab) tuples; an empty vocabulary (all stop words) still needs one entry.
        if not self._vocab:
            self._vocab[""] = 0
        self._model.index(bm25s.tokenization.Tokenized(ids=corpus_ids, vocab=self._vocab), show_progress=False)

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` (bm25s's own files, plus the idf), so that it loads without
        re-tokenising the texts."""
        folder.mkdir(parents=True, exist_ok=True)
        self._model.save(str(folder), show_progress=False)
        np.save(folder / "idf.npy", self.idf)

    @classmethod
    def load(cls, folder: Path) -> BM25:
        """An index saved by :meth:`save`; raises ``OSError`` or ``ValueError`` when its files do not check out."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        self = cls.__new__(cls)
        self._model = bm25s.BM25.load(str(folder), mmap=False, show_progress=False)
        self._vocab = dict(self._model.vocab_dict)
        self.idf = np.load(folder / "idf.npy", allow_pickle=False)
        self.n = int(self._model.scores["num_docs"])
        terms = len(self._model.scores["indptr"]) - 1
        words = [i for t, i in self._vocab.items() if t]  # bm25s adds an empty token of its own
        if len(self.idf) != len(words) or any(i >= terms for i in words):
            raise ValueError(f"the BM25 files in {folder} do not match each other")
        return self

    def query_ids(self, query: str) -> list[int]:
        return [self._vocab[t] for t in tokenize(query) if t in self._vocab]

    def knows(self, term: str) -> bool:
        """True when some passage uses the stemmed ``term``."""
        return term in self._vocab

    def weight(self, term: str) -> float:
        """The idf of a stemmed term; a term the corpus never uses weighs as much as the rarest can."""
        i = self._vocab.get(term)
        return float(self.idf[i]) if i is not None else self.unknown_idf

    def coverage(self, q_terms: set[str], terms: set[str]) -> float:
        """Share of the question's idf weight that ``terms`` contain (words the corpus lacks count, unmatched)."""
        if not q_terms:
            return 0.0
        # summed in sorted order: a set's order follows the process's hash seed, and float sums follow the order
        return sum(self.weight(t) for t in sorted(q_terms & terms)) / sum(self.weight(t) for t in sorted(q_terms))

    @property
    def unknown_idf(self) -> float:
        return float(np.log((self.n + 0.5) / 0.5 + 1.0))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros where no query term occurs)."""
        ids = self.query_ids(query)
        if not ids or self.n == 0:
            return np.zeros(self.n, np.float32)
        return np.asarray(self._model.get_scores(ids), dtype=np.float32)

    def top(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the best ``k`` texts, best first (only texts with a positive score)."""
        s = self.scores(query)
        k = min(k, self.n)
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx = np.argpartition(-s, k - 1)[:k]
        idx = idx[np.argsort(-s[idx], kind="stable")]
        keep = s[idx] > 0
        return idx[keep], s[idx][keep]
