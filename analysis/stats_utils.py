"""Small statistical helpers shared by the analysis modules.

P-values are also returned on the log10 scale, computed from log survival functions, because a strong
ECG-diagnosis association easily gives p < 1e-300, where ``p`` itself underflows to zero.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

LN10 = float(np.log(10.0))


def log10_p_wald(z: np.ndarray) -> np.ndarray:
    """log10 of the two-sided normal p-value for z-statistics (exact far into the tail)."""
    z = np.asarray(z, dtype=float)
    return (np.log(2.0) + stats.norm.logsf(np.abs(z))) / LN10


def log10_p_chi2(stat: np.ndarray, df: int = 1) -> np.ndarray:
    """log10 of the upper-tail chi-square p-value (negative statistics, from rounding, count as 0)."""
    stat = np.clip(np.asarray(stat, dtype=float), 0.0, None)
    return stats.chi2.logsf(stat, df) / LN10


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q); NaN p-values stay NaN and are not counted as tests."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Rank-based (Mann-Whitney) AUROC with ties counted as one half; NaN if a class is absent."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    n1 = int(y.sum())
    n0 = int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(score)
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def bootstrap_auroc_ci(y: np.ndarray, score: np.ndarray, n_boot: int = 500, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUROC, resampling units with replacement."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, dtype=float)
    rng = np.random.default_rng(seed)
    n = len(y)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        a = auroc(y[idx], score[idx])
        if np.isfinite(a):
            vals.append(a)
    if not vals:
        return float("nan"), float("nan")
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(vals, [alpha, 1.0 - alpha])
    return float(lo), float(hi)
