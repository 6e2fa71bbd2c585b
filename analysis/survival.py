"""Survival follow-up of ECG features with lifelines.

* :func:`cox_per_sd` - Cox model of time-to-death on each z-scored feature adjusted for age and sex;
  hazard ratio per SD with a robust (sandwich) SE clustered by patient (``CoxPHFitter(cluster_col=...)``:
  a patient can contribute several units), and the Schoenfeld-residual proportional-hazards test.
* :func:`km_by_quartile` - Kaplan-Meier curves by feature quartile with at-risk counts and a log-rank test.
"""
from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test, proportional_hazard_test

from protoecg.errors import ProtoECGError

log = logging.getLogger(__name__)

COX_COLUMNS = ["feature", "n", "n_events", "hr_per_sd", "hr_ci_low", "hr_ci_high", "log_hr", "se_robust",
               "p", "ph_p", "ph_ok", "converged", "note"]


class SurvivalInputError(ProtoECGError):
    """The survival table or the features cannot be analysed as given."""


def _survival_frame(survival: pd.DataFrame, features: pd.DataFrame,
                    covariates: pd.DataFrame | None) -> pd.DataFrame:
    need = {"time_days", "event", "subject_id"}
    missing = need - set(survival.columns)
    if missing:
        raise SurvivalInputError(f"survival table lacks column(s) {sorted(missing)}")
    df = survival[["time_days", "event", "subject_id"]].join(features, how="inner")
    if covariates is not None:
        df = df.join(covariates, how="inner")
    df = df.dropna()
    if len(df) == 0:
        raise SurvivalInputError("no unit has both a survival time and the features (check the index)")
    return df


def cox_per_sd(survival: pd.DataFrame, features: pd.DataFrame, covariates: pd.DataFrame | None = None,
               penalizer: float = 0.0, ph_alpha: float = 0.05) -> pd.DataFrame:
    """Hazard ratio per SD of each feature column (one Cox model per feature), clustered by subject.

    ``survival``: columns time_days, event, subject_id (index = unit id, as from
    ``analysis.cohort.survival_table``); ``features`` and ``covariates`` share that index.
    """
    df = _survival_frame(survival, features, covariates)
    cov_cols = list(covariates.columns) if covariates is not None else []
    rows = []
    for feat in features.columns:
        x = df[feat].astype(float)
        sd = x.std()
        base = {"feature": feat, "n": len(df), "n_events": int(df["event"].sum())}
        if not np.isfinite(sd) or sd == 0:
            rows.append({**base, "converged": False, "note": "feature is constant"})
            continue
        d = df[["time_days", "event", "subject_id"] + cov_cols].copy()
        d["z"] = (x - x.mean()) / sd
        d = d.loc[:, (d.nunique() > 1) | d.columns.isin(["event", "subject_id"])]
        cph = CoxPHFitter(penalizer=penalizer)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cph.fit(d, duration_col="time_days", event_col="event", cluster_col="subject_id")
                ph = proportional_hazard_test(cph, d, time_transform="rank")
        except Exception as exc:  # lifelines raises ConvergenceError and linear-algebra errors
            rows.append({**base, "converged": False, "note": f"Cox fit failed: {exc}"[:200]})
            continue
        s = cph.summary.loc["z"]
        ph_p = float(ph.summary.loc["z", "p"]) if "z" in ph.summary.index else float("nan")
        rows.append({**base, "hr_per_sd": float(s["exp(coef)"]),
                     "hr_ci_low": float(s["exp(coef) lower 95%"]),
                     "hr_ci_high": float(s["exp(coef) upper 95%"]), "log_hr": float(s["coef"]),
                     "se_robust": float(s["se(coef)"]), "p": float(s["p"]), "ph_p": ph_p,
                     "ph_ok": bool(ph_p >= ph_alpha) if np.isfinite(ph_p) else False,
                     "converged": True,
                     "note": "" if ph_p >= ph_alpha else "proportional-hazards assumption questionable"})
    out = pd.DataFrame(rows).reindex(columns=COX_COLUMNS)
    out["converged"] = out["converged"].fillna(False).astype(bool)
    out["note"] = out["note"].fillna("")
    return out


@dataclass
class KMResult:
    """Kaplan-Meier curves by quartile of one feature."""

    feature: str
    curves: pd.DataFrame          # group, time, survival, ci_low, ci_high
    at_risk: pd.DataFrame         # index group, columns = time points, values = numbers at risk
    logrank_p: float
    logrank_stat: float
    groups: list[str] = field(default_factory=list)


def km_by_quartile(survival: pd.DataFrame, feature: pd.Series, at_risk_times: Sequence[float] | None = None,
                   n_groups: int = 4) -> KMResult:
    """KM curves for feature quartiles (Q1 lowest) with numbers at risk and a multivariate log-rank test."""
    name = str(feature.name)
    df = _survival_frame(survival, feature.to_frame(name), None)
    try:
        q = pd.qcut(df[name], n_groups, labels=[f"Q{i + 1}" for i in range(n_groups)])
    except ValueError as exc:
        raise SurvivalInputError(f"cannot split {name} into {n_groups} groups: {exc}") from exc
    df = df.assign(group=q.astype(str))
    tmax = float(df["time_days"].max())
    times = list(at_risk_times) if at_risk_times is not None else list(np.linspace(0, tmax, 5).round(0))
    curves, risk = [], {}
    groups = sorted(df["group"].unique())
    for g in groups:
        sub = df[df["group"] == g]
        kmf = KaplanMeierFitter(label=g).fit(sub["time_days"], sub["event"])
        sf = kmf.survival_function_.iloc[:, 0]
        ci = kmf.confidence_interval_survival_function_
        curves.append(pd.DataFrame({"group": g, "time": sf.index.to_numpy(), "survival": sf.to_numpy(),
                                    "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy()}))
        risk[g] = [int((sub["time_days"] >= t).sum()) for t in times]
    lr = multivariate_logrank_test(df["time_days"], df["group"], df["event"])
    at_risk = pd.DataFrame.from_dict(risk, orient="index", columns=[float(t) for t in times])
    return KMResult(feature=name, curves=pd.concat(curves, ignore_index=True), at_risk=at_risk,
                    logrank_p=float(lr.p_value), logrank_stat=float(lr.test_statistic), groups=groups)
