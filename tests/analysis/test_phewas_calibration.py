"""Null p-value calibration and false discoveries of the PheWAS on several draws of the demo MIMIC-IV.

Benjamini-Hochberg controls the *expected* false discovery proportion (alpha x m0/m), so the check that
matters on generated data with a known truth is that p-values of null (feature, phecode) tests are
uniform and that, pooled over draws, the false hits stay near alpha x m0/m x hits.
The default two-stage FDR (:mod:`analysis.fdr`) must meet the targets on every draw.
Features are the label-based stand-in (:func:`analysis.phewas_sim.label_features`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.cohort import build_cohort
from analysis.comparators import class_aggregates, prototype_class_map
from analysis.phewas import PheWAS
from analysis.phewas_sim import label_features
from analysis.recovery import read_ground_truth, score_recovery
from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic


def _scan(root, seed: int) -> tuple[dict, dict]:
    """Recovery scored with the default two-stage FDR and with plain BH over all tests."""
    mimic = root / f"mimic{seed}"
    synthesize_mimic(mimic, MimicSynthConfig(n_patients=2000, seed=seed, write_waveforms=False), progress=False)
    feats, protos = label_features(pd.read_csv(mimic / "ecg_labels.csv"), seed=seed)
    table = pd.concat([feats, class_aggregates(feats, protos)], axis=1)
    cohort = build_cohort(mimic)
    pw = PheWAS().fit(table, cohort.phenotypes, cohort.units[["age", "sex"]], phecode_info=cohort.phecode_info)
    truth, pmap = read_ground_truth(mimic / "ground_truth.csv", "1.2"), prototype_class_map(protos)
    hier = score_recovery(pw.results_, truth, pmap)
    bh = score_recovery(pw.results_.assign(hit=pw.results_["q"] < 0.05), truth, pmap)
    return hier, bh


@pytest.mark.slow
def test_null_pvalues_are_uniform_and_false_hits_match_bh(tmp_path):
    both = [_scan(tmp_path, seed) for seed in range(5)]
    hier, recs = [h for h, _ in both], [b for _, b in both]
    # the default two-stage FDR: the targets on every draw (seeds 0-29: FDP 0-2.9 %, sensitivity 0.9-1.0)
    assert all(r["sensitivity"] >= 0.9 for r in hier)
    assert all(r["false_discovery_proportion"] <= 0.05 for r in hier)
    assert all(r["sensitivity"] >= 0.9 for r in recs)
    n_null = np.array([r["n_null_tests"] for r in recs], dtype=float)
    for t, lo, hi in (("0.05", 0.045, 0.055), ("0.01", 0.008, 0.012), ("0.001", 0.0006, 0.0015)):
        pooled = float(np.dot(n_null, [r["null_p_below"][t] for r in recs]) / n_null.sum())
        assert lo <= pooled <= hi, (t, pooled)
    # BH's promise is on average: pooled false hits vs alpha x m0/m x hits (seeds 0-4: 20 observed, 17.8
    # expected; seeds 0-28: mean FDP 4.9 % against nominal 4.86 %). Hits come in clusters - a parent phecode
    # repeats its child's test, correlated features repeat each other - so only a gross excess would mean
    # biased p-values.
    observed = sum(r["n_false_hits"] for r in recs)
    expected = sum(r["expected_false_hits"] for r in recs)
    assert observed <= 2.0 * expected, (observed, expected)
    assert np.mean([r["nominal_fdr"] for r in recs]) <= 0.05
