"""PheWAS estimator: tidy results, multiple testing, inputs, recovery scoring."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.multitest import multipletests

from analysis.comparators import class_aggregates, prototype_class_map
from analysis.phewas import REFIT_ESTIMATES, RESULT_COLUMNS, PheWAS, PheWASInputError, feature_kind
from analysis.phewas_sim import simulate_phewas
from analysis.recovery import is_descendant_or_self, score_recovery, tied_features


@pytest.fixture(scope="module")
def fitted():
    s = simulate_phewas(n_units=2500, n_classes=5, protos_per_class=3, n_phecodes=15, n_planted=4, effect=0.9,
                        seed=11)
    feats = pd.concat([s.features, class_aggregates(s.features, s.prototypes)], axis=1)
    pw = PheWAS().fit(feats, s.phenotypes, s.units[["age", "sex"]], s.phecode_info)
    return s, pw


def test_results_are_tidy_and_consistent(fitted):
    s, pw = fitted
    r = pw.results_
    assert list(r.columns) == RESULT_COLUMNS
    assert len(r) == pw.n_tests_ == (5 * 3 + 5 + 10) * 15
    ok = r["p"].notna()
    np.testing.assert_allclose(r.loc[ok, "q"], multipletests(r.loc[ok, "p"], method="fdr_bh")[1], rtol=1e-10)
    assert (r["bonferroni"] == (r["p"] < 0.05 / pw.n_tests_)).all()
    np.testing.assert_allclose(r["odds_ratio"], np.exp(r["beta"]))
    assert ((r["or_ci_low"] < r["odds_ratio"]) & (r["odds_ratio"] < r["or_ci_high"])).all()
    assert set(r["feature_kind"]) == {"prototype", "class_probability", "class_aggregate"}
    assert (r["description"].str.startswith("simulated")).all()
    cases = s.phenotypes.eq(1).sum()
    assert (r.groupby("phecode")["n_cases"].first() == cases.loc[r["phecode"].unique()]).all()
    assert set(r["method"]) <= {"score", "score_spa"}
    assert r.loc[r["q"] < 0.05, "estimate"].isin(REFIT_ESTIMATES).all()      # every hit carries an exact fit


def test_summary_holds_the_planted_pairs(fitted):
    s, pw = fitted
    top = pw.summary
    assert (top["q"] < 0.05).all() and top["log10_p"].is_monotonic_increasing
    # each planted phecode's strongest feature is its class probability or a class-tied feature
    for row in s.ground_truth[s.ground_truth["planted"]].itertuples():
        best = top[top["phecode"] == row.phecode].iloc[0]
        assert row.signature in best["feature"] or prototype_class_map(s.prototypes).get(best["feature"]) == row.signature
        assert best["beta"] > 0 and best["estimate"] in REFIT_ESTIMATES


def test_recovery_scoring(fitted):
    s, pw = fitted
    rec = score_recovery(pw.results_, s.ground_truth, prototype_class_map(s.prototypes))
    assert rec["n_planted"] == rec["n_planted_tested"] == 4
    assert rec["sensitivity"] == 1.0
    assert rec["n_tests"] == pw.n_tests_
    false = pw.summary[~pw.summary["phecode"].isin(s.ground_truth.loc[s.ground_truth["planted"], "phecode"])]
    assert rec["n_false_hits"] == len(false)
    # with the planted pairs removed from the results, nothing is recovered
    planted = s.ground_truth.loc[s.ground_truth["planted"], "phecode"]
    rec0 = score_recovery(pw.results_[~pw.results_["phecode"].isin(planted)], s.ground_truth)
    assert rec0["n_recovered"] == 0


def test_phecode_hierarchy_and_tied_features():
    assert is_descendant_or_self("427.21", "427.2") and is_descendant_or_self("427.21", "427")
    assert not is_descendant_or_self("4271", "427") and not is_descendant_or_self("427.3", "427.2")
    assert is_descendant_or_self("CV_416.21", "CV_416")
    feats = ["prob_AFIB", "sim_1", "sim_2", "agg_max_AFIB", "logit_rhythm_AFIB", "prob_AFL", "sim_3"]
    assert tied_features("AFIB", feats, {"sim_1": "AFIB", "sim_3": "AFL"}) == \
        ["prob_AFIB", "sim_1", "agg_max_AFIB", "logit_rhythm_AFIB"]


def test_min_cases_and_input_errors(fitted):
    s, _ = fitted
    pheno = s.phenotypes.copy()
    pheno["999.9"] = 0.0
    pheno.iloc[:5, -1] = 1.0
    pw = PheWAS(min_cases=20).fit(s.features, pheno, s.units[["age", "sex"]])
    assert "999.9" in set(pw.skipped_phecodes_["phecode"]) and "999.9" not in set(pw.results_["phecode"])
    with pytest.raises(PheWASInputError, match="share no unit"):
        PheWAS().fit(s.features.set_index(s.features.index + 10**7), pheno, s.units[["age", "sex"]])
    with pytest.raises(PheWASInputError, match="covariate"):
        PheWAS().fit(s.features, pheno, s.units[["age"]])
    with pytest.raises(PheWASInputError, match="no phecode"):
        PheWAS(min_cases=10_000).fit(s.features, pheno, s.units[["age", "sex"]])
    with pytest.raises(RuntimeError):
        _ = PheWAS().summary


def test_units_with_missing_values_are_dropped_and_listed(fitted):
    s, _ = fitted
    feats = s.features.copy()
    feats.iloc[:7, 0] = np.nan
    pw = PheWAS().fit(feats, s.phenotypes, s.units[["age", "sex"]])
    assert pw.dropped_units_ == list(feats.index[:7])
    assert pw.n_units_ == len(feats) - 7


def test_feature_kind():
    assert feature_kind("sim_12") == "prototype" and feature_kind("prob_AFIB") == "class_probability"
    assert feature_kind("concept_low_voltage") == "machine_concept" and feature_kind("age") == "other"


def test_phecode_stage_decides_q_phecode_and_hits(fitted):
    """``phecode_stage`` reaches the two-stage rule: Holm (default) or BH over the phecodes' Simes p, the
    same p-values either way, and Holm never selects more phecodes than BH."""
    from analysis.fdr import simes
    from analysis.stats_utils import bh_qvalues, holm_adjusted

    s, pw = fitted
    feats = pd.concat([s.features, class_aggregates(s.features, s.prototypes)], axis=1)
    bh = PheWAS(phecode_stage="bh").fit(feats, s.phenotypes, s.units[["age", "sex"]]).results_
    holm = pw.results_
    assert pw.config.phecode_stage == "holm"
    np.testing.assert_array_equal(bh["p"].to_numpy(), holm["p"].to_numpy())
    per = holm.groupby("phecode")["p"].apply(lambda v: simes(v.to_numpy()))
    for res, adjust in ((holm, holm_adjusted), (bh, bh_qvalues)):
        got = res.groupby("phecode")["q_phecode"].first().loc[per.index]
        np.testing.assert_allclose(got.to_numpy(), adjust(per.to_numpy()), rtol=1e-9)
    assert holm.loc[holm["hit"], "phecode"].nunique() <= bh.loc[bh["hit"], "phecode"].nunique()
    with pytest.raises(ValueError, match="phecode_stage"):
        PheWAS(phecode_stage="bonferroni")
