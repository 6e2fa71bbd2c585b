"""Measured intervals against ECGs with known intervals (the generator's truth) and real PTB-XL records."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from data_access.record import read_record
from data_access.synth.ecg import synthesize_ecg_with_info
from protoecg.intervals import measure_intervals

EXAMPLES = Path(__file__).resolve().parents[2] / "app" / "examples" / "ptbxl" / "records100" / "00000"


def _truth_and_measure(labels: set[str], n: int, seed: int, fs: float = 100):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        sig, info = synthesize_ecg_with_info(labels, rng, fs=fs)
        rows.append((info, measure_intervals(sig, fs)))
    return rows


def test_sinus_ecgs_match_the_generator_truth():
    rows = _truth_and_measure({"NORM"}, 8, seed=3)
    hr_err = [abs(m.hr_bpm - i["hr_bpm"]) for i, m in rows]
    qrs_err = [abs(m.qrs_ms - 1000 * i["qrs_s"]) for i, m in rows]
    pr_err = [abs(m.pr_ms - 1000 * i["pr_s"]) for i, m in rows if not math.isnan(m.pr_ms)]
    qt_true = [1000 * i["qtc_s"] * math.sqrt(60 / i["hr_bpm"]) for i, _ in rows]
    qt_err = [abs(m.qt_ms - t) for (_, m), t in zip(rows, qt_true) if not math.isnan(m.qt_ms)]
    assert max(hr_err) < 2.0
    assert np.median(qrs_err) < 12
    assert len(pr_err) >= 6 and np.median(pr_err) < 30
    assert len(qt_err) >= 6 and np.median(qt_err) < 30
    for _, m in rows:
        if not math.isnan(m.qt_ms):
            assert m.qtc_ms == pytest.approx(m.qt_ms / math.sqrt(60 / m.hr_bpm))


def test_wide_qrs_of_bundle_branch_block_is_measured_wide():
    normal = [m.qrs_ms for _, m in _truth_and_measure({"NORM"}, 3, seed=5)]
    lbbb = [m.qrs_ms for _, m in _truth_and_measure({"CLBBB"}, 3, seed=5)]
    assert max(normal) < 120 < min(lbbb)


@pytest.mark.parametrize("rec", ["00001_lr", "00008_lr"])
def test_real_ptbxl_records_are_plausible(rec):
    r = read_record(EXAMPLES / rec)
    m = measure_intervals(r.signal, r.fs)
    assert m.note == "" and m.lead == "II" and m.n_beats >= 8
    assert 40 < m.hr_bpm < 120 and 60 < m.qrs_ms < 120 and 100 < m.pr_ms < 250 and 300 < m.qt_ms < 480


def test_unmeasurable_input_gives_nan_with_a_reason():
    flat = measure_intervals(np.zeros((12, 1000), np.float32), 100)
    assert math.isnan(flat.hr_bpm) and "flat" in flat.note
    short = measure_intervals(np.ones((12, 150), np.float32), 100)
    assert math.isnan(short.qrs_ms) and "shorter" in short.note
    nan = np.full((12, 1000), np.nan, np.float32)
    assert "missing" in measure_intervals(nan, 100).note
    with pytest.raises(ValueError, match="expected"):
        measure_intervals(np.zeros((3, 1000)), 100)
