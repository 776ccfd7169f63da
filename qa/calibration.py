"""Confidence: a logistic model over evidence features, fitted on labelled questions (benchmarks/tune_answer.py).

The fitted coefficients ship in ``qa/data/calibration.json``, one entry per embedding model and answering
method; a model without an entry falls back to an uncalibrated average of the features (and says so).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

logger = logging.getLogger(__name__)

FEATURES = ("sent_cos", "sent_lex", "passage_dense", "passage_lex", "margin", "known_terms", "rare_in_passage",
            "type_missing", "says_unknown", "rare_missing", "near_previous")


@dataclass(frozen=True)
class Calibrator:
    coef: tuple[float, ...]
    intercept: float
    threshold: float | None = None
    fitted: bool = True
    features: tuple[str, ...] = FEATURES

    def prob(self, features: dict[str, float]) -> float:
        x = np.array([features.get(f, 0.0) for f in self.features], np.float64)
        if not self.fitted:
            return float(np.clip(x[:4].mean(), 0.0, 1.0))
        z = float(np.dot(self.coef, x) + self.intercept)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 3000, lr: float = 0.5,
                 sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Plain L2-regularised logistic regression by gradient descent (features are already in [-1, 1])."""
    w = np.zeros(x.shape[1])
    b = 0.0
    sw = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
        g = (p - y) * sw
        w -= lr * (x.T @ g / len(y) + l2 * w)
        b -= lr * float(g.mean())
    return w, b


@cache
def _table() -> dict:
    try:
        return json.loads(resources.files("qa").joinpath("data/calibration.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


_warned: set[str] = set()  # readers already reported as not calibrated


def calibrator_for(model_id: str, method: str) -> Calibrator:
    """The fitted calibration of an embedding model and answering method. A reader without one of its own
    (one the user brought) gets the sentence answerer's, which does not use the reader's score; with no
    calibration at all (an embedding model nobody fitted), the confidence is an uncalibrated average and the
    no-answer threshold 0.5."""
    table = _table()
    entry = table.get(f"{model_id}|{method}")
    if entry is None and method.startswith("reader:") and f"{model_id}|sentence" in table:
        if f"{model_id}|{method}" not in _warned:
            _warned.add(f"{model_id}|{method}")
            logger.warning("no confidence calibration for %s with %s: using the sentence answerer's, which ignores "
                           "the reader's no-answer score (fit one with benchmarks/tune_reader.py)", method, model_id)
        entry = table[f"{model_id}|sentence"]
    if entry is None:  # an embedding model nobody fitted (or the tests' hashing one): said only when debugging
        logger.debug("no calibration for %s|%s; confidence is uncalibrated", model_id, method)
        return Calibrator((), 0.0, None, fitted=False)
    return Calibrator(tuple(entry["coef"]), float(entry["intercept"]), entry.get("threshold"),
                      features=tuple(entry.get("features", FEATURES)))
