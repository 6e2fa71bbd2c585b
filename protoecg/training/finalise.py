"""After the last stage: thresholds on validation, validation/test metrics, the bundle files."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from data_access.ptbxl import PTBXLData

from ..bundle import save_bundle
from ..evaluation import tune_thresholds
from ..model.inference import run_model
from ..config import RunConfig
from ..projection import PROTOTYPES_FILE, TABLE_COLUMNS, load_projection, uniqueness
from ..prototype_quality import prototype_quality
from .report import evaluate_outputs, sigmoid

log = logging.getLogger(__name__)


def _outputs(model: nn.Module, x: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray | None]:
    out = run_model(model, x, batch_size=batch, keys=("logits", "combined_logits"))
    return out["logits"], out.get("combined_logits")


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def finalise(model: nn.Module, data: PTBXLData, cfg: RunConfig, out: Path, state: dict, fp: dict,
             is_demo: bool, n_boot: int) -> Path:
    """Tune thresholds on the validation fold (max F1 per class), evaluate validation and test folds,
    and write the bundle into ``out``."""
    tr, va, te = data.split(cfg.train_folds), data.split(cfg.val_folds), data.split(cfg.test_folds)
    batch = cfg.train.eval_batch_size
    codes, b_of = tuple(model.codes), model.branch_of
    v_logits, v_comb = _outputs(model, va.signals, batch)
    thresholds = tune_thresholds(va.labels, sigmoid(v_logits), prevalence=tr.labels.mean(axis=0))
    metrics: dict = {"is_demo": bool(is_demo), "arch": cfg.model.arch, "preset": cfg.preset,
                     "n_train": int(len(tr.ecg_ids)), "n_val": int(len(va.ecg_ids)),
                     "timings_s": state.get("timings_s", {}), "history": state.get("history", {}),
                     "pretrained_from": state.get("pretrained_from"),
                     "validation": evaluate_outputs(va.labels, v_logits, v_comb, codes, b_of, thresholds,
                                                    n_boot=n_boot)}
    if len(te.ecg_ids):
        t_logits, t_comb = _outputs(model, te.signals, batch)
        metrics["test"] = evaluate_outputs(te.labels, t_logits, t_comb, codes, b_of, thresholds, n_boot=n_boot)
        metrics["test"]["folds"] = list(cfg.test_folds)
    ckpt = out / "checkpoints"
    quality = None
    if (ckpt / PROTOTYPES_FILE).exists():
        table, shares = load_projection(ckpt)
        metrics["prototypes"] = uniqueness(table, state.get("projection_avoided"))
        quality = prototype_quality(model, table, tr.signals, tr.labels, tr.ecg_ids, batch_size=batch)
        qs = quality.summary
        log.info("prototype quality: purity %s (k=%d), nearest-sibling redundancy %s, %s of projected "
                 "prototypes with non-zero fusion weight, %d distinct sources, %d repeated windows",
                 _fmt(qs["purity"]), qs["n_purity_neighbours"], _fmt(qs["redundancy_nn"]),
                 _fmt(qs["share_nonzero_fusion"]), qs["n_distinct_sources"],
                 metrics["prototypes"]["n_repeated_windows"])
        src_idx = np.unique(table.loc[table["source_index"] >= 0, "source_index"].to_numpy(int))
        sources, source_ids = tr.signals[src_idx], tr.ecg_ids[src_idx]
    else:
        table = pd.DataFrame(columns=TABLE_COLUMNS)
        shares = np.zeros((0, cfg.model.n_leads), np.float32)
        sources = np.zeros((0, cfg.model.n_leads, cfg.model.n_samples), np.float32)
        source_ids = np.zeros(0, np.int64)
    pre = metrics["pretrained_from"]
    demo_flag = bool(is_demo) or bool(pre and pre["is_demo"])     # generated ECGs went into this model
    save_bundle(out, model, cfg, thresholds, table, shares, sources, source_ids, metrics, fp, demo_flag,
                trained_on_generated=bool(is_demo), quality=quality)
    v = metrics["validation"]["macro_auroc"]
    t = metrics.get("test", {}).get("macro_auroc", float("nan"))
    log.info("bundle written to %s (validation macro AUROC %.4f, test %.4f)", out, v, t)
    return out
