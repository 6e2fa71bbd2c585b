"""How a logit becomes a decision: the sigmoid, a probability threshold as a logit, and the one rule for
which side of a threshold a score lies on (at or above it is positive).

Every caller (the bundle's ``predict``, metrics, counterfactual search and evaluation, donor selection)
uses these, so a score exactly at the threshold is positive everywhere.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

Direction = Literal["to_positive", "to_negative"]

__all__ = ["Direction", "is_positive", "prob_to_logit", "reaches", "sigmoid"]


def sigmoid(x: np.ndarray | float, dtype: type = np.float64) -> np.ndarray:
    """``1 / (1 + exp(-x))`` computed in float64, returned as ``dtype``."""
    return (1 / (1 + np.exp(-np.asarray(x, dtype=np.float64)))).astype(dtype)


def prob_to_logit(p: float) -> float:
    """The logit of a probability threshold (so ``logit >= prob_to_logit(t)`` ⇔ ``sigmoid(logit) >= t``).

    A threshold of 0 (every ECG positive) maps to -inf and 1 to +inf, so such labels can never be
    flipped to the other side, exactly as the thresholded decision says."""
    p = float(p)
    if p <= 0.0:
        return float("-inf")
    if p >= 1.0:
        return float("inf")
    return float(np.log(p) - np.log1p(-p))


def is_positive(score, threshold):
    """The decision: ``score >= threshold`` (arrays broadcast; probabilities or logits alike)."""
    return score >= threshold


def reaches(score, threshold, direction: str, margin: float = 0.0):
    """Whether ``score`` lies on the target side of ``threshold``: positive (``>= threshold + margin``)
    for ``"to_positive"``, negative (``< threshold - margin``) for ``"to_negative"``. With ``margin=0``
    this is :func:`is_positive` or its complement (NaN scores are on neither side)."""
    if direction == "to_positive":
        return is_positive(score, threshold + margin)
    return score < threshold - margin
