"""Patient-wise k-fold cross-validation of a training configuration on one PTB-XL-layout dataset.

Small real data (a few hundred ECGs) is the regime this repository can test, and one fixed split of it is
too noisy to compare recipes: a 42-ECG test fold holds one or two positives of most statements. So every
record is predicted once per seed by a model that never saw its patient, and the metrics are computed on
the pooled out-of-fold predictions (all records at once), over the statements with at least
``min_pos`` positives. The per-fold macro AUROC is reported as well, for the spread.

Split ``k`` of ``K``: test = group ``k``, validation (early stopping, thresholds) = group ``k + 1``,
training = the other ``K - 2`` groups. Groups are formed from whole patients, greedily balanced on the
rarest labels first, so every group gets some positives of each common statement.
"""
from __future__ import annotations

import dataclasses
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from data_access.ptbxl import PTBXLData

from ..evaluation import auroc
from ..config import RunConfig
from ..model.config import BRANCHES

log = logging.getLogger(__name__)


def patient_groups(data: PTBXLData, k: int, seed: int = 0) -> np.ndarray:
    """(N,) group 0..k-1 per record; all records of a patient share a group. Patients are placed one by
    one (those carrying the rarest labels first) into the group that currently has the fewest positives
    of that patient's rarest label, ties broken by group size."""
    if k < 3:
        raise ValueError("cross-validation needs k >= 3 (test, validation and training groups)")
    pid = data.meta["patient_id"].to_numpy() if "patient_id" in data.meta else data.ecg_ids
    rng = np.random.default_rng(seed)
    patients = np.unique(pid)
    rng.shuffle(patients)
    y = np.asarray(data.labels, dtype=np.int64)
    freq = y.sum(axis=0)
    rows = {p: np.flatnonzero(pid == p) for p in patients}
    lab = {p: y[rows[p]].max(axis=0) for p in patients}

    def rarest(p) -> float:
        present = np.flatnonzero(lab[p])
        return float(freq[present].min()) if len(present) else float("inf")

    order = sorted(patients, key=rarest)
    counts = np.zeros((k, y.shape[1]), dtype=np.int64)
    sizes = np.zeros(k, dtype=np.int64)
    group = np.empty(len(pid), dtype=np.int64)
    for p in order:
        present = np.flatnonzero(lab[p])
        if len(present):
            c = present[np.argmin(freq[present])]
            g = int(np.lexsort((sizes, counts[:, c]))[0])
        else:
            g = int(np.argmin(sizes))
        group[rows[p]] = g
        counts[g] += lab[p]
        sizes[g] += len(rows[p])
    return group


@dataclass
class CVResult:
    """Out-of-fold scores of one (configuration, seed): ``scores`` (N, 71) fused logits (baseline: its
    logits), ``branch_scores`` (N, 71) branch-classifier logits (prototype model only), ``fold_macro``
    per-split macro AUROC on its own test group."""

    label: str
    seed: int
    scores: np.ndarray
    branch_scores: np.ndarray | None
    fold_macro: list[float] = field(default_factory=list)
    groups: np.ndarray | None = None       # (N,) the split whose test group held each record
    epochs: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def _fold_config(cfg: RunConfig, k: int, K: int, seed: int) -> RunConfig:
    test, val = k + 1, (k + 1) % K + 1          # groups are stored as folds 1..K
    train = tuple(g for g in range(1, K + 1) if g not in (test, val))
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed), train_folds=train,
                               val_folds=(val,), test_folds=(test,))


def cross_validate(data: PTBXLData, cfg: RunConfig, *, k: int = 5, seed: int = 0, split_seed: int = 0,
                   label: str = "", work_dir: str | Path | None = None,
                   prepare: Callable[[RunConfig, Path], None] | None = None) -> CVResult:
    """Train ``cfg`` on ``k`` patient-wise splits of ``data`` and collect out-of-fold predictions.

    ``prepare(cfg, run_dir)`` is called before each split's training (e.g. to place an initialisation
    bundle); the trained bundles are written under ``work_dir`` (a temporary directory by default)."""
    import time

    from ..model.inference import run_model
    from .trainer import train

    groups = patient_groups(data, k, split_seed)
    cv_data = dataclasses.replace(data, folds=groups + 1)
    n = len(data.ecg_ids)
    scores = np.full(data.labels.shape, np.nan, dtype=np.float32)
    branch_scores = np.full(data.labels.shape, np.nan, dtype=np.float32)
    res = CVResult(label or cfg.model.arch, seed, scores, None, groups=groups)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(work_dir) if work_dir else Path(tmp)
        for split in range(k):
            fcfg = _fold_config(cfg, split, k, seed)
            run_dir = base / f"{res.label}_s{seed}_k{split}"
            if prepare is not None:
                prepare(fcfg, run_dir)
            model = _train_in_memory(train, cv_data, fcfg, run_dir)
            test = np.flatnonzero(groups == split)
            out = run_model(model, data.signals[test], batch_size=fcfg.train.eval_batch_size,
                            keys=("logits", "combined_logits"))
            scores[test] = out["logits"]
            if "combined_logits" in out:
                branch_scores[test] = out["combined_logits"]
            res.fold_macro.append(macro_auroc_min(data.labels[test], out["logits"], 1))
            log.info("%s seed %d split %d/%d: test macro AUROC %.3f", res.label, seed, split + 1, k,
                     res.fold_macro[-1])
    if np.isfinite(branch_scores).all():
        res.branch_scores = branch_scores
    res.seconds = time.perf_counter() - t0
    assert np.isfinite(scores).all() and len(scores) == n
    return res


