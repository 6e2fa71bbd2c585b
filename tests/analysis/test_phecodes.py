"""Phecode mapping against hand-checked codes (PheWAS catalog 1.2 and PhecodeX), exclusions, sex rules."""
import numpy as np
import pandas as pd
import pytest

from analysis.phecodes import load_phecode_map, map_diagnoses, phenotype_matrix


@pytest.fixture(scope="module")
def p12():
    return load_phecode_map("1.2")


@pytest.fixture(scope="module")
def px():
    return load_phecode_map("X")


def _phecodes(pmap, code, version):
    d = pd.DataFrame({"hadm_id": [1], "icd_code": [code], "icd_version": [version]})
    return set(map_diagnoses(d, pmap)["phecode"])


@pytest.mark.parametrize("code,version,expected", [
    ("42731", 9, {"427.21", "427.2", "427"}),          # atrial fibrillation
    ("I4891", 10, {"427.21", "427.2", "427"}),
    ("4280", 9, {"428.1", "428"}),                      # CHF NOS
    ("I5022", 10, {"428.3", "428"}),                    # chronic systolic HF
    ("E039", 10, {"244.4", "244"}),                     # hypothyroidism NOS (ICD-10 E, dot after 3)
    ("2449", 9, {"244.4", "244"}),
    ("412", 9, {"411.2", "411"}),                       # old MI
    ("I252", 10, {"411.2", "411"}),
    ("N400", 10, {"600"}),                              # BPH (male only)
    ("E8500", 9, {"965.1"}),                            # ICD-9 E-code, dot after 4
    ("V5861", 9, {"286.2"}),
])
def test_phecode12_hand_checked(p12, code, version, expected):
    assert _phecodes(p12, code, version) == expected


def test_phecodex_hand_checked(px):
    assert _phecodes(px, "I480", 10) == {"CV_416", "CV_416.2", "CV_416.21", "CV_416.211"}
    assert _phecodes(px, "42731", 9) == {"CV_416", "CV_416.2", "CV_416.21"}
    assert _phecodes(px, "I252", 10) == {"CV_404", "CV_404.1"}


def test_unmapped_and_version_mismatch(p12):
    assert _phecodes(p12, "ZZZ99", 10) == set()
    assert _phecodes(p12, "42731", 10) == set()        # an ICD-9 code read as ICD-10 maps to nothing


def test_info_and_exclusions(p12, px):
    assert p12.info.loc["427.21", "description"] == "Atrial fibrillation"
    assert p12.info.loc["600", "sex"] == "Male" and p12.info.loc["427.21", "sex"] == "Both"
    assert "426.2" in p12.exclusions["427.21"] and "427.21" not in p12.exclusions["427.21"]
    assert set(px.exclusions["CV_416.21"]) >= {"CV_416", "CV_416.2", "CV_416.211"}
    assert "CV_416.22" not in px.exclusions["CV_416.21"]  # flutter is a sibling, not lineage


def test_phenotype_matrix_case_control_excluded(p12):
    units = pd.Index([1, 2, 3, 4], name="unit_id")
    up = pd.DataFrame({"unit_id": [1, 1, 1, 2, 4], "phecode": ["427.21", "427.2", "427", "426.2", "600"]})
    sex = pd.Series([1.0, 0.0, 1.0, 0.0], index=units)
    m = phenotype_matrix(up, units, sex, p12, phecodes=["427.21", "600", "428"])
    assert m.loc[1, "427.21"] == 1.0
    assert np.isnan(m.loc[2, "427.21"])               # 426.2 is in 427.21's exclusion list
    assert m.loc[3, "427.21"] == 0.0
    assert m.loc[3, "600"] == 0.0 and np.isnan(m.loc[2, "600"]) and np.isnan(m.loc[4, "600"])  # male-only
    assert (m["428"] == 0).all()                      # no codes anywhere: all controls
    default = phenotype_matrix(up, units, sex, p12)
    assert set(default.columns) == {"427.21", "427.2", "427", "426.2", "600"}


def test_bad_version_name():
    with pytest.raises(ValueError, match="1.2"):
        load_phecode_map("2.0")
