"""A synthetic MIMIC-IV (hosp tables + MIMIC-IV-ECG records) with *planted* ECG → diagnosis associations.

Everything is generated; nothing comes from real patients. The directory it writes has the real
layouts and column names, so the real readers (:mod:`data_access.mimic_hosp`, :mod:`data_access.mimic_ecg`)
and the whole analysis run on it unchanged::

    OUT/hosp/patients.csv.gz, admissions.csv.gz, diagnoses_icd.csv.gz
    OUT/ecg/record_list.csv, machine_measurements.csv, RECORDS, files/pNNNN/pSUBJECT/sSTUDY/STUDY.hea|.dat
    OUT/ground_truth.csv      signature, phecode, planted, effect, phecode_version, effect_kind
    OUT/ecg_labels.csv        study_id, labels (the PTB-XL codes the waveform was synthesised with)

How the truth is planted: every patient carries ECG traits (AF, LBBB, low voltage, old inferior MI)
drawn independently of each other; each ECG shows the patient's traits (paroxysmal AF shows on 85 % of
tracings) and is synthesised from those PTB-XL labels. An admission whose ECGs show a signature gets
the matching ICD code with the planted odds ratio; every other diagnosis (``n_null_conditions`` of
them, ICD-9 or ICD-10 by admission) is drawn independently of the ECGs. Death hazard is raised by the
LBBB trait (``ground_truth.csv`` row with ``phecode = death``).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MIMIC_LEAD_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
_CANON_TO_MIMIC = [0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11]   # canonical rows in MIMIC order


@dataclass(frozen=True)
class PlantedEffect:
    """A patient trait shown on the ECG as ``signature`` and raising the odds of ``icd9``/``icd10`` codes."""

    signature: str
    prevalence: float            # of the trait among patients (at age 60; AF rises with age)
    icd9: tuple[str, ...]
    icd10: tuple[str, ...]
    base_rate: float             # P(code | admission without the signature on its ECG)
    odds_ratio: float


# Effect sizes are set for power, not realism alone: with the default 1,000 patients (~1,500 admissions)
# every planted pair must be detectable by an ideal feature at a PheWAS-wide threshold (p ~ 1e-4 after
# ~10^5 tests), otherwise the demo measures luck. LBBB -> heart failure codes systolic failure (428.3) as
# often as unspecified failure (428.1) in both ICD versions: with ICD-10 I50.22 as its only source,
# 428.3 had ~23 cases and an expected z of ~3 even for a perfect LBBB feature. Low voltage -> hypothyroidism
# at OR 4 had an expected z of ~5 for the label itself and ~4.5 for a 90%-sensitive machine statement
# (power ~75% at 1e-4); OR 6 gives ~7 (power > 99%).
PLANTED: tuple[PlantedEffect, ...] = (
    PlantedEffect("AFIB", 0.12, ("42731",), ("I4891", "I480", "I482"), 0.04, 10.0),
    PlantedEffect("CLBBB", 0.08, ("4280", "42822"), ("I509", "I5022"), 0.06, 6.0),
    PlantedEffect("LVOLT", 0.08, ("2449",), ("E039",), 0.05, 6.0),
    PlantedEffect("IMI", 0.09, ("412",), ("I252",), 0.05, 5.0),
)
SURVIVAL_SIGNATURE, SURVIVAL_HR = "CLBBB", 2.5

_STATEMENTS = {
    "SR": "Sinus rhythm", "AFIB": "Atrial fibrillation", "CLBBB": "Left bundle branch block",
    "LVOLT": "Low QRS voltages in limb leads", "IMI": "Inferior infarct - age undetermined",
    "NORM": "Normal ECG",
}


@dataclass(frozen=True)
class MimicSynthConfig:
    """Sizes and rates of the synthetic MIMIC-IV (defaults: 1,000 patients, ~1,550 admissions, ~2,200 ECGs)."""

    n_patients: int = 1000
    seed: int = 0
    p_icd9: float = 0.35                 # share of admissions coded in ICD-9 (the rest ICD-10)
    n_null_conditions: int = 240          # diagnoses unrelated to the ECG
    null_rate_range: tuple[float, float] = (0.006, 0.08)
    p_outpatient_ecg: float = 0.15        # patients with an ECG outside any admission window
    chronic_null_frac: float = 0.0        # share of null diagnoses that are chronic (a patient-level
    #                                       condition coded in most of that patient's admissions), so
    #                                       admissions of one patient are not independent units
    write_waveforms: bool = True
    workers: int = 1                      # processes synthesising waveforms


def _null_conditions(cfg: MimicSynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Pick null conditions: one phecode-1.2 leaf each, with an ICD-9 and an ICD-10 code, away from the
    circulatory and thyroid families (so they cannot dilute or mimic the planted phecodes)."""
    from ..phecode_tables import read_phecode_table

    m = read_phecode_table("1.2")
    m = m[(m["phecode"] == m["phecode_unrolled"]) & (m["phecode_category"] != "circulatory system")
          & ~m["phecode"].str.startswith(("24", "427", "428", "411"))
          & ~m["ICD"].str.contains("-") & (m["ICD"].str.len() >= 3)]
    both = m.groupby("phecode")["flag"].nunique()
    leaves = np.array(sorted(both[both == 2].index))
    pick = rng.choice(leaves, size=min(cfg.n_null_conditions, len(leaves)), replace=False)
    rows, groups = [], m.groupby("phecode")
    for p in pick:
        sub = groups.get_group(p)
        c9 = sub[sub["flag"] == "9"]["ICD"].to_numpy()
        c10 = sub[sub["flag"] == "10"]["ICD"].to_numpy()
        rows.append({"phecode": p, "sex": sub["sex"].iloc[0],
                     "icd9": rng.choice(c9).replace(".", ""), "icd10": rng.choice(c10).replace(".", "")})
    out = pd.DataFrame(rows)
    lo, hi = cfg.null_rate_range
    out["rate"] = np.exp(rng.uniform(np.log(lo), np.log(hi), len(out)))
    return out


