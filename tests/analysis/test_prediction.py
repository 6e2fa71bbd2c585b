"""Cross-validated phecode prediction AUROC with bootstrap CIs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from analysis.prediction import compare_feature_sets, ridge_logistic, stratified_folds
from analysis.stats_utils import auroc, bootstrap_auroc_ci


def test_auroc_matches_mann_whitney_and_handles_ties():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.standard_normal(300) + y, 1)      # rounded -> ties
    u = stats.mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert abs(auroc(y, s) - u / ((y == 1).sum() * (y == 0).sum())) < 1e-12
    assert np.isnan(auroc(np.zeros(5), np.arange(5)))
    lo, hi = bootstrap_auroc_ci(y, s, n_boot=200)
    assert lo < auroc(y, s) < hi


def test_ridge_logistic_without_penalty_is_the_mle():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 3))
    y = (rng.uniform(size=400) < 1 / (1 + np.exp(-(X @ [1.0, -0.5, 0.0])))).astype(float)
    b = ridge_logistic(X, y, l2=0.0)
    ref = sm.Logit(y, sm.add_constant(X)).fit(disp=0).params
    np.testing.assert_allclose(b, ref, atol=1e-6)
    assert np.abs(ridge_logistic(X, y, l2=100.0)[1:]).sum() < np.abs(b[1:]).sum()


def test_stratified_folds_balance_cases():
    y = np.r_[np.ones(50), np.zeros(150)].astype(int)
    f = stratified_folds(y, 5)
    assert all(y[f == k].sum() == 10 for k in range(5))


def test_compare_feature_sets():
    rng = np.random.default_rng(2)
    n = 800
    z = rng.standard_normal(n)
    idx = pd.Index(range(n), name="study_id")
    feats = pd.DataFrame({"sim_1": z + 0.5 * rng.standard_normal(n), "sim_2": z + 0.5 * rng.standard_normal(n),
                          "prob_A": rng.standard_normal(n), "prob_B": rng.standard_normal(n)}, index=idx)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(2 * z - 1.5)))).astype(float)
    y[:30] = np.nan
    pheno = pd.DataFrame({"427.2": y}, index=idx)
    res = compare_feature_sets(feats, pheno, ["427.2"], {"prototypes": ["sim_1", "sim_2"],
                                                         "class_probabilities": ["prob_A", "prob_B"]},
                               n_boot=200).set_index("feature_set")
    assert res.loc["prototypes", "n"] == n - 30
    assert res.loc["prototypes", "auroc"] > 0.8
    assert res.loc["class_probabilities", "ci_low"] < 0.5 < res.loc["class_probabilities", "ci_high"] + 0.05
    assert res.loc["class_probabilities", "delta_ci_high"] < 0   # paired CI of the difference excludes 0
