"""Multi-label metrics in numpy: rank AUROC, macro/weighted means, bootstrap CIs, thresholds, F1.

All metrics are computed on the full set of ECGs at once (never averaged over batches). A class without
both positives and negatives has AUROC NaN and is left out of the macro mean; ``n_pos`` is reported.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

from .decision import is_positive


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney rank statistic (ties get average ranks)."""
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(score, dtype=np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def per_class_auroc(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(N, C) labels and scores → (C,) AUROC (NaN where undefined)."""
    return np.array([auroc(y[:, j], scores[:, j]) for j in range(y.shape[1])])


def macro_auroc(y: np.ndarray, scores: np.ndarray) -> float:
    a = per_class_auroc(y, scores)
    return float(np.nanmean(a)) if np.isfinite(a).any() else float("nan")


def weighted_auroc(y: np.ndarray, scores: np.ndarray) -> float:
    """Mean of per-class AUROC weighted by the number of positives (defined classes only)."""
    a = per_class_auroc(y, scores)
    w = np.asarray(y).sum(axis=0).astype(float)
    ok = np.isfinite(a)
    if not ok.any() or w[ok].sum() == 0:
        return float("nan")
    return float((a[ok] * w[ok]).sum() / w[ok].sum())


def bootstrap_ci(y: np.ndarray, scores: np.ndarray, metric=macro_auroc, n_boot: int = 200,
                 alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``metric`` resampling ECGs with replacement."""
    rng = np.random.default_rng(seed)
    n = len(y)
    vals = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        v = metric(y[idx], scores[idx])
        if np.isfinite(v):
            vals.append(v)
    if not vals:
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def f1_at(y: np.ndarray, probs: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per-class F1 of ``probs >= thresholds`` (NaN for classes with no positive and no prediction)."""
    pred = is_positive(probs, thresholds[None, :])
    y = np.asarray(y).astype(bool)
    tp = (pred & y).sum(0)
    denom = pred.sum(0) + y.sum(0)
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), np.nan)


def tune_thresholds(y: np.ndarray, probs: np.ndarray, default: float = 0.5, min_pos: int = 3,
                    prevalence: np.ndarray | None = None) -> np.ndarray:
    """Per-class threshold maximising F1 on a validation set; a fallback where a class has fewer than
    ``min_pos`` validation positives.

    Candidates are the midpoints between consecutive distinct scores, so the choice does not sit on an
    observed score. Why ``min_pos``: with one or two validation positives the F1-optimal cut is wherever
    they happen to rank; one ranked 40th of 58 gives a threshold near 0 that flags most new records (an F1
    of 0.05 on validation), which in a review session means a statement "predicted" for nearly every ECG.

    The fallback: with ``prevalence`` (per class, usually the training-fold label means) the cut that flags
    that share of the validation records (at least one where the prevalence times the number of records
    rounds to one or more; none, i.e. above every score, for a class absent from training). This holds
    whatever the probabilities' calibration: a model trained with BCE pos_weight puts its 0.5 crossing far
    below a rare class's real rate, so a fixed 0.5 would flag many records. Without ``prevalence``:
    ``default``.
    """
    y = np.asarray(y).astype(bool)
    probs = np.asarray(probs, dtype=np.float64)
    out = np.full(y.shape[1], default, dtype=np.float64)
    for j in range(y.shape[1]):
        p = probs[:, j]
        ps = np.sort(p)[::-1]
        if y[:, j].sum() < max(1, min_pos):
            if prevalence is not None and len(ps):
                k = int(np.floor(float(prevalence[j]) * len(ps) + 0.5))
                if k <= 0:
                    out[j] = float(np.nextafter(ps[0], np.inf)) if ps[0] < 1 else 1.0
                elif k >= len(ps):
                    out[j] = float(ps[-1])
                else:
                    out[j] = float((ps[k - 1] + ps[k]) / 2) if ps[k - 1] > ps[k] else float(ps[k - 1])
            continue
        order = np.argsort(-p, kind="stable")
        ps, ys = p[order], y[order, j]
        tp = np.cumsum(ys)
        k = np.arange(1, len(ps) + 1)
        f1 = 2 * tp / (k + ys.sum())
        last_of_run = np.r_[ps[1:] != ps[:-1], True]        # only cut between distinct scores
        f1 = np.where(last_of_run, f1, -1)
        best = int(np.argmax(f1))
        nxt = ps[best + 1] if best + 1 < len(ps) else ps[best] - 1e-6
        out[j] = float((ps[best] + nxt) / 2)
    return out


def summarise(y: np.ndarray, scores: np.ndarray, codes: tuple[str, ...], n_boot: int = 200,
              seed: int = 0) -> dict:
    """Macro/weighted AUROC with bootstrap CIs and the per-class table {code: {auroc, n_pos}}."""
    per = per_class_auroc(y, scores)
    n_pos = np.asarray(y).sum(axis=0)
    return {
        "macro_auroc": macro_auroc(y, scores),
        "macro_auroc_ci": list(bootstrap_ci(y, scores, macro_auroc, n_boot=n_boot, seed=seed)),
        "weighted_auroc": weighted_auroc(y, scores),
        "weighted_auroc_ci": list(bootstrap_ci(y, scores, weighted_auroc, n_boot=n_boot, seed=seed)),
        "n_classes_evaluated": int(np.isfinite(per).sum()),
        "per_class": {c: {"auroc": (None if not np.isfinite(a) else float(a)), "n_pos": int(n)}
                      for c, a, n in zip(codes, per, n_pos)},
    }
