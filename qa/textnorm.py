"""SQuAD's answer normalisation and its two scores, shared by evaluation, answering and reader training."""

from __future__ import annotations

import collections
import re
import string

_PUNCT = set(string.punctuation) | {"“", "”", "‘", "’", "–", "—"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(s: str) -> str:
    """Lower case, no punctuation, no articles, single spaces."""
    s = "".join(ch for ch in s.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", s).split())


def f1_score(prediction: str, truth: str) -> float:
    """Token-overlap F1 of two answers after normalisation."""
    p, t = normalize_text(prediction).split(), normalize_text(truth).split()
    if not p or not t:
        return float(p == t)
    same = sum((collections.Counter(p) & collections.Counter(t)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def exact_score(prediction: str, truth: str) -> float:
    return float(normalize_text(prediction) == normalize_text(truth))
