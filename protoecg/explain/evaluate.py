"""Counterfactual evaluation over held-out ECGs (``protoecg explain-eval``).

For every ECG two cases are searched when possible: *to negative* for its most probable positive label
and *to positive* for its most probable negative label, each among the labels for which the donor bank
holds a correctly classified ECG on the target side (cases without one are counted, not searched). Reported: validity (per direction and overall),
wall time (median, p95), fraction / leads / seconds changed, model calls, and plausibility (latent
distance to the nearest donor-bank ECG) against two comparators from the same donor: the same number of
randomly chosen cells (which rarely flips the label, so it stays near the original), and random-order
cells up to the shortest prefix that does flip it (what the search's ranking and pruning buy).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import logging
import sys
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .api import Explainer
from .cf_model import counterfactual_for_label
from .cf_comparators import random_order_flip, random_substitution
from .scoring import LabelScorer, is_positive, latent_of, prob_to_logit, reaches, sigmoid

if TYPE_CHECKING:  # pragma: no cover
    from ..bundle import Bundle

log = logging.getLogger(__name__)

# Published reference points (design notes, section 4).
PROTOTYPE_GUIDED_VALIDITY = 0.81
PROTOTYPE_GUIDED_FRACTION = 0.78


@dataclass(frozen=True)
class CFEvalSummary:
    n_ecgs: int
    n_cases: int
    skipped_no_donor: int                         # (ECG, direction) cases with no label that has a donor
    validity: float
    validity_to_negative: float | None
    validity_to_positive: float | None
    median_seconds: float
    p95_seconds: float
    median_fraction_changed: float
    median_leads_changed: float
    median_seconds_changed: float
    median_model_calls: float
    median_plausibility: float
    median_plausibility_original: float
    median_plausibility_random: float
    random_validity: float
    median_fraction_random_flip: float            # same donor, random cell order, shortest flipping prefix
    median_plausibility_random_flip: float
    setup_seconds: float
    donor_bank: str
    validity_vs_prototype_guided: float          # our validity − 0.81 (percentage points / 100)
    fraction_ratio_vs_prototype_guided: float    # 0.78 / our median fraction changed

    def to_json(self) -> dict:
        return {k: (None if v is None else (round(v, 5) if isinstance(v, float) else v))
                for k, v in asdict(self).items()}


def _cases(probs: np.ndarray, thr: np.ndarray, codes, donors: dict[str, np.ndarray]) -> list[tuple[str, str]]:
    """The most probable positive label (→ negative) and the most probable negative label (→ positive),
    each among the labels for which the donor bank holds a real ECG on the target side (a substitution
    counterfactual needs one); ECGs without such a label are counted as skipped, per direction."""
    pos = is_positive(probs, thr)
    out = []
    neg_ok = pos & donors["to_negative"]
    if neg_ok.any():
        out.append((codes[int(np.argmax(np.where(neg_ok, probs, -1)))], "to_negative"))
    pos_ok = ~pos & donors["to_positive"]
    if pos_ok.any():
        out.append((codes[int(np.argmax(np.where(pos_ok, probs, -1)))], "to_positive"))
    return out


def _labels_with_donors(ex: Explainer, direction: str) -> np.ndarray:
    thr = np.array([prob_to_logit(t) for t in ex.bundle.thresholds])
    return np.array([ex.bank.eligible(j, thr[j], direction).any() for j in range(len(thr))])


def evaluate_counterfactuals(ex: Explainer, signals: np.ndarray, ecg_ids, seed: int = 0,
                             progress: bool = True) -> tuple[pd.DataFrame, CFEvalSummary]:
    """Run the counterfactual search on every ECG in ``signals`` (preprocessed model input)."""
    from tqdm import tqdm

    setup = ex.warm_up()
    bundle, fusion, bank = ex.bundle, ex.builder.fusion, ex.bank
    rng = np.random.default_rng(seed)
    probs = sigmoid(latent_of(bundle.model, fusion, signals)[0])
    rows = []
    skipped = 0
    donors = {d: _labels_with_donors(ex, d) for d in ("to_negative", "to_positive")}
    thr = np.asarray(bundle.thresholds)
    for i in tqdm(range(len(signals)), desc="counterfactuals", unit="ECG",
                  disable=not progress or not sys.stderr.isatty()):
        cases = _cases(probs[i], thr, bundle.codes, donors)
        skipped += 2 - len(cases)
        for label, direction in cases:
            r = counterfactual_for_label(bundle, fusion, bank, signals[i], label, direction, ex.cf_config)
            row = {"ecg_id": str(ecg_ids[i]), "label": label, "direction": direction, "valid": r.valid,
                   "seconds": r.seconds, "fraction_changed": r.fraction_changed,
                   "leads_changed": len(r.leads_changed), "seconds_changed": r.seconds_changed,
                   "model_calls": r.model_calls, "n_scored": r.n_scored, "l1": r.l1, "l2": r.l2,
                   "plausibility": r.plausibility, "plausibility_original": r.plausibility_original,
                   "n_cells": len(r.cells), "donor_id": r.donor_id,
                   "plausibility_random": np.nan, "random_valid": np.nan,
                   "fraction_random_flip": np.nan, "plausibility_random_flip": np.nan}
            if r.valid and r.cells and r.donor_id in bank.ids:
                donor = bank.signals[bank.ids.index(r.donor_id)]
                rs, _ = random_substitution(signals[i], donor, len(r.cells), float(bundle.fs), rng, ex.cf_config)
                lg, lat = latent_of(bundle.model, fusion, rs[None])
                c = bundle.codes.index(label)
                thr_c = prob_to_logit(bundle.thresholds[c])
                row["plausibility_random"] = float(bank.nearest_distance(lat)[0])
                row["random_valid"] = bool(reaches(lg[0, c], thr_c, direction))
                sig, mask, ok = random_order_flip(signals[i], donor, LabelScorer(bundle.model, c).score, thr_c,
                                                  direction, float(bundle.fs), rng, ex.cf_config)
                if ok:
                    row["fraction_random_flip"] = float((mask > 0).mean())
                    row["plausibility_random_flip"] = float(bank.nearest_distance(latent_of(bundle.model, fusion,
                                                                                            sig[None])[1])[0])
            rows.append(row)
    df = pd.DataFrame(rows)
    return df, summarise(df, len(signals), setup, bank.source, skipped)


def summarise(df: pd.DataFrame, n_ecgs: int, setup_s: float, bank_source: str, skipped: int = 0) -> CFEvalSummary:
    def med(col: str, frame: pd.DataFrame = df) -> float:
        v = pd.to_numeric(frame[col], errors="coerce").dropna()
        return float(v.median()) if len(v) else float("nan")

    valid = df[df["valid"]] if len(df) else df
    by_dir = {d: float(g["valid"].mean()) for d, g in df.groupby("direction")} if len(df) else {}
    validity = float(df["valid"].mean()) if len(df) else float("nan")
    frac = med("fraction_changed", valid) if len(valid) else float("nan")
    rv = pd.to_numeric(df.get("random_valid", pd.Series(dtype=float)), errors="coerce").dropna()
    return CFEvalSummary(
        n_ecgs=n_ecgs, n_cases=len(df), skipped_no_donor=skipped, validity=validity,
        validity_to_negative=by_dir.get("to_negative"), validity_to_positive=by_dir.get("to_positive"),
        median_seconds=med("seconds"), p95_seconds=float(df["seconds"].quantile(0.95)) if len(df) else float("nan"),
        median_fraction_changed=frac, median_leads_changed=med("leads_changed", valid) if len(valid) else float("nan"),
        median_seconds_changed=med("seconds_changed", valid) if len(valid) else float("nan"),
        median_model_calls=med("model_calls"), median_plausibility=med("plausibility", valid) if len(valid) else float("nan"),
        median_plausibility_original=med("plausibility_original", valid) if len(valid) else float("nan"),
        median_plausibility_random=med("plausibility_random", valid) if len(valid) else float("nan"),
        random_validity=float(rv.mean()) if len(rv) else float("nan"),
        median_fraction_random_flip=med("fraction_random_flip", valid) if len(valid) else float("nan"),
        median_plausibility_random_flip=med("plausibility_random_flip", valid) if len(valid) else float("nan"),
        setup_seconds=setup_s,
        donor_bank=bank_source, validity_vs_prototype_guided=validity - PROTOTYPE_GUIDED_VALIDITY,
        fraction_ratio_vs_prototype_guided=PROTOTYPE_GUIDED_FRACTION / frac if frac and frac > 0 else float("nan"))


def held_out(bundle: Bundle, root, fold: int = 10, n: int | None = None, seed: int = 0):
    """(signals, ecg_ids) of a PTB-XL-layout fold, preprocessed for the model (at most ``n``, fixed subset)."""
    from data_access.ptbxl import load_ptbxl

    from .errors import ExplainError

    data = load_ptbxl(root, fs=int(bundle.fs), folds=(fold,))
    if len(data.ecg_ids) == 0:
        raise ExplainError(f"no readable ECGs in fold {fold} of {root}")
    idx = np.arange(len(data.ecg_ids))
    if n is not None and n < len(idx):
        idx = np.sort(np.random.default_rng(seed).choice(idx, n, replace=False))
    x = data.signals[idx][..., : bundle.n_samples]
    if x.shape[-1] != bundle.n_samples:
        raise ExplainError(f"{root}: records are shorter than the model's {bundle.n_samples} samples")
    return np.ascontiguousarray(x, dtype=np.float32), data.ecg_ids[idx]
