"""Cox per SD (clustered) and Kaplan-Meier by quartile, on simulated survival data with a known hazard."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from analysis.survival import SurvivalInputError, cox_per_sd, km_by_quartile


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    n_subj = 500
    subj = np.repeat(np.arange(n_subj), 2)            # two units per patient, sharing a frailty
    n = len(subj)
    frailty = np.repeat(rng.normal(0, 0.7, n_subj), 2)
    x = np.repeat(rng.standard_normal(n_subj), 2) + 0.3 * rng.standard_normal(n)
    age = rng.uniform(40, 90, n)
    sex = rng.integers(0, 2, n)
    hazard = 0.002 * np.exp(np.log(1.8) * x / x.std() + 0.02 * (age - 65) + frailty)
    t = rng.exponential(1 / hazard)
    c = rng.uniform(200, 900, n)
    idx = pd.Index(np.arange(n) + 1000, name="unit_id")
    surv = pd.DataFrame({"time_days": np.minimum(t, c), "event": (t <= c).astype(int), "subject_id": subj},
                        index=idx)
    feats = pd.DataFrame({"prob_X": x, "prob_null": rng.standard_normal(n), "prob_const": 1.0}, index=idx)
    cov = pd.DataFrame({"age": age, "sex": sex}, index=idx)
    return surv, feats, cov


def test_cox_per_sd_recovers_hazard_ratio_with_clustered_se(data):
    surv, feats, cov = data
    res = cox_per_sd(surv, feats, cov).set_index("feature")
    x = res.loc["prob_X"]
    assert x["hr_ci_low"] < 1.8 < x["hr_ci_high"] * 1.15   # frailty attenuates the marginal HR a little
    assert x["hr_per_sd"] > 1.3 and x["p"] < 1e-6 and x["converged"]
    assert res.loc["prob_null", "p"] > 0.01
    assert not res.loc["prob_const", "converged"] and "constant" in res.loc["prob_const", "note"]
    assert 0 <= x["ph_p"] <= 1
    # the clustered (robust) SE differs from the naive one fitted on the same design
    d = surv.join(cov).assign(z=(feats["prob_X"] - feats["prob_X"].mean()) / feats["prob_X"].std())
    naive = CoxPHFitter().fit(d.drop(columns="subject_id"), "time_days", "event").summary.loc["z"]
    assert abs(naive["coef"] - x["log_hr"]) < 1e-8
    assert abs(naive["se(coef)"] - x["se_robust"]) > 1e-4


def test_km_by_quartile_counts_and_logrank(data):
    surv, feats, _ = data
    km = km_by_quartile(surv, feats["prob_X"], at_risk_times=[0, 100, 300])
    assert km.groups == ["Q1", "Q2", "Q3", "Q4"]
    assert km.at_risk[0.0].sum() == len(surv)
    assert (km.at_risk.diff(axis=1).iloc[:, 1:] <= 0).all().all()
    assert km.logrank_p < 1e-6
    # higher quartile of a harmful feature -> lower survival at the end of follow-up
    last = km.curves.groupby("group")["survival"].last()
    assert last["Q4"] < last["Q1"]
    assert km_by_quartile(surv, feats["prob_null"]).logrank_p > 0.001


def test_bad_survival_input(data):
    surv, feats, _ = data
    with pytest.raises(SurvivalInputError, match="time_days"):
        cox_per_sd(surv.drop(columns="time_days"), feats)
    with pytest.raises(SurvivalInputError, match="no unit"):
        cox_per_sd(surv.set_index(surv.index + 10**6), feats)
