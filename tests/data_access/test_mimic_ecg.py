"""MIMIC-IV-ECG reader on a MIMIC-shaped directory whose waveforms are real PTB-XL signals written by wfdb."""
import shutil

import numpy as np
import pytest

from data_access.errors import MetadataError, RecordReadError, SignalQualityError
from data_access.leads import CANONICAL_LEADS
from data_access.mimic_ecg import (load_mimic_ecg, read_machine_measurements, read_record_list, record_path,
                                   statements_long, to_model_input)
from data_access.preprocess import highpass, resample
from tests.data_access.wfdb_factory import PTBXL_LEADS, real_signal, write_record

MIMIC_LEADS = ["I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6"]


@pytest.fixture()
def ecg_dir(tmp_path, fixtures_dir):
    root = tmp_path / "ecg"
    shutil.copytree(fixtures_dir / "mimic" / "ecg", root)
    sig = real_signal(fixtures_dir, fs=500)                       # (5000, 12), PTB-XL lead order
    mimic = sig[:, [PTBXL_LEADS.index(l.upper()) for l in MIMIC_LEADS]]
    recs = read_record_list(root)
    for sid, rel in zip(recs["study_id"], recs["path"]):
        x = mimic.copy()
        if sid == 40000009:
            x[1000:1100, 3] = np.nan                               # a NaN run in aVR
        if sid != 40000010:                                        # 40000010: the file is missing
            write_record((root / rel).parent, str(sid), x, 500, MIMIC_LEADS, adc_gain=200.0)
    return root, sig


def test_record_list_parsed(ecg_dir):
    root, _ = ecg_dir
    r = read_record_list(root)
    assert len(r) == 12 and r["study_id"].is_unique
    assert str(r["ecg_time"].dtype).startswith("datetime64")
    assert r["ecg_time"].dt.year.between(2100, 2200).all()
    assert record_path(root, 40000002, r).name == "40000002"
    with pytest.raises(MetadataError, match="not in record_list"):
        record_path(root, 123, r)


def test_missing_record_list_is_typed(tmp_path):
    with pytest.raises(MetadataError, match="record_list.csv not found"):
        read_record_list(tmp_path)


def test_machine_statements_tidy(ecg_dir):
    root, _ = ecg_dir
    mm = read_machine_measurements(root).set_index("study_id")
    assert mm.loc[40000002, "statements"] == ("Atrial fibrillation", "Abnormal ECG")   # whitespace stripped
    assert mm.loc[40000003, "statements"] == ("Sinus rhythm", "Left bundle branch block")
    assert mm.loc[40000008, "statements"] == ()
    assert not any(c.startswith("report_") for c in mm.columns)
    assert mm.loc[40000003, "qrs_axis"] == -30
    long = statements_long(mm.reset_index())
    assert long[long.study_id == 40000003]["statement"].tolist() == ["Sinus rhythm", "Left bundle branch block"]
    assert long[long.study_id == 40000003]["position"].tolist() == [0, 1]


def test_load_reorders_mimic_leads_to_canonical(ecg_dir):
    root, sig = ecg_dir
    rec = load_mimic_ecg(root, study_id=40000002)
    assert rec.signal.shape == (12, 5000) and rec.fs == 500.0 and rec.signal.dtype == np.float32
    for i, lead in enumerate(CANONICAL_LEADS):       # aVL/aVF swapped on disk, canonical in memory
        np.testing.assert_allclose(rec.signal[i], sig[:, PTBXL_LEADS.index(lead.upper())], atol=0.006)
    by_path = load_mimic_ecg(root, path="files/p1000/p10000001/s40000002/40000002")
    np.testing.assert_array_equal(by_path.signal, rec.signal)


def test_nan_record_rejected_with_reason(ecg_dir):
    root, _ = ecg_dir
    with pytest.raises(SignalQualityError, match="NaN samples in lead.*aVR"):
        load_mimic_ecg(root, study_id=40000009)


def test_missing_waveform_is_typed(ecg_dir):
    root, _ = ecg_dir
    with pytest.raises(RecordReadError, match="not found"):
        load_mimic_ecg(root, study_id=40000010)


def test_model_input_matches_training_preprocessing(ecg_dir):
    root, _ = ecg_dir
    rec = load_mimic_ecg(root, study_id=40000003)
    x = to_model_input(rec)
    assert x.shape == (12, 1000) and x.dtype == np.float32 and np.isfinite(x).all()
    expected = highpass(resample(rec.signal, 500, 100), 100)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    assert abs(float(np.median(x))) < 0.05                     # baseline removed by the high-pass
    np.testing.assert_allclose(to_model_input(rec.signal, fs=500), x)
    from data_access.errors import RecordLengthError
    with pytest.raises(RecordLengthError):
        to_model_input(rec.signal[:, :2500], fs=500)
