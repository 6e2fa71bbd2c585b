"""Model-level evaluation shared by training (metrics.json) and ``protoecg evaluate``."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import decision
from ..evaluation import f1_at, macro_auroc, summarise
from ..model.config import BRANCHES


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Probabilities as float32, the precision thresholds are tuned and metrics computed at."""
    return decision.sigmoid(x, np.float32)


def evaluate_outputs(y: np.ndarray, logits: np.ndarray, combined_logits: np.ndarray | None,
                     codes: tuple[str, ...], branch_of: dict[str, str], thresholds: np.ndarray,
                     n_boot: int = 200, seed: int = 0) -> dict:
    """Full-set metrics: fused macro/weighted AUROC with bootstrap 95% CIs, per class (AUROC, n_pos,
    F1 at the tuned threshold), per branch (the branch classifiers on their own codes, and the fused
    model on the same codes), macro F1, n_test."""
    res = summarise(y, logits, codes, n_boot=n_boot, seed=seed)
    probs = sigmoid(logits)
    f1 = f1_at(y, probs, thresholds)
    for j, c in enumerate(codes):
        res["per_class"][c]["f1"] = None if not np.isfinite(f1[j]) else float(f1[j])
        res["per_class"][c]["threshold"] = float(thresholds[j])
    has_pos = np.asarray(y).sum(0) > 0
    res["macro_f1"] = float(np.nanmean(f1[has_pos])) if has_pos.any() else float("nan")
    res["per_branch"] = {}
    for b in BRANCHES:
        cols = np.array([i for i, c in enumerate(codes) if branch_of[c] == b])
        entry = {"n_classes": int(len(cols)), "n_classes_evaluated":
                 int(sum(0 < y[:, j].sum() < len(y) for j in cols)),
                 "fused_macro_auroc": macro_auroc(y[:, cols], logits[:, cols])}
        src = combined_logits if combined_logits is not None else logits
        entry["macro_auroc"] = macro_auroc(y[:, cols], src[:, cols])
        res["per_branch"][b] = entry
    if combined_logits is not None:
        res["branches_combined_macro_auroc"] = macro_auroc(y, combined_logits)
    res["n_test"] = int(len(y))
    return res


def predictions_frame(ecg_ids: np.ndarray, codes: tuple[str, ...], probs: np.ndarray, predicted: np.ndarray,
                      y: np.ndarray | None = None) -> pd.DataFrame:
    """One row per ECG: ``prob_<code>``, ``pred_<code>`` and (when given) ``true_<code>`` columns."""
    cols = {"ecg_id": np.asarray(ecg_ids)}
    for j, c in enumerate(codes):
        cols[f"prob_{c}"] = np.round(probs[:, j], 6)
    for j, c in enumerate(codes):
        cols[f"pred_{c}"] = predicted[:, j].astype(np.uint8)
    if y is not None:
        for j, c in enumerate(codes):
            cols[f"true_{c}"] = np.asarray(y)[:, j].astype(np.uint8)
    return pd.DataFrame(cols)
