"""High-pass, resampling and the single-record path to the model input."""
import numpy as np
import pytest

from data_access.errors import RecordLengthError
from data_access.preprocess import highpass, prepare_signal, resample, to_model_input
from data_access.record import read_record


def _sine(freq, fs, seconds=10.0, phase=0.0):
    t = np.arange(int(seconds * fs)) / fs
    return np.sin(2 * np.pi * freq * t + phase)


def test_highpass_removes_baseline_wander_keeps_qrs_band_without_phase_shift():
    fs = 500
    ecg_band = _sine(10, fs)
    wander = 0.8 * _sine(0.1, fs, phase=0.3) + 0.5
    y = highpass((ecg_band + wander)[None], fs)[0]
    mid = slice(fs, -fs)                                          # away from the filter's edges
    assert y.dtype == np.float32
    assert np.abs(y[mid] - ecg_band[mid]).max() < 0.05
    # zero phase: cross-correlation with the clean 10 Hz wave peaks at lag 0
    lags = range(-10, 11)
    corr = [np.dot(np.roll(y, k)[mid], ecg_band[mid]) for k in lags]
    assert list(lags)[int(np.argmax(corr))] == 0


def test_resample_is_anti_aliased():
    fs_in, fs_out = 500, 100
    passband = resample(_sine(5, fs_in)[None], fs_in, fs_out)[0]
    assert passband.shape == (1000,)
    np.testing.assert_allclose(passband[50:-50], _sine(5, fs_out)[50:-50], atol=0.02)
    # 70 Hz is above the new Nyquist (50 Hz): naive decimation would alias it to 30 Hz at full amplitude
    aliased = _sine(70, fs_in)[::5]
    assert np.abs(aliased).max() > 0.5
    assert np.abs(resample(_sine(70, fs_in)[None], fs_in, fs_out)[0][50:-50]).max() < 0.05
    same = resample(_sine(5, 100)[None], 100, 100)
    assert same.shape == (1, 1000)


def test_to_model_input_on_a_500hz_cinc_record(cinc_fixture_dir):
    rec = read_record(cinc_fixture_dir / "E07500")
    x = to_model_input(rec)
    assert x.shape == (12, 1000) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    expected = highpass(resample(rec.signal, 500, 100), 100)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    centre = to_model_input(rec, n_samples=800, where="center")
    np.testing.assert_allclose(centre, expected[:, 100:900], atol=1e-6)


def test_to_model_input_matches_ptbxl_100hz_record(ptbxl_fixture_dir):
    hr = read_record(ptbxl_fixture_dir / "records500/00000/00032_hr")
    lr = read_record(ptbxl_fixture_dir / "records100/00000/00032_lr")
    a, b = to_model_input(hr), to_model_input(lr)
    assert np.corrcoef(a[:, 50:-50].ravel(), b[:, 50:-50].ravel())[0, 1] > 0.98


def test_prepare_signal_rejects_short_input():
    with pytest.raises(RecordLengthError, match=r"rec: record is 8\.00 s long; the model needs 10 s "
                                                r"\(1000 samples at 100 Hz\)"):
        prepare_signal(np.random.default_rng(0).normal(size=(12, 4000)), 500, record="rec")
