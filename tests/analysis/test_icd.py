"""ICD dotting: MIMIC-IV stores codes without the dot; hand-checked against the phecode maps' spelling."""
import pandas as pd
import pytest

from analysis.icd import ICDCodeError, dot_icd, dot_icd_series, is_valid_icd

CASES = [
    ("42731", 9, "427.31"), ("4280", 9, "428.0"), ("412", 9, "412"), ("V5861", 9, "V58.61"),
    ("E8497", 9, "E849.7"), ("E849", 9, "E849"), ("E8500", 9, "E850.0"), ("0010", 9, "001.0"),
    ("I4891", 10, "I48.91"), ("I10", 10, "I10"), ("E039", 10, "E03.9"), ("S72001A", 10, "S72.001A"),
    (" i48.91 ", 10, "I48.91"),
]


@pytest.mark.parametrize("code,version,expected", CASES)
def test_dot_icd_hand_checked(code, version, expected):
    assert dot_icd(code, version) == expected


def test_series_matches_scalar():
    codes = pd.Series([c for c, _, _ in CASES])
    versions = pd.Series([v for _, v, _ in CASES])
    assert dot_icd_series(codes, versions).tolist() == [e for _, _, e in CASES]


def test_icd10_e_codes_are_not_icd9_e_codes():
    # E03.9 (ICD-10 hypothyroidism) must not be dotted like ICD-9 E-code E039.x
    assert dot_icd("E039", 10) == "E03.9"
    assert dot_icd("E0390", 9) == "E039.0"


def test_bad_version_and_empty_code_raise():
    with pytest.raises(ICDCodeError, match="9 or 10"):
        dot_icd("42731", 11)
    with pytest.raises(ICDCodeError):
        dot_icd("  ", 9)
    with pytest.raises(ICDCodeError, match="other than 9 or 10"):
        dot_icd_series(pd.Series(["42731"]), pd.Series([11]))


def test_validity_shapes():
    assert is_valid_icd("42731", 9) and is_valid_icd("V5861", 9) and is_valid_icd("E8497", 9)
    assert is_valid_icd("I4891", 10) and not is_valid_icd("I4891", 9)
    assert not is_valid_icd("42731", 10) and not is_valid_icd("427", 11)
