"""The realism metrics of :mod:`data_access.synth.realism` on inputs whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest

from data_access.synth.realism import (RealismError, feature_matrix, mmd_features, mmd_rbf, psd_distance,
                                       psd_wasserstein, record_features, standardise, wasserstein_1d,
                                       welch_log_psd)

FS = 100.0


def _sines(rng: np.random.Generator, n: int, f0: float) -> np.ndarray:
    t = np.arange(1000) / FS
    ph = rng.uniform(0, 2 * np.pi, (n, 12, 1))
    return np.sin(2 * np.pi * f0 * t + ph) + 0.05 * rng.standard_normal((n, 12, 1000))


def test_mmd_of_a_sample_with_itself_is_zero_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (200, 5))
    y = rng.normal(0, 1, (200, 5))
    assert abs(mmd_rbf(x, x)) < 1e-2          # unbiased estimate: ~0 (slightly negative allowed)
    same = mmd_rbf(x, y)
    shifted = mmd_rbf(x, y + 1.0)
    assert abs(same) < 0.01
    assert shifted > 10 * max(abs(same), 1e-3)
    assert mmd_rbf(x, y + 2.0) > shifted      # monotone in the shift
    assert mmd_rbf(x, y, bandwidth=2.0) == pytest.approx(mmd_rbf(y, x, bandwidth=2.0))


def test_mmd_rejects_bad_shapes():
    with pytest.raises(RealismError, match="same d"):
        mmd_rbf(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(RealismError, match="two samples"):
        mmd_rbf(np.zeros((1, 3)), np.zeros((4, 3)))


def test_psd_distance_is_symmetric_zero_on_itself_and_sees_a_frequency_shift():
    rng = np.random.default_rng(1)
    f, a = welch_log_psd(_sines(rng, 20, 5.0), FS)
    _, b = welch_log_psd(_sines(rng, 20, 5.0), FS)
    _, c = welch_log_psd(_sines(rng, 20, 15.0), FS)
    assert a.shape == (12, len(f)) and f.max() <= FS / 2
    assert np.allclose(psd_distance(a, a), 0.0)
    assert np.allclose(psd_distance(a, c), psd_distance(c, a))
    assert (psd_distance(a, c) > 5 * psd_distance(a, b)).all()
    w = psd_wasserstein(f, a, c)
    assert np.allclose(w, psd_wasserstein(f, c, a))
    assert np.allclose(psd_wasserstein(f, a, a), 0.0, atol=1e-9)
    assert np.all(np.abs(w - 10.0) < 1.5)     # the power moved from 5 Hz to 15 Hz


def test_psd_rejects_empty_and_mismatched():
    with pytest.raises(RealismError):
        welch_log_psd(np.zeros((0, 12, 1000)), FS)
    with pytest.raises(RealismError, match="differ"):
        psd_distance(np.zeros((12, 10)), np.zeros((12, 11)))


def test_wasserstein_1d_known_values():
    assert wasserstein_1d(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == pytest.approx(2.0)
    assert wasserstein_1d(np.array([1.0, np.nan]), np.array([1.0])) == pytest.approx(0.0)
    assert np.isnan(wasserstein_1d(np.array([np.nan]), np.array([1.0])))


def test_standardise_uses_the_reference_median_and_iqr():
    ref = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    other = np.array([[2.0], [np.nan]])
    z_ref, z_other = standardise(ref, other)
    assert np.median(z_ref) == pytest.approx(0.0)
    assert z_other[0, 0] == pytest.approx(0.0) and z_other[1, 0] == 0.0   # NaN -> median


def test_record_features_on_generated_ecgs_match_what_was_drawn():
    from data_access.synth.ecg import synthesize_ecg_with_info

    drawn, measured = [], []
    for i in range(8):
        x, info = synthesize_ecg_with_info({"NORM", "SR"}, np.random.default_rng([3, i]), fs=FS)
        feats = record_features(x, FS)
        assert abs(feats["hr_bpm"] - info["hr_bpm"]) < 5
        assert feats["r_1"] > 0.15 and feats["s_6"] > 0.15      # R in II, S in V1
        drawn.append(info["axis_deg"])
        measured.append(feats["axis_deg"])
    assert np.corrcoef(drawn, measured)[0, 1] > 0.7, (drawn, measured)
    assert np.median(np.abs(np.subtract(drawn, measured))) < 25
    lafb, _ = synthesize_ecg_with_info({"LAFB", "SR"}, np.random.default_rng(4), fs=FS)
    assert record_features(lafb, FS)["axis_deg"] < -30
    names, m = feature_matrix(np.stack([x, lafb]), FS)
    assert m.shape == (2, len(names)) and "qt_ms" in names
    assert mmd_features(names, m).shape == (2, len(names) + 1)   # axis as (cos, sin)


def test_record_features_of_a_flat_record_are_nan_not_an_error():
    feats = record_features(np.zeros((12, 1000)), FS)
    assert np.isnan(feats["hr_bpm"]) and np.isnan(feats["r_0"])
