"""build_cohort / survival_table on the hand-written fixture and on the synthetic MIMIC-IV (planted truth)."""
import numpy as np
import pandas as pd
import pytest

from analysis.cohort import UNIT_COLUMNS, build_cohort, survival_table
from analysis.linkage import LinkageRule


@pytest.fixture(scope="module")
def mimic(fixtures_dir):
    return fixtures_dir / "mimic"


@pytest.fixture(scope="module")
def cohort(mimic):
    return build_cohort(mimic, min_cases=1, min_controls=1)


def test_units_and_covariates(cohort):
    u = cohort.units
    assert list(u.columns) == list(UNIT_COLUMNS) and u.index.name == "unit_id"
    assert list(u.index) == [40000002, 40000004, 40000006, 40000009, 40000011]
    assert u.loc[40000011, "age"] == 91                    # anchor_age 91 (capped) in 2140, ECG in 2140
    assert u.loc[40000002, "age"] == 60 and u.loc[40000009, "age"] == 71   # 70 + (2171 - 2170)
    assert u.loc[40000002, "sex"] == 1 and u.loc[40000006, "sex"] == 0
    assert "first_ecg_per_admission" in cohort.rule


def test_phenotypes_hand_checked(cohort):
    ph = cohort.phenotypes
    assert ph.index.equals(cohort.units.index)
    assert ph.loc[40000002, "427.21"] == 1 and ph.loc[40000004, "427.21"] == 1 and ph.loc[40000009, "427.21"] == 1
    assert ph.loc[40000006, "427.21"] == 0
    assert ph.loc[40000002, "428.1"] == 1 and ph.loc[40000006, "428.1"] == 1
    assert ph.loc[40000009, "411.2"] == 1 and ph.loc[40000011, "411.2"] == 1
    assert "600" not in ph.columns                        # only case is a woman: no case left
    assert set(cohort.dropped_phecodes["phecode"]) == {"600"}
    info = cohort.phecode_info.set_index("phecode")
    assert info.loc["427.21", "n_cases"] == 3 and info.loc["427.21", "description"] == "Atrial fibrillation"
    assert {"description", "category"} <= set(cohort.phecode_info.columns)
    reasons = " ".join(b["reason"] for b in cohort.bad_rows)
    assert "missing hadm_id" in reasons and "icd_version is not 9 or 10" in reasons


def test_min_counts_drop_and_list(mimic):
    c = build_cohort(mimic, min_cases=3, min_controls=1)
    assert set(c.phenotypes.columns) == {"427.21", "427.2", "427"}
    d = c.dropped_phecodes.set_index("phecode")
    assert d.loc["411.2", "reason"] == "fewer than 3 cases" and d.loc["411.2", "n_cases"] == 2


def test_survival_fixture(mimic, cohort):
    s = survival_table(mimic, cohort.units)
    assert s.loc[40000009, "event"] == 1                  # in-hospital death 2171-01-10 08:00
    assert s.loc[40000009, "time_days"] == pytest.approx((pd.Timestamp("2171-01-10 08:00")
                                                           - pd.Timestamp("2171-01-05 10:00")).total_seconds() / 86400)
    # dod 2163-05-01 lies beyond last discharge (2160-01-20 11:00) + 1 year: censored there
    assert s.loc[40000006, "event"] == 0
    assert s.loc[40000006, "time_days"] == pytest.approx((pd.Timestamp("2161-01-19 11:00")
                                                           - pd.Timestamp("2160-01-12 10:00")).total_seconds() / 86400)
    assert (s["time_days"] > 0).all() and set(s["event"]) <= {0, 1}


def test_planted_associations_recovered(tmp_path):
    """The synthetic MIMIC-IV (tables only) → cohort → logistic fits on the *true* ECG labels: planted pairs
    are found, unrelated pairs are not; LBBB raises the death hazard."""
    import statsmodels.api as sm
    from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic

    synthesize_mimic(tmp_path, MimicSynthConfig(n_patients=1500, seed=3, write_waveforms=False), progress=False)
    c = build_cohort(tmp_path, LinkageRule())
    assert c.linkage_stats["n_unlinked"] > 0 and c.units["age"].between(18, 100).all()
    lab = pd.read_csv(tmp_path / "ecg_labels.csv").set_index("study_id")["labels"].reindex(c.units.index)
    gt = pd.read_csv(tmp_path / "ground_truth.csv", dtype={"phecode": str})

    def fit(sig, ph):
        y = c.phenotypes[ph]
        m = y.notna()
        x = pd.DataFrame({"x": lab.str.contains(sig).astype(float), "age": c.units["age"],
                          "sex": c.units["sex"]})[m]
        x = x.loc[:, x.nunique() > 1]                      # sex-restricted phecodes: sex is constant
        r = sm.Logit(y[m], sm.add_constant(x)).fit(disp=0)
        return np.exp(r.params["x"]), r.pvalues["x"]

    for sig, ph in [("AFIB", "427.2"), ("CLBBB", "428"), ("LVOLT", "244"), ("IMI", "411")]:
        assert bool(gt.query("signature == @sig and phecode == @ph")["planted"].iloc[0])
        orr, p = fit(sig, ph)
        assert orr > 2 and p < 1e-5, (sig, ph, orr, p)
    nulls = gt[(gt.phecode_version == "1.2") & ~gt.planted & gt.phecode.isin(c.phenotypes.columns)]
    sample = nulls[nulls.signature == "AFIB"].head(25)
    ps = [fit("AFIB", ph)[1] for ph in sample.phecode]
    assert np.mean(np.array(ps) < 0.01) <= 0.12
    from lifelines import CoxPHFitter
    s = survival_table(tmp_path, c.units).join(c.units[["age", "sex"]])
    s["lbbb"] = lab.str.contains("CLBBB").astype(float)
    hr = CoxPHFitter().fit(s.drop(columns="subject_id"), "time_days", "event").hazard_ratios_["lbbb"]
    assert 1.5 < hr < 4.5


def test_unknown_sex_and_missing_patient_units_dropped_and_reported(tmp_path, mimic):
    import shutil
    shutil.copytree(mimic, tmp_path / "m")
    ecg = tmp_path / "m" / "ecg" / "record_list.csv"
    adm = tmp_path / "m" / "hosp" / "admissions.csv.gz"
    text = ecg.read_text() + "10000006,40000020,40000020,2150-08-01 10:00:00,files/p1000/p10000006/s40000020/40000020\n" \
        + "10000077,40000021,40000021,2150-08-01 10:00:00,files/p1000/p10000077/s40000021/40000021\n"
    ecg.write_text(text)
    import gzip
    with gzip.open(adm, "rt") as f:
        rows = f.read()
    rows += ("10000006,20000020,2150-08-01 08:00:00,2150-08-03 08:00:00,,EW EMER.,P6,EMERGENCY ROOM,HOME,Other,"
             "ENGLISH,,OTHER,,,0\n10000077,20000021,2150-08-01 08:00:00,2150-08-03 08:00:00,,EW EMER.,P6,"
             "EMERGENCY ROOM,HOME,Other,ENGLISH,,OTHER,,,0\n")
    with gzip.open(adm, "wt") as f:
        f.write(rows)
    c = build_cohort(tmp_path / "m", min_cases=1, min_controls=1)
    assert 40000020 not in c.units.index and 40000021 not in c.units.index
    assert c.linkage_stats["n_units"] == 7
    reasons = " ".join(b["reason"] for b in c.bad_rows)
    assert "unknown sex" in reasons and "no patients row" in reasons
