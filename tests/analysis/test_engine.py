"""The vectorised PheWAS engine against statsmodels.Logit on the same data."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from analysis.phewas import PheWAS
from analysis.phewas_sim import simulate_phewas


@pytest.fixture(scope="module")
def sim():
    s = simulate_phewas(n_units=1500, n_classes=4, protos_per_class=2, n_phecodes=6, n_planted=3, effect=1.0,
                        seed=3)
    # A female-only phecode: males excluded, so sex is constant among its units and must be dropped.
    s.phenotypes.loc[s.units["sex"] == 1, "105.1"] = np.nan
    return s


def _statsmodels_fit(s, feature: str, phecode: str):
    y = s.phenotypes[phecode]
    m = y.notna().to_numpy()
    f = s.features.loc[m, feature]
    cols = [s.units["age"].to_numpy()[m]]
    if s.units["sex"][m].nunique() > 1:
        cols.append(s.units["sex"].to_numpy()[m])
    X = sm.add_constant(np.column_stack(cols + [((f - f.mean()) / f.std()).to_numpy()]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.Logit(y.to_numpy()[m], X).fit(disp=0)


def test_refits_agree_with_statsmodels(sim):
    # firth_below=0: every refit is the maximum-likelihood one
    pw = PheWAS(refit="all", firth_below=0).fit(sim.features, sim.phenotypes, sim.units[["age", "sex"]],
                                                sim.phecode_info)
    res = pw.results_
    assert (res["estimate"] == "ml").all() and res["converged"].all()
    assert len(res) == sim.features.shape[1] * sim.phenotypes.shape[1]
    dbeta, dse, dlogp, dlrt = [], [], [], []
    for row in res.itertuples():
        fit = _statsmodels_fit(sim, row.feature, row.phecode)
        dbeta.append(abs(fit.params[-1] - row.beta))
        dse.append(abs(fit.bse[-1] - row.se))
        dlogp.append(abs(np.log10(fit.pvalues[-1]) - np.log10(row.p_wald)))
        null = sm.Logit(fit.model.endog, fit.model.exog[:, :-1]).fit(disp=0)
        lrt_p = stats.chi2.sf(2 * (fit.llf - null.llf), 1)
        dlrt.append(abs(np.log10(lrt_p) - np.log10(row.p_lrt)))
    assert max(dbeta) <= 1e-6
    assert max(dse) <= 1e-6
    assert max(dlogp) <= 1e-4
    assert max(dlrt) <= 1e-4
    # the planted pairs are strong (so the comparison covers tiny p-values too)
    assert res["log10_p"].min() < -20


def test_screened_refits_equal_full_refits_and_score_p_is_close(sim):
    cov = sim.units[["age", "sex"]]
    full = PheWAS(refit="all", firth_below=0).fit(sim.features, sim.phenotypes, cov).results_
    hits = PheWAS(refit="hits", screen_p=1e-3, firth_below=0).fit(sim.features, sim.phenotypes, cov).results_
    ref = hits["estimate"] == "ml"
    assert 0 < ref.sum() < len(hits)
    np.testing.assert_allclose(hits.loc[ref, "beta"], full.loc[ref, "beta"], rtol=0, atol=1e-12)
    assert (hits.loc[~ref, "p"] >= 1e-3).all()
    # the score test and the likelihood-ratio test are asymptotically equivalent under the null
    null = full[full["p_lrt"] > 0.01]
    diff = np.abs(np.log10(hits.loc[null.index, "p_score"]) - np.log10(null["p_lrt"]))
    assert diff.max() < 0.05
    # the one-step score estimate of beta is close to the MLE for small effects
    assert np.abs(hits.loc[null.index, "beta"] - null["beta"]).max() < 0.01


def _separated_data(seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    idx = pd.Index(range(n), name="study_id")
    y = (rng.uniform(size=n) < 0.3).astype(float)
    feats = pd.DataFrame({"sim_sep": y + rng.uniform(0, 0.5, n), "sim_noise": rng.standard_normal(n)}, index=idx)
    cov = pd.DataFrame({"age": rng.uniform(30, 80, n), "sex": rng.integers(0, 2, n)}, index=idx)
    return feats, pd.DataFrame({"250.2": y}, index=idx), cov


def test_separation_falls_back_to_firth():
    feats, pheno, cov = _separated_data()
    res = PheWAS(refit="all", firth_below=0).fit(feats, pheno, cov).results_.set_index("feature")
    sep = res.loc["sim_sep"]
    assert sep["estimate"] == "firth" and "separation" in sep["note"]
    assert sep["converged"] and np.isfinite(sep["beta"]) and sep["beta"] > 0
    assert sep["p_firth"] < 1e-10 and sep["p"] < 1e-10 and sep["hit"]
    noise = res.loc["sim_noise"]
    assert noise["estimate"] == "ml" and noise["converged"] and noise["note"] == ""


def test_a_fit_that_did_not_converge_is_never_a_hit():
    feats, pheno, cov = _separated_data()
    res = PheWAS(refit="all", max_iter=2).fit(feats, pheno, cov).results_.set_index("feature")
    sep = res.loc["sim_sep"]
    assert not sep["converged"] and "never a hit" in sep["note"]
    assert sep["q_hier"] < 0.05 and not sep["hit"]


def test_feature_constant_within_phecode_gives_nan_with_note():
    rng = np.random.default_rng(1)
    n = 300
    idx = pd.Index(range(n), name="study_id")
    f = rng.standard_normal(n)
    y = (rng.uniform(size=n) < 0.4).astype(float)
    y[:100] = np.nan              # only units 100.. are analysed
    f[100:] = 2.0                 # constant there
    cov = pd.DataFrame({"age": rng.uniform(30, 80, n), "sex": rng.integers(0, 2, n)}, index=idx)
    feats = pd.DataFrame({"sim_a": f, "sim_b": rng.standard_normal(n), "sim_age": 0.1 * cov["age"] + 3},
                         index=idx)
    res = PheWAS().fit(feats, pd.DataFrame({"401.1": y}, index=idx), cov).results_.set_index("feature")
    assert np.isnan(res.loc["sim_a", "p"]) and "constant" in res.loc["sim_a", "note"]
    assert np.isnan(res.loc["sim_age", "p"]) and "covariates" in res.loc["sim_age", "note"]
    assert np.isfinite(res.loc["sim_b", "p"])
