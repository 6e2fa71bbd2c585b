"""Signatures of the codes added for realism (SARRH, AFLT, IRBBB, NDT) and of the redrawn ASMI / LVH,
measured on generated records with NeuroKit2's R peaks and fixed windows, never with generator internals."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from data_access.synth.ecg import synthesize_ecg, synthesize_ecg_with_info

nk = pytest.importorskip("neurokit2")

FS = 500
I, II, III, AVF, V1, V2, V3, V5, V6 = 0, 1, 2, 5, 6, 7, 8, 10, 11


def _ecgs(labels: set[str], n: int = 6, seed: int = 0) -> list[np.ndarray]:
    return [synthesize_ecg(labels, np.random.default_rng([seed, i]), fs=FS) for i in range(n)]


def _rpeaks(lead: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.ecg_clean(lead, sampling_rate=FS)
        _, info = nk.ecg_peaks(clean, sampling_rate=FS)
    return np.asarray(info["ECG_R_Peaks"])


def _waves(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per lead, medians over beats (R peaks of lead II): R = max and S = -min of R-80..R+80 ms, T = signed
    extreme of R+200..R+420 ms, all relative to the PR segment (R-90..R-60 ms, after the P wave) of the raw signal (the
    0.5 Hz high-pass of ``nk.ecg_clean`` leaves an undershoot after the QRS that would read as a T wave)."""
    clean = x
    rp = _rpeaks(x[II])
    rp = rp[(rp > 0.3 * FS) & (rp < x.shape[1] - 0.5 * FS)]
    w = lambda a, b: rp[:, None] + np.arange(int(a * FS), int(b * FS))[None]  # noqa: E731
    base = np.median(clean[:, w(-0.09, -0.06)], axis=2)
    qrs = clean[:, w(-0.08, 0.08)] - base[..., None]
    seg = clean[:, w(0.2, 0.42)] - base[..., None]
    t = np.take_along_axis(seg, np.abs(seg).argmax(axis=2)[..., None], axis=2)[..., 0]
    return {"r": np.median(qrs.max(2), 1), "s": np.median(-qrs.min(2), 1), "t": np.median(t, 1)}


def _rr_cv(x: np.ndarray) -> float:
    rr = np.diff(_rpeaks(x[II])) / FS
    return float(np.std(rr) / np.mean(rr))


def test_sinus_arrhythmia_varies_more_than_sinus_rhythm_and_less_than_af():
    sarrh = [_rr_cv(x) for x in _ecgs({"SARRH"})]
    sr = [_rr_cv(x) for x in _ecgs({"SR"})]
    af = [_rr_cv(x) for x in _ecgs({"AFIB"})]
    assert np.median(sarrh) > 2.5 * np.median(sr), (sarrh, sr)
    assert np.median(sarrh) > 0.04 and np.median(sarrh) < np.median(af), (sarrh, af)


def test_atrial_flutter_rr_are_whole_flutter_cycles_and_f_waves_show_at_the_flutter_rate():
    for i in range(4):
        x, info = synthesize_ecg_with_info({"AFLT"}, np.random.default_rng([2, i]), fs=FS)
        assert info["pr_s"] is None
        rr = np.diff(_rpeaks(x[II])) / FS
        cycle = 60.0 / info["hr_bpm"]             # mean RR; each RR is 2, 3 or 4 flutter cycles
        assert 40 < info["hr_bpm"] < 170
        # the spectrum of lead II between beats: a peak at the flutter rate (4-5.5 Hz)
        seg = x[II] - np.convolve(x[II], np.ones(25) / 25, mode="same")
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        f = np.fft.rfftfreq(len(seg), 1 / FS)
        band = (f > 3.5) & (f < 6.0)
        ref = (f > 6.5) & (f < 9.0)
        assert spec[band].max() > 2 * np.median(spec[ref]), i
        assert rr.min() > 0.3 and cycle > 0.3


def test_incomplete_rbbb_has_an_r_prime_in_v1_and_a_narrow_qrs():
    irbbb = [synthesize_ecg_with_info({"IRBBB"}, np.random.default_rng([4, i]), fs=FS) for i in range(6)]
    norm = [synthesize_ecg_with_info({"NORM"}, np.random.default_rng([4, i]), fs=FS) for i in range(6)]
    r_v1 = np.median([_waves(x)["r"][V1] for x, _ in irbbb])
    r_v1_norm = np.median([_waves(x)["r"][V1] for x, _ in norm])
    assert r_v1 > 1.5 * r_v1_norm, (r_v1, r_v1_norm)
    assert max(info["qrs_s"] for _, info in irbbb) < 0.12


def test_non_diagnostic_t_is_low_but_not_inverted():
    ndt = np.array([_waves(x)["t"] for x in _ecgs({"NDT"}, seed=5)])[:, [II, V5, V6]]
    norm = np.array([_waves(x)["t"] for x in _ecgs({"NORM"}, seed=5)])[:, [II, V5, V6]]
    assert (np.median(ndt, axis=0) < 0.6 * np.median(norm, axis=0)).all(), (ndt, norm)
    assert (np.median(ndt, axis=0) > -0.1).all(), ndt


def test_asmi_has_poor_r_progression_and_lvh_deep_s_without_giant_anterior_r():
    asmi = np.array([_waves(x)["r"] for x in _ecgs({"ASMI"}, seed=6)])
    norm = [_waves(x) for x in _ecgs({"NORM"}, seed=6)]
    norm_r = np.array([w["r"] for w in norm])
    assert (np.median(asmi[:, [V2, V3]], axis=0) < 0.5 * np.median(norm_r[:, [V2, V3]], axis=0)).all()
    lvh = [_waves(x) for x in _ecgs({"LVH"}, seed=6)]
    s_v1 = np.median([w["s"][V1] for w in lvh])
    r_v56 = np.median([max(w["r"][V5], w["r"][V6]) for w in lvh])
    assert s_v1 + r_v56 > 3.0, (s_v1, r_v56)                       # Sokolow-Lyon voltage
    # real PTB-XL LVH keeps small R in V2 (median ~0.2 mV); the hypertrophy shows in V1 S and V5/V6 R
    assert np.median([w["r"][V2] for w in lvh]) < 1.0
