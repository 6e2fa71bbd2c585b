"""ECG–admission linkage edge cases on the MIMIC-shaped fixture (tests/fixtures/mimic)."""
import pandas as pd
import pytest

from analysis.linkage import LinkageRule, link_ecgs
from data_access.mimic_ecg import read_record_list
from data_access.mimic_hosp import read_admissions


@pytest.fixture(scope="module")
def tables(fixtures_dir):
    adm, _ = read_admissions(fixtures_dir / "mimic" / "hosp")
    return read_record_list(fixtures_dir / "mimic" / "ecg"), adm


def _assign(tables, **kw):
    res = link_ecgs(*tables, LinkageRule(unit="all_ecgs", **kw))
    return dict(zip(res.units.index, res.units["hadm_id"])), res


def test_every_edge_case(tables):
    a, res = _assign(tables)
    assert 40000001 not in a                  # 9 days before admission: outside the 7-day window
    assert a[40000002] == 20000001            # 4 days before admission: inside
    assert a[40000003] == 20000001            # during stay 1, also in stay 2's look-back: the stay wins
    assert a[40000004] == 20000002            # between the stays: only stay 2's look-back
    assert a[40000005] == 20000002
    assert a[40000006] == 20000003
    assert 40000007 not in a                  # the admission has no dischtime and no deathtime
    assert a[40000011] == 20000005            # exactly admittime - 7 days: boundary included
    assert a[40000012] == 20000006            # exactly at dischtime (= deathtime): included
    assert 40000010 not in a                  # subject without admissions
    assert res.stats["n_ecgs"] == 12 and res.stats["n_linked"] == 9 and res.stats["n_unlinked"] == 3
    assert res.stats["n_overlap_resolved"] == 1 and res.stats["n_admissions_unbounded"] == 1


def test_first_ecg_per_admission_is_default(tables):
    res = link_ecgs(*tables)
    u = res.units
    assert u.index.name == "unit_id" and u["hadm_id"].is_unique
    assert dict(zip(u["hadm_id"], u.index)) == {20000001: 40000002, 20000002: 40000004, 20000003: 40000006,
                                                 20000005: 40000011, 20000006: 40000009}
    assert (u.index == u["study_id"]).all()
    assert u.loc[40000002, "ecg_path"] == "files/p1000/p10000001/s40000002/40000002"
    assert "unit = first_ecg_per_admission" in res.rule and "7 days" in res.rule


def test_last_ecg_and_narrow_window(tables):
    last = link_ecgs(*tables, LinkageRule(unit="last_ecg_per_admission")).units
    assert last.set_index("hadm_id").loc[20000001, "study_id"] == 40000003
    a, _ = _assign(tables, days_before_admit=0)
    assert 40000002 not in a and 40000011 not in a and 40000004 not in a and a[40000003] == 20000001


def test_missing_dischtime_uses_deathtime(tables):
    recs, adm = tables
    adm = adm.copy()
    adm.loc[adm.hadm_id == 20000004, "deathtime"] = pd.Timestamp("2160-06-03 00:00")
    res = link_ecgs(recs, adm, LinkageRule(unit="all_ecgs"))
    assert res.units.loc[40000007, "hadm_id"] == 20000004


def test_rule_validation_and_description():
    with pytest.raises(ValueError, match="unit must be"):
        LinkageRule(unit="per_patient")
    with pytest.raises(ValueError):
        LinkageRule(days_before_admit=-1)
    assert "admittime - 3 days" in LinkageRule(days_before_admit=3).describe()


def test_first_ecg_per_patient_keeps_one_independent_unit_per_patient(tables):
    per_adm = link_ecgs(*tables).units
    per_pt = link_ecgs(*tables, LinkageRule(unit="first_ecg_per_patient"))
    u = per_pt.units
    assert u["subject_id"].is_unique and set(u["subject_id"]) == set(per_adm["subject_id"])
    assert len(u) < len(per_adm)                       # the fixture has a patient with several admissions
    first = per_adm.sort_values("ecg_time").drop_duplicates("subject_id")
    assert sorted(u.index) == sorted(first.index)
    assert "unit = first_ecg_per_patient" in per_pt.rule


def test_cli_unit_choices_are_the_linkage_units():
    import argparse

    from analysis.linkage import UNITS
    from protoecg_cli.phewas_cmd import _common

    p = argparse.ArgumentParser()
    _common(p)
    action = next(a for a in p._actions if a.dest == "unit")
    assert set(action.choices) == set(UNITS) and action.default == LinkageRule().unit
