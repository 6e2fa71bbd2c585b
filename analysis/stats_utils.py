"""Small statistical helpers shared by the analysis modules.

P-values are also returned on the log10 scale, computed from log survival functions, because a strong
ECG-diagnosis association easily gives p < 1e-300, where ``p`` itself underflows to zero.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

# The model's metrics serve the analysis too: one AUROC and one bootstrap in the project.
from protoecg.evaluation import auroc, bootstrap_ci  # noqa: F401  (auroc is re-exported)

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


def holm_adjusted(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error): ``p_(i) * (m - i + 1)``, running maximum
    over the sorted p-values, capped at 1; a test is rejected at level ``alpha`` when its value is
    <= alpha. NaN p-values stay NaN and are not counted as tests."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    m = int(ok.sum())
    if m == 0:
        return out
    pv = p[ok]
    order = np.argsort(pv, kind="mergesort")
    ranked = np.maximum.accumulate(pv[order] * (m - np.arange(m)))
    adj = np.empty(m)
    adj[order] = np.minimum(ranked, 1.0)
    out[ok] = adj
    return out


def bootstrap_auroc_ci(y: np.ndarray, score: np.ndarray, n_boot: int = 500, level: float = 0.95,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the AUROC, resampling units with replacement (one score column)."""
    return bootstrap_ci(np.asarray(y), np.asarray(score, dtype=float), metric=auroc, n_boot=n_boot,
                        alpha=1.0 - level, seed=seed)