def _train_in_memory(train_fn, data: PTBXLData, cfg: RunConfig, run_dir: Path):
    from ..bundle import load_bundle

    train_fn(data, cfg, run_dir, is_demo=False, progress=False, n_boot=0)
    return load_bundle(run_dir).model


def macro_auroc_min(y: np.ndarray, scores: np.ndarray, min_pos: int, cols: np.ndarray | None = None) -> float:
    """Macro AUROC over the columns (default all) with at least ``min_pos`` positives and one negative."""
    y = np.asarray(y)
    cols = np.arange(y.shape[1]) if cols is None else np.asarray(cols)
    vals = [auroc(y[:, j], scores[:, j]) for j in cols if min_pos <= y[:, j].sum() < len(y)]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else float("nan")


def fold_ranks(scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Scores turned into ranks in [0, 1] within each test group, per class. Each split's model has its own
    score scale (a logit of 2 from one model is not a logit of 2 from another), so pooling raw out-of-fold
    scores across splits mixes scales and understates every model; ranks within a split keep what AUROC
    measures (the order) and make the splits poolable."""
    from scipy.stats import rankdata

    out = np.empty_like(scores, dtype=np.float64)
    for g in np.unique(groups):
        rows = groups == g
        out[rows] = (rankdata(scores[rows], axis=0) - 0.5) / rows.sum()
    return out


def summarise_cv(res: CVResult, data: PTBXLData, min_pos: int = 5) -> dict:
    """Pooled out-of-fold figures (scores rank-normalised within each split, :func:`fold_ranks`): fused
    macro AUROC, NORM, per branch (fused scores on the branch's statements and, for the prototype model,
    the branch classifier alone)."""
    if res.groups is not None:
        res = CVResult(res.label, res.seed, fold_ranks(res.scores, res.groups),
                       None if res.branch_scores is None else fold_ranks(res.branch_scores, res.groups),
                       res.fold_macro, res.groups, res.epochs, res.seconds)
    y = np.asarray(data.labels)
    codes = list(data.codes)
    from data_access.ptbxl import branch_of

    b_of = branch_of()
    out = {"label": res.label, "seed": res.seed, "macro": macro_auroc_min(y, res.scores, min_pos),
           "fold_macro_mean": float(np.nanmean(res.fold_macro)),
           "fold_macro_sd": float(np.nanstd(res.fold_macro)), "minutes": res.seconds / 60,
           "n_classes": int(sum(min_pos <= y[:, j].sum() < len(y) for j in range(y.shape[1])))}
    j_norm = codes.index("NORM")
    out["NORM"] = auroc(y[:, j_norm], res.scores[:, j_norm])
    for b in BRANCHES:
        cols = np.array([j for j, c in enumerate(codes) if b_of[c] == b])
        out[f"{b}_fused"] = macro_auroc_min(y, res.scores, min_pos, cols)
        if res.branch_scores is not None:
            out[f"{b}_branch"] = macro_auroc_min(y, res.branch_scores, min_pos, cols)
    out["per_class"] = {codes[j]: auroc(y[:, j], res.scores[:, j]) for j in range(y.shape[1])
                        if min_pos <= y[:, j].sum() < len(y)}
    return out


CV_FILE = "crossval.json"     # in a bundle: the cross-validated figures of the recipe that made it


def crossval_report(data: PTBXLData, cfg: RunConfig, *, k: int = 5, seeds: tuple[int, ...] = (0,),
                    min_pos: int = 5, dataset: str | None = None) -> dict:
    """Cross-validate ``cfg`` on ``data`` for each seed (:func:`cross_validate`, :func:`summarise_cv`) and
    return one JSON-able report: the per-seed summaries and the mean ± sd over seeds of the headline
    figures. What the model card shows as "cross-validated on real data"."""
    rows = []
    for seed in seeds:
        res = cross_validate(data, cfg, k=k, seed=seed, label=cfg.model.arch)
        rows.append(summarise_cv(res, data, min_pos))
    keys = ["macro", "fold_macro_mean", "NORM"] + [f"{b}_{w}" for b in BRANCHES for w in ("fused", "branch")]
    summary = {}
    for key in keys:
        v = np.array([r.get(key, np.nan) for r in rows], dtype=float)
        if np.isfinite(v).any():
            summary[key] = {"mean": float(np.nanmean(v)), "sd": float(np.nanstd(v))}
    return {"k": k, "seeds": list(seeds), "min_pos": min_pos, "n_records": int(len(data.ecg_ids)),
            "dataset": dataset, "arch": cfg.model.arch, "preset": cfg.preset,
            "init_from": cfg.train.init_from, "n_classes": rows[0]["n_classes"] if rows else 0,
            "summary": summary, "rows": rows}