def _patients(cfg: MimicSynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.n_patients
    sid = np.sort(rng.choice(np.arange(10_000_000, 20_000_000), n, replace=False))
    age = np.clip(rng.normal(62, 17, n), 18, 91).round().astype(int)
    p = pd.DataFrame({"subject_id": sid, "gender": np.where(rng.random(n) < 0.52, "M", "F"),
                      "anchor_age": age, "anchor_year": rng.integers(2110, 2190, n)})
    p["anchor_year_group"] = rng.choice(["2008 - 2010", "2011 - 2013", "2014 - 2016", "2017 - 2019"], n)
    for e in PLANTED:
        prev = e.prevalence * (np.exp((age - 60) / 25) if e.signature == "AFIB" else 1.0)
        p[f"trait_{e.signature}"] = rng.random(n) < np.clip(prev, 0, 0.6)
    return p


def _admissions_and_ecgs(cfg: MimicSynthConfig, pts: pd.DataFrame, rng: np.random.Generator
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    adm, ecg = [], []
    day = pd.Timedelta(days=1)
    for r in pts.itertuples(index=False):
        t = pd.Timestamp(year=int(r.anchor_year), month=1, day=1) + rng.uniform(0, 3 * 365) * day
        if rng.random() < cfg.p_outpatient_ecg:    # outpatient ECG, far from any admission window
            ecg.append((r.subject_id, None, t - rng.uniform(30, 300) * day))
        for _ in range(1 + rng.poisson(0.6)):
            los = (0.5 + rng.lognormal(1.2, 0.6)) * day
            adm.append((r.subject_id, t, t + los))
            for k in range(1 + rng.poisson(0.3)):
                if k == 0:   # the admission ECG: in the ED or up to a week before, or early in the stay
                    off = -rng.uniform(0, 6.5) if rng.random() < 0.25 else rng.uniform(-0.3, 0.3)
                    et = t + off * day
                else:
                    et = t + rng.uniform(0, 1) * los
                ecg.append((r.subject_id, len(adm) - 1, et))
            t = t + los + (1 + rng.exponential(180)) * day
    a = pd.DataFrame(adm, columns=["subject_id", "admittime", "dischtime"])
    a["hadm_id"] = rng.choice(np.arange(20_000_000, 30_000_000), len(a), replace=False)
    e = pd.DataFrame(ecg, columns=["subject_id", "adm_idx", "ecg_time"])
    e["study_id"] = rng.choice(np.arange(40_000_000, 50_000_000), len(e), replace=False)
    e["hadm_id"] = a["hadm_id"].reindex(e["adm_idx"]).to_numpy()
    for col in ("admittime", "dischtime"):
        a[col] = a[col].dt.floor("min")
    e["ecg_time"] = e["ecg_time"].dt.floor("s")
    return a, e.drop(columns="adm_idx")


def _ecg_labels(pts: pd.DataFrame, ecgs: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    traits = pts.set_index("subject_id").loc[ecgs["subject_id"]]
    labels = []
    for i in range(len(ecgs)):
        row = traits.iloc[i]
        s = set()
        s.add("AFIB" if row["trait_AFIB"] and rng.random() < 0.85 else "SR")
        for sig in ("CLBBB", "LVOLT", "IMI"):
            if row[f"trait_{sig}"]:
                s.add(sig)
        if s == {"SR"}:
            s.add("NORM")
        labels.append(frozenset(s))
    return pd.Series(labels, index=ecgs.index)


def _deaths(pts: pd.DataFrame, adm: pd.DataFrame, ecgs: pd.DataFrame, rng: np.random.Generator
            ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw a death time per patient (hazard ↑ with age and the survival trait) and truncate records."""
    first = ecgs.groupby("subject_id")["ecg_time"].min()
    p = pts.set_index("subject_id")
    hazard = 0.08 * np.exp((p["anchor_age"] - 60) / 20) * np.where(p[f"trait_{SURVIVAL_SIGNATURE}"],
                                                                   SURVIVAL_HR, 1.0)
    years = np.minimum(rng.exponential(1.0 / hazard.loc[first.index].to_numpy()), 50.0)  # 50: never observed
    death = first + pd.to_timedelta(years * 365.25, unit="D")
    death = death.dt.floor("min")
    adm = adm.join(death.rename("death"), on="subject_id")
    adm = adm[adm["admittime"] < adm["death"]].copy()
    dies_in = adm["death"] <= adm["dischtime"]
    adm["deathtime"] = adm["death"].where(dies_in)
    adm.loc[dies_in, "dischtime"] = adm.loc[dies_in, "death"]
    adm["hospital_expire_flag"] = dies_in.astype(int)
    ecgs = ecgs.join(death.rename("death"), on="subject_id")
    alive = ecgs["ecg_time"] < ecgs["death"]
    ecgs = ecgs[alive & (ecgs["hadm_id"].isna() | ecgs["hadm_id"].isin(adm["hadm_id"]))]
    last = adm.groupby("subject_id")["dischtime"].max()
    pts = pts.join(death.rename("death"), on="subject_id").join(last.rename("last"), on="subject_id")
    seen = pts["death"] <= pts["last"] + pd.Timedelta(days=365)
    pts["dod"] = pts["death"].dt.normalize().where(seen)
    return pts.drop(columns=["death", "last"]), adm.drop(columns="death"), ecgs.drop(columns="death")


def _diagnoses(cfg: MimicSynthConfig, pts: pd.DataFrame, adm: pd.DataFrame, ecgs: pd.DataFrame,
               labels: pd.Series, null: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    shown = ecgs.assign(labels=labels).dropna(subset=["hadm_id"]).groupby("hadm_id")["labels"].agg(
        lambda s: frozenset().union(*s))
    sex = pts.set_index("subject_id")["gender"]
    rows = []
    rate = null["rate"].to_numpy()
    chronic, has = np.zeros(len(null), bool), None
    if cfg.chronic_null_frac > 0:   # extra draws only when asked, so the default data set stays the same
        chronic = rng.random(len(null)) < cfg.chronic_null_frac
        subjects = pts["subject_id"].to_numpy()
        has = dict(zip(subjects, rng.random((len(subjects), len(null))) < np.minimum(rate / 0.9, 1.0)))
    for a in adm.itertuples(index=False):
        icd9 = rng.random() < cfg.p_icd9
        sigs = shown.get(a.hadm_id, frozenset())
        codes = []
        for e in PLANTED:
            o = e.base_rate / (1 - e.base_rate) * (e.odds_ratio if e.signature in sigs else 1.0)
            if rng.random() < o / (1 + o):
                codes.append(rng.choice(e.icd9 if icd9 else e.icd10))
        g = sex.loc[a.subject_id]
        ok = (null["sex"] == "Both") | (null["sex"] == ("Male" if g == "M" else "Female"))
        u = rng.random(len(null))
        hit = ok.to_numpy() & (u < rate)
        if has is not None:          # a chronic condition is coded in 90 % of its patient's admissions
            hit = np.where(chronic, ok.to_numpy() & has[a.subject_id] & (u < 0.9), hit)
        codes += list(null.loc[hit, "icd9" if icd9 else "icd10"])
        order = rng.permutation(len(codes))
        rows += [(a.subject_id, a.hadm_id, k + 1, codes[j], 9 if icd9 else 10) for k, j in enumerate(order)]
    return pd.DataFrame(rows, columns=["subject_id", "hadm_id", "seq_num", "icd_code", "icd_version"])


@lru_cache(maxsize=1)
def _phecode_maps() -> dict[str, pd.DataFrame]:
    """(icd, icd_version) → rolled-up phecodes, for both shipped maps (read as data; no analysis code)."""
    from ..phecode_tables import read_phecode_table

    out = {}
    for version, col in (("1.2", "phecode_unrolled"), ("X", "phecode")):
        m = read_phecode_table(version)
        out[version] = pd.DataFrame({"icd": m["ICD"].str.replace(".", "", regex=False),
                                     "icd_version": m["flag"].astype(int), "phecode": m[col]})
    return out


def _phecodes_of(maps: dict[str, pd.DataFrame], version: str, codes9, codes10) -> set[str]:
    m = maps[version]
    hit = ((m["icd_version"].eq(9) & m["icd"].isin(list(codes9)))
           | (m["icd_version"].eq(10) & m["icd"].isin(list(codes10))))
    return set(m.loc[hit, "phecode"])


def ground_truth(null: pd.DataFrame, maps: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Every (signature, phecode) pair the data can show, with whether an association was planted."""
    maps = maps or _phecode_maps()
    rows = []
    for version in ("1.2", "X"):
        planted = {e.signature: _phecodes_of(maps, version, e.icd9, e.icd10) for e in PLANTED}
        nulls = _phecodes_of(maps, version, null["icd9"], null["icd10"])
        every = set().union(*planted.values()) | nulls
        for e in PLANTED:
            for p in sorted(every):
                real = p in planted[e.signature]
                rows.append((e.signature, p, version, real, e.odds_ratio if real else 1.0, "odds_ratio"))
    for e in PLANTED:
        real = e.signature == SURVIVAL_SIGNATURE
        rows.append((e.signature, "death", "survival", real, SURVIVAL_HR if real else 1.0, "hazard_ratio"))
    gt = pd.DataFrame(rows, columns=["signature", "phecode", "phecode_version", "planted", "effect",
                                     "effect_kind"])
    return gt[["signature", "phecode", "planted", "effect", "phecode_version", "effect_kind"]]


def _admission_extras(adm: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n = len(adm)
    a = adm.copy()
    a["admission_type"] = rng.choice(["EW EMER.", "URGENT", "ELECTIVE", "OBSERVATION ADMIT"], n,
                                     p=[.6, .15, .15, .1])
    a["admit_provider_id"] = [f"P{v:05d}" for v in rng.integers(0, 3000, n)]
    a["admission_location"] = rng.choice(["EMERGENCY ROOM", "PHYSICIAN REFERRAL", "TRANSFER FROM HOSPITAL"], n)
    a["discharge_location"] = np.where(a["hospital_expire_flag"] == 1, "DIED",
                                       rng.choice(["HOME", "HOME HEALTH CARE", "SKILLED NURSING FACILITY"], n))
    a["insurance"] = rng.choice(["Medicare", "Medicaid", "Other"], n)
    a["language"] = rng.choice(["ENGLISH", "?"], n, p=[.9, .1])
    a["marital_status"] = rng.choice(["MARRIED", "SINGLE", "WIDOWED", "DIVORCED"], n)
    a["race"] = rng.choice(["WHITE", "BLACK/AFRICAN AMERICAN", "HISPANIC/LATINO", "ASIAN", "OTHER"], n)
    ed = a["admission_type"].eq("EW EMER.")
    a["edregtime"] = (a["admittime"] - pd.to_timedelta(rng.uniform(2, 10, n), unit="h")).dt.floor("min").where(ed)
    a["edouttime"] = a["admittime"].where(ed)
    cols = ["subject_id", "hadm_id", "admittime", "dischtime", "deathtime", "admission_type", "admit_provider_id",
            "admission_location", "discharge_location", "insurance", "language", "marital_status", "race",
            "edregtime", "edouttime", "hospital_expire_flag"]
    return a[cols].sort_values(["subject_id", "admittime"])


def _machine_measurements(ecgs: pd.DataFrame, labels: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Machine statements and measurements *drawn consistent with the labels* (not measured from the
    waveform); each true statement is missed by the machine 10 % of the time."""
    n = len(ecgs)
    reports = np.full((n, 18), "", dtype=object)
    for i, lab in enumerate(labels):
        st = [_STATEMENTS[c] for c in ("AFIB", "SR", "CLBBB", "IMI", "LVOLT", "NORM")
              if c in lab and rng.random() > 0.1]
        st.append("Normal ECG" if "NORM" in lab else "Abnormal ECG")
        for j, s in enumerate(dict.fromkeys(st)):
            reports[i, j] = s
    mm = pd.DataFrame({"subject_id": ecgs["subject_id"].to_numpy(), "study_id": ecgs["study_id"].to_numpy(),
                       "cart_id": rng.integers(6000, 7000, n), "ecg_time": ecgs["ecg_time"].to_numpy()})
    for j in range(18):
        mm[f"report_{j}"] = reports[:, j]
    lbbb = np.array(["CLBBB" in lab for lab in labels])
    af = np.array(["AFIB" in lab for lab in labels])
    mm["bandwidth"], mm["filtering"] = "0.005-150 Hz", "60 Hz notch Baseline filter"
    mm["rr_interval"] = rng.normal(np.where(af, 700, 880), 120).round().astype(int)
    mm["p_onset"] = np.where(af, 29999, 40)
    mm["p_end"] = np.where(af, 29999, 150)
    mm["qrs_onset"] = 200
    mm["qrs_end"] = 200 + rng.normal(np.where(lbbb, 145, 92), 8).round().astype(int)
    mm["t_end"] = mm["qrs_end"] + rng.normal(300, 20, n).round().astype(int)
    mm["p_axis"] = np.where(af, 29999, rng.normal(50, 15, n).round().astype(int))
    mm["qrs_axis"] = rng.normal(np.where(lbbb, -20, 40), 25).round().astype(int)
    mm["t_axis"] = rng.normal(np.where(lbbb, 160, 40), 25).round().astype(int)
    return mm


def study_path(subject_id: int, study_id: int) -> str:
    """MIMIC-IV-ECG relative record path without extension: ``files/p1000/p10000032/s40689238/40689238``."""
    s = str(int(subject_id))
    return f"files/p{s[:4]}/p{s}/s{int(study_id)}/{int(study_id)}"


def _write_wfdb(root: Path, rel: str, signal: np.ndarray, when: pd.Timestamp) -> None:
    import wfdb

    d = root / Path(rel).parent
    d.mkdir(parents=True, exist_ok=True)
    x = np.asarray(signal, dtype=np.float64)[_CANON_TO_MIMIC].T
    wfdb.wrsamp(Path(rel).name, fs=500, units=["mV"] * 12, sig_name=list(MIMIC_LEAD_ORDER), p_signal=x,
                fmt=["16"] * 12, adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str(d),
                base_time=when.time(), base_date=when.date())


@dataclass(frozen=True)
class SynthMimicResult:
    out_dir: Path
    n_patients: int
    n_admissions: int
    n_ecgs: int
    n_diagnoses: int
    n_deaths: int


def _write_chunk(jobs: list[tuple], ecg_fn: Callable | None = None) -> int:
    """Synthesise and write a batch of records; each ECG has its own seed (seed, study_id), so the
    output does not depend on the number of workers."""
    if ecg_fn is None:
        from data_access.synth.ecg import synthesize_ecg as ecg_fn
    for root, rel, when, labels, seed, study_id, age, sex_ptbxl in jobs:
        rng = np.random.default_rng([seed, study_id])
        sig = ecg_fn(set(labels), rng, fs=500, duration_s=10, age=age, sex=sex_ptbxl)
        _write_wfdb(Path(root), rel, sig, pd.Timestamp(when))
    return len(jobs)


def synthesize_mimic(out_dir: str | Path, cfg: MimicSynthConfig = MimicSynthConfig(),
                     ecg_fn: Callable | None = None, progress: bool = True) -> SynthMimicResult:
    """Write the synthetic MIMIC-IV directory (see the module docstring); returns counts.

    ``ecg_fn(labels, rng, fs=500, duration_s=10, age=None, sex=None) -> (12, 5000) mV`` (``sex`` in the
    PTB-XL coding, 0 = male, 1 = female) synthesises each
    waveform (default: :func:`data_access.synth.ecg.synthesize_ecg`).
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    rng = np.random.default_rng(cfg.seed)
    maps = _phecode_maps()
    planted_x = set().union(*(_phecodes_of(maps, "X", e.icd9, e.icd10) for e in PLANTED))
    null = _null_conditions(cfg, rng)
    mx = maps["X"][maps["X"]["phecode"].isin(planted_x)]
    clash = (null["icd9"].isin(mx.loc[mx["icd_version"] == 9, "icd"])
             | null["icd10"].isin(mx.loc[mx["icd_version"] == 10, "icd"]))
    null = null[~clash].reset_index(drop=True)

    pts = _patients(cfg, rng)
    adm, ecgs = _admissions_and_ecgs(cfg, pts, rng)
    pts, adm, ecgs = _deaths(pts, adm, ecgs, rng)
    ecgs = ecgs.sort_values(["subject_id", "ecg_time"]).reset_index(drop=True)
    labels = _ecg_labels(pts, ecgs, rng)
    dx = _diagnoses(cfg, pts, adm, ecgs, labels, null, rng)
    adm = _admission_extras(adm, rng)

    hosp = out / "hosp"
    hosp.mkdir(parents=True, exist_ok=True)
    pcols = ["subject_id", "gender", "anchor_age", "anchor_year", "anchor_year_group", "dod"]
    pts[pcols].to_csv(hosp / "patients.csv.gz", index=False, date_format="%Y-%m-%d")
    adm.to_csv(hosp / "admissions.csv.gz", index=False, date_format="%Y-%m-%d %H:%M:%S")
    dx.to_csv(hosp / "diagnoses_icd.csv.gz", index=False)

    ecg_root = out / "ecg"
    ecg_root.mkdir(parents=True, exist_ok=True)
    ecgs["path"] = [study_path(s, t) for s, t in zip(ecgs["subject_id"], ecgs["study_id"])]
    rl = ecgs.assign(file_name=ecgs["study_id"].astype(str))[["subject_id", "study_id", "file_name", "ecg_time",
                                                              "path"]]
    rl.to_csv(ecg_root / "record_list.csv", index=False, date_format="%Y-%m-%d %H:%M:%S")
    (ecg_root / "RECORDS").write_text("\n".join(ecgs["path"]) + "\n")
    _machine_measurements(ecgs, labels, rng).to_csv(ecg_root / "machine_measurements.csv", index=False,
                                                     date_format="%Y-%m-%d %H:%M:%S")
    pd.DataFrame({"study_id": ecgs["study_id"], "labels": [" ".join(sorted(s)) for s in labels]}).to_csv(
        out / "ecg_labels.csv", index=False)
    ground_truth(null, maps).to_csv(out / "ground_truth.csv", index=False)

    if cfg.write_waveforms:
        info = pts.set_index("subject_id")
        age = (info["anchor_age"].reindex(ecgs["subject_id"]).to_numpy()
               + ecgs["ecg_time"].dt.year.to_numpy() - info["anchor_year"].reindex(ecgs["subject_id"]).to_numpy())
        male = info["gender"].reindex(ecgs["subject_id"]).eq("M").to_numpy()
        jobs = [(str(ecg_root), p, t, sorted(lab), cfg.seed, int(sid), float(min(a, 95)), 0 if m else 1)
                for p, t, lab, sid, a, m in zip(ecgs["path"], ecgs["ecg_time"], labels, ecgs["study_id"],
                                                age, male)]
        bar = tqdm(total=len(jobs), desc="synthetic MIMIC ECGs", disable=not progress, unit="ecg")
        chunks = [jobs[i:i + 64] for i in range(0, len(jobs), 64)]
        if cfg.workers > 1 and ecg_fn is None:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(cfg.workers) as ex:
                for n in ex.map(_write_chunk, chunks):
                    bar.update(n)
        else:
            for c in chunks:
                bar.update(_write_chunk(c, ecg_fn))
        bar.close()
    res = SynthMimicResult(out, len(pts), len(adm), len(ecgs), len(dx), int(pts["dod"].notna().sum()))
    log.info("synthetic MIMIC-IV written to %s: %s", out, res)
    return res
