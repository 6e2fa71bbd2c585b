"""The synthetic MIMIC-IV generator: real layout read back by the real readers, planted truth, CLI."""
import numpy as np
import pandas as pd
import pytest

from data_access.mimic_ecg import load_mimic_ecg, read_machine_measurements, read_record_list
from data_access.mimic_hosp import read_hosp
from data_access.synth.mimic import PLANTED, MimicSynthConfig, study_path, synthesize_mimic


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth_mimic")
    res = synthesize_mimic(out, MimicSynthConfig(n_patients=30, seed=7), progress=False)
    return out, res


def test_layout_and_schemas(small):
    out, res = small
    for f in ("hosp/patients.csv.gz", "hosp/admissions.csv.gz", "hosp/diagnoses_icd.csv.gz",
              "ecg/record_list.csv", "ecg/machine_measurements.csv", "ecg/RECORDS", "ground_truth.csv"):
        assert (out / f).exists(), f
    h = read_hosp(out / "hosp")
    assert h.bad_rows == []                                    # generated data are clean
    assert len(h.patients) == 30 and res.n_admissions == len(h.admissions) and len(h.admissions) > 30
    assert h.admissions.groupby("subject_id").size().max() >= 2
    adm_cols = pd.read_csv(out / "hosp" / "admissions.csv.gz", nrows=1).columns
    assert {"admission_type", "admission_location", "discharge_location", "insurance", "language",
            "marital_status", "race", "edregtime", "edouttime", "hospital_expire_flag"} <= set(adm_cols)
    for col in ("admittime", "dischtime"):
        assert h.admissions[col].dt.year.between(2100, 2200).all()
    assert h.patients["anchor_age"].between(18, 91).all() and set(h.patients["gender"]) <= {"M", "F"}
    assert set(h.diagnoses["icd_version"]) == {9, 10} and not h.diagnoses["icd_code"].str.contains(r"\.").any()
    r = read_record_list(out / "ecg")
    assert len(r) == res.n_ecgs and r["ecg_time"].dt.year.between(2100, 2200).all()
    assert r["path"].iloc[0] == study_path(r["subject_id"].iloc[0], r["study_id"].iloc[0])
    mm = read_machine_measurements(out / "ecg")
    assert len(mm) == len(r) and mm["statements"].map(len).min() >= 1


def test_waveforms_read_back_and_show_labels(small):
    out, _ = small
    r = read_record_list(out / "ecg")
    labels = pd.read_csv(out / "ecg_labels.csv").set_index("study_id")["labels"]
    for sid in r["study_id"].head(6):
        rec = load_mimic_ecg(out / "ecg", study_id=sid)
        assert rec.signal.shape == (12, 5000) and rec.fs == 500.0 and np.isfinite(rec.signal).all()
        assert set(labels[sid].split()) <= {"SR", "AFIB", "CLBBB", "LVOLT", "IMI", "NORM"}
    hea = (out / "ecg" / (r["path"].iloc[0] + ".hea")).read_text().splitlines()
    assert [l.split()[-1] for l in hea[1:13]][3:6] == ["aVR", "aVF", "aVL"]   # MIMIC lead order on disk


def test_ground_truth(small):
    out, _ = small
    gt = pd.read_csv(out / "ground_truth.csv", dtype={"phecode": str})
    assert list(gt.columns[:4]) == ["signature", "phecode", "planted", "effect"]
    real = gt[gt.planted & (gt.phecode_version == "1.2")]
    assert set(zip(real.signature, real.phecode)) >= {("AFIB", "427.21"), ("CLBBB", "428"), ("LVOLT", "244"),
                                                      ("IMI", "411")}
    assert not gt.query("signature == 'AFIB' and phecode == '428'")["planted"].any()
    assert (gt[~gt.planted]["effect"] == 1.0).all() and len(gt[~gt.planted]) > 200 * len(PLANTED)
    assert gt.query("phecode == 'death' and planted")["signature"].tolist() == ["CLBBB"]


def test_deterministic_tables(tmp_path):
    cfg = MimicSynthConfig(n_patients=40, seed=11, write_waveforms=False)
    synthesize_mimic(tmp_path / "a", cfg, progress=False)
    synthesize_mimic(tmp_path / "b", cfg, progress=False)
    for f in ("hosp/diagnoses_icd.csv.gz", "hosp/admissions.csv.gz", "ecg/record_list.csv", "ground_truth.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / f), pd.read_csv(tmp_path / "b" / f))
    other = synthesize_mimic(tmp_path / "c", MimicSynthConfig(n_patients=40, seed=12, write_waveforms=False),
                             progress=False)
    assert not pd.read_csv(tmp_path / "a/ecg/record_list.csv").equals(pd.read_csv(tmp_path / "c/ecg/record_list.csv"))
    assert other.n_patients == 40


def test_cli_registered(tmp_path, capsys):
    from protoecg_cli import main

    assert main(["data", "synth-mimic", "--out", str(tmp_path / "m"), "--seed", "2", "--n-patients", "25",
                 "--no-waveforms", "--no-progress"]) == 0
    assert "25 patients" in capsys.readouterr().out
    assert len(read_hosp(tmp_path / "m" / "hosp").patients) == 25
