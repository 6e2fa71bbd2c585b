"""The two-stage (phecode, then feature) FDR procedure against its step-by-step definition and simulations,
with Holm (default) and Benjamini-Hochberg at the phecode stage."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from statsmodels.stats.multitest import multipletests

from analysis.fdr import hierarchical_qvalues, hits_two_stage, simes
from analysis.stats_utils import bh_qvalues, holm_adjusted


def test_simes_by_hand():
    assert simes(np.array([0.01, 0.04, 0.5])) == pytest.approx(0.03)      # min(3*0.01/1, 3*0.04/2, 0.5)
    assert simes(np.array([0.2, np.nan, 0.3])) == pytest.approx(0.3)      # NaN is not a test
    assert simes(np.array([np.nan])) == 1.0
    assert simes(np.array([0.5, 0.9])) == pytest.approx(0.9)


def _scan(rng, n_groups=60, n_feat=40, n_true=4, rho=0.7, shift=4.5, nan_frac=0.02) -> pd.DataFrame:
    """p-values of correlated features (equicorrelated z within a phecode), a few associated phecodes."""
    common = rng.standard_normal((n_groups, 1))
    z = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal((n_groups, n_feat))
    z[:n_true, : n_feat // 3] += shift
    p = 2 * stats.norm.sf(np.abs(z)).ravel()
    p[rng.random(p.size) < nan_frac] = np.nan
    return pd.DataFrame({"p": p, "phecode": np.repeat([f"{100 + g}.1" for g in range(n_groups)], n_feat),
                         "true": np.repeat(np.arange(n_groups) < n_true, n_feat)})


def test_holm_adjusted_matches_statsmodels():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(size=200), rng.uniform(0, 1e-4, 10), [np.nan, 0.3, 0.3]])
    got = holm_adjusted(p)
    ok = np.isfinite(p)
    assert np.isnan(got[~ok]).all()
    assert np.allclose(got[ok], multipletests(p[ok], method="holm")[1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("stage", ["holm", "bh"])
@pytest.mark.parametrize("seed", range(6))
def test_adjusted_values_reproduce_the_two_stage_procedure_at_every_level(seed, stage):
    df = _scan(np.random.default_rng(seed))
    h = hierarchical_qvalues(df, phecode_stage=stage)
    for alpha in (0.001, 0.01, 0.05, 0.1, 0.2, 0.5):
        direct = hits_two_stage(df, alpha, phecode_stage=stage)
        assert np.array_equal(direct, (h["q_hier"] <= alpha).to_numpy()), alpha
    # stage 1 is Holm / BH over the phecodes' Simes p-values; rows without a p-value are not tests
    per_code = h.assign(phecode=df["phecode"]).dropna().groupby("phecode")[["p_phecode", "q_phecode"]].first()
    adjust = holm_adjusted if stage == "holm" else bh_qvalues
    assert np.allclose(per_code["q_phecode"], adjust(per_code["p_phecode"].to_numpy()))
    assert h.loc[df["p"].isna()].isna().all().all()
    # q_hier is never below the phecode's own q (a test cannot be a hit in an unselected phecode) and
    # every selected phecode has at least one hit (Simes and BH agree)
    assert (h["q_hier"].dropna() >= h["q_phecode"].dropna() - 1e-15).all()
    sel = per_code.index[per_code["q_phecode"] <= 0.05]
    hit_codes = set(df.loc[(h["q_hier"] <= 0.05).to_numpy(), "phecode"])
    assert set(sel) == hit_codes


def test_hierarchical_fdr_controls_false_phecodes_and_lowers_false_hits_under_correlation():
    """Correlated features make BH's false hits come in clusters; the two-stage rule selects phecodes
    first, so the share of wrongly selected phecodes stays at alpha and fewer false hits get through."""
    rng = np.random.default_rng(1)
    fdp_bh, fdp_h, false_codes = [], [], []
    for _ in range(150):
        df = _scan(rng, n_groups=120, n_feat=50, n_true=6, rho=0.8, shift=5.0, nan_frac=0.0)
        false = ~df["true"].to_numpy()
        bh = bh_qvalues(df["p"].to_numpy()) < 0.05
        h = hierarchical_qvalues(df)
        hier = (h["q_hier"] < 0.05).to_numpy()
        fdp_bh.append((bh & false).sum() / max(bh.sum(), 1))
        fdp_h.append((hier & false).sum() / max(hier.sum(), 1))
        sel = df.loc[hier, ["phecode", "true"]].drop_duplicates()
        false_codes.append((~sel["true"]).sum() / max(len(sel), 1))
    # phecode-level FDR at alpha (mean over replicates; 150 draws -> SE ~ 0.01)
    assert np.mean(false_codes) <= 0.05 + 0.02
    # hit-level false discovery proportion: lower on average and exceeding 5 % less often than plain BH
    assert np.mean(fdp_h) < np.mean(fdp_bh)
    assert np.mean(np.array(fdp_h) > 0.05) < np.mean(np.array(fdp_bh) > 0.05)


def test_global_null_selects_a_phecode_at_most_alpha_of_the_time():
    rng = np.random.default_rng(2)
    any_hit = []
    for _ in range(300):
        df = _scan(rng, n_groups=80, n_feat=30, n_true=0, rho=0.6, nan_frac=0.0)
        any_hit.append(bool((hierarchical_qvalues(df)["q_hier"] < 0.05).any()))
    rate = float(np.mean(any_hit))
    assert rate <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300), rate


def _one_feature_scan(p_by_code: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame({"p": list(p_by_code.values()), "phecode": list(p_by_code)})


def test_holm_stage_rejects_a_null_phecode_that_bh_keeps():
    """The demo case: ten strong phecodes and one chance phecode at p = 3e-4 among 294. BH at 0.05 keeps
    it (rank 11: 3e-4 <= 0.05 * 11 / 294 = 1.9e-3), Holm does not (3e-4 > 0.05 / 284 = 1.8e-4)."""
    p = {f"{400 + i}": 1e-8 * (i + 1) for i in range(10)}
    p["189"] = 3e-4
    p.update({f"{600 + i}.1": 0.02 + 0.98 * i / 283 for i in range(283)})
    df = _one_feature_scan(p)
    chance = (df["phecode"] == "189").to_numpy()
    bh = (hierarchical_qvalues(df, phecode_stage="bh")["q_hier"] < 0.05).to_numpy()
    holm = (hierarchical_qvalues(df, phecode_stage="holm")["q_hier"] < 0.05).to_numpy()
    assert bh[chance].all() and not holm[chance].any()
    # both keep the ten strong phecodes and nothing else
    assert bh.sum() == 11 and holm.sum() == 10 and holm[:10].all()
    assert np.array_equal(holm, hits_two_stage(df, 0.05, phecode_stage="holm"))


def test_holm_stage_keeps_a_phecode_below_its_step_down_line():
    """Step-down, not Bonferroni: after 10 rejections the 11th phecode needs p <= alpha / (G - 10)."""
    G = 294
    p = {f"{400 + i}": 1e-8 for i in range(10)}
    p["500"] = 0.99 * 0.05 / (G - 10)            # above Bonferroni's 0.05 / 294, below Holm's 11th line
    p.update({f"{600 + i}.1": 0.5 for i in range(G - 11)})
    df = _one_feature_scan(p)
    assert 0.05 / G < p["500"]
    holm = hierarchical_qvalues(df, phecode_stage="holm")
    assert (holm.loc[df["phecode"] == "500", "q_hier"] < 0.05).all()
    assert (holm["q_hier"] < 0.05).sum() == 11


def test_holm_stage_bounds_the_chance_of_any_false_phecode_with_true_ones_present():
    """With true phecodes present BH's chance of selecting some null phecode grows with the number of
    true ones; Holm keeps it <= alpha (family-wise), while finding the strong true phecodes as often."""
    rng = np.random.default_rng(3)
    any_false = {"holm": [], "bh": []}
    found = {"holm": [], "bh": []}
    for _ in range(200):
        df = _scan(rng, n_groups=150, n_feat=20, n_true=12, rho=0.8, shift=6.0, nan_frac=0.0)
        for stage in ("holm", "bh"):
            hit = (hierarchical_qvalues(df, phecode_stage=stage)["q_hier"] < 0.05).to_numpy()
            any_false[stage].append(bool((hit & ~df["true"].to_numpy()).any()))
            found[stage].append(df.loc[hit & df["true"].to_numpy(), "phecode"].nunique() / 12)
    se = 3 * np.sqrt(0.05 * 0.95 / 200)
    assert np.mean(any_false["holm"]) <= 0.05 + se
    assert np.mean(any_false["holm"]) < np.mean(any_false["bh"])
    assert np.mean(found["holm"]) >= 0.95
