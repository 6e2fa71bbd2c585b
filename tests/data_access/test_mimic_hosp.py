"""MIMIC-IV hosp reader (DuckDB on real .csv.gz) on a hand-written fixture with deliberately bad rows."""
import gzip
import shutil

import pandas as pd
import pytest

from data_access.errors import MetadataError
from data_access.mimic_hosp import read_admissions, read_diagnoses, read_hosp, read_patients


@pytest.fixture(scope="module")
def hosp(fixtures_dir):
    return read_hosp(fixtures_dir / "mimic" / "hosp")


def _reasons(bad, table):
    return {(b["subject_id"], b["hadm_id"], b["reason"], b["action"]) for b in bad if b["table"] == table}


def test_patients_typed_and_bad_rows_reported(hosp):
    p = hosp.patients.set_index("subject_id")
    assert list(p.index) == [10000001, 10000002, 10000003, 10000004, 10000006, 10000008]
    assert p.loc[10000003, "anchor_age"] == 91 and p.loc[10000001, "sex"] == 1.0 and p.loc[10000002, "sex"] == 0.0
    assert pd.isna(p.loc[10000006, "sex"])                  # gender 'X' kept, sex unknown
    assert p.loc[10000002, "dod"] == pd.Timestamp("2163-05-01") and pd.isna(p.loc[10000008, "dod"])
    r = _reasons(hosp.bad_rows, "patients")
    assert (None, None, "missing subject_id", "dropped") in r
    assert ("10000007", None, "unparseable anchor_age 'abc'", "dropped") in r
    assert ("10000006", None, "gender is not M or F", "kept") in r
    assert ("10000008", None, "unparseable dod '2150-13-40'", "kept") in r


def test_admissions_bad_rows_and_missing_dischtime(hosp):
    a = hosp.admissions.set_index("hadm_id")
    assert set(a.index) == {20000001, 20000002, 20000003, 20000004, 20000005, 20000006}
    assert pd.isna(a.loc[20000004, "dischtime"])             # kept: linkage decides what to do with it
    assert a.loc[20000006, "deathtime"] == pd.Timestamp("2171-01-10 08:00") and a.loc[20000006, "hospital_expire_flag"] == 1
    assert a.loc[20000001, "race"] == "WHITE" and a.loc[20000001, "edregtime"] == "2150-03-01 07:00:00"
    r = _reasons(hosp.bad_rows, "admissions")
    assert ("10000006", None, "missing hadm_id", "dropped") in r
    assert ("10000006", "20000008", "unparseable admittime 'not a date'", "dropped") in r
    assert ("10000006", "20000009", "dischtime before admittime", "dropped") in r
    assert ("10000002", "20000004", "missing dischtime", "kept") in r
    malformed = [b for b in hosp.bad_rows if b["table"] == "admissions" and b["reason"].startswith("malformed line")]
    assert len(malformed) == 1 and "line 11" in malformed[0]["reason"]


def test_diagnoses_bad_rows(hosp):
    d = hosp.diagnoses
    assert len(d) == 11 and set(d["icd_version"]) == {9, 10}
    assert 29999999 not in set(d["hadm_id"])                # orphan admission dropped
    r = {b["reason"] for b in hosp.bad_rows if b["table"] == "diagnoses_icd"}
    assert {"icd_version is not 9 or 10", "missing icd_code"} <= r
    assert any("absent from admissions" in x for x in r)


def test_plain_csv_and_missing_column(tmp_path, fixtures_dir):
    with gzip.open(fixtures_dir / "mimic" / "hosp" / "patients.csv.gz", "rt") as f:
        text = f.read()
    (tmp_path / "patients.csv").write_text(text)
    p, _ = read_patients(tmp_path)
    assert len(p) == 6
    (tmp_path / "admissions.csv").write_text("subject_id,hadm_id,admittime\n1,2,2150-01-01 00:00:00\n")
    with pytest.raises(MetadataError, match="lacks column.*dischtime"):
        read_admissions(tmp_path)
    with pytest.raises(MetadataError, match="diagnoses_icd.csv.gz not found"):
        read_diagnoses(tmp_path)


def test_large_table_no_row_loop(tmp_path):
    """200k diagnosis rows with 1 % bad versions: read in well under the test budget, all bad ones listed."""
    import numpy as np
    n = 200_000
    rng = np.random.default_rng(0)
    v = np.where(rng.random(n) < 0.01, 8, 10)
    df = pd.DataFrame({"subject_id": rng.integers(1, 1000, n), "hadm_id": rng.integers(1, 5000, n),
                       "seq_num": 1, "icd_code": "I4891", "icd_version": v})
    df.to_csv(tmp_path / "diagnoses_icd.csv.gz", index=False)
    d, bad = read_diagnoses(tmp_path)
    assert len(d) == int((v == 10).sum()) and len(bad) == int((v == 8).sum())
    assert bad[0]["row"] == int(np.flatnonzero(v == 8)[0]) + 1
