"""Who the generated MIMIC-IV patients are and what they have: the planted ECG traits and their effects,
patients, admissions and ECG times, deaths, diagnoses, and the ground truth of every (signature, phecode)
pair. Tables only; the waveforms and the ECG files are :mod:`data_access.synth.mimic_ecg_files`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = ["PLANTED", "SURVIVAL_HR", "SURVIVAL_SIGNATURE", "MimicSynthConfig", "PlantedEffect", "ground_truth"]


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
# (power ~75% at 1e-4); OR 6 gives ~7 (power > 99%). LBBB -> heart failure at OR 6 gave an expected z of
# ~5.9 for a perfect feature against the ~5.07 that the family-wise phecode stage needs (the first selected
# phecode must pass Simes p <= 0.05 / phecodes): its true label reached that line in about half of the draws
# and the pair was the most-missed one with trained models' features (428.1 / 428.3 each in 6 of 20 scans);
# OR 8 gives ~7.4, like the other pairs.
PLANTED: tuple[PlantedEffect, ...] = (
    PlantedEffect("AFIB", 0.12, ("42731",), ("I4891", "I480", "I482"), 0.04, 10.0),
    PlantedEffect("CLBBB", 0.08, ("4280", "42822"), ("I509", "I5022"), 0.06, 8.0),
    PlantedEffect("LVOLT", 0.08, ("2449",), ("E039",), 0.05, 6.0),
    PlantedEffect("IMI", 0.09, ("412",), ("I252",), 0.05, 5.0),
)
SURVIVAL_SIGNATURE, SURVIVAL_HR = "CLBBB", 2.5

@dataclass(frozen=True)
class MimicSynthConfig:
    """Sizes and rates of the synthetic MIMIC-IV (defaults: 1,000 patients, ~1,550 admissions, ~2,200 ECGs)."""

    n_patients: int = 1000
    seed: int = 0
    p_icd9: float = 0.35                 # share of admissions coded in ICD-9 (the rest ICD-10)
    nnull_conditions: int = 240          # diagnoses unrelated to the ECG
    null_rate_range: tuple[float, float] = (0.006, 0.08)
    p_outpatient_ecg: float = 0.15        # patients with an ECG outside any admission window
    chronic_null_frac: float = 0.0        # share of null diagnoses that are chronic (a patient-level
    #                                       condition coded in most of that patient's admissions), so
    #                                       admissions of one patient are not independent units
    write_waveforms: bool = True
    workers: int = 1                      # processes synthesising waveforms


def null_conditions(cfg: MimicSynthConfig, rng: np.random.Generator) -> pd.DataFrame:
    """Pick null conditions: one phecode-1.2 leaf each, with an ICD-9 and an ICD-10 code, away from the
    circulatory and thyroid families (so they cannot dilute or mimic the planted phecodes)."""
    from ..phecode_tables import read_phecode_table

    m = read_phecode_table("1.2")
    m = m[(m["phecode"] == m["phecode_unrolled"]) & (m["phecode_category"] != "circulatory system")
          & ~m["phecode"].str.startswith(("24", "427", "428", "411"))
          & ~m["ICD"].str.contains("-") & (m["ICD"].str.len() >= 3)]
    both = m.groupby("phecode")["flag"].nunique()
    leaves = np.array(sorted(both[both == 2].index))
    pick = rng.choice(leaves, size=min(cfg.nnull_conditions, len(leaves)), replace=False)
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


def draw_patients(cfg: MimicSynthConfig, rng: np.random.Generator) -> pd.DataFrame:
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


def admissions_and_ecgs(cfg: MimicSynthConfig, pts: pd.DataFrame, rng: np.random.Generator
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


def draw_ecg_labels(pts: pd.DataFrame, ecgs: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
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


def draw_deaths(pts: pd.DataFrame, adm: pd.DataFrame, ecgs: pd.DataFrame, rng: np.random.Generator
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


def draw_diagnoses(cfg: MimicSynthConfig, pts: pd.DataFrame, adm: pd.DataFrame, ecgs: pd.DataFrame,
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
def phecode_maps() -> dict[str, pd.DataFrame]:
    """(icd, icd_version) → rolled-up phecodes, for both shipped maps (read as data; no analysis code)."""
    from ..phecode_tables import read_phecode_table

    out = {}
    for version, col in (("1.2", "phecode_unrolled"), ("X", "phecode")):
        m = read_phecode_table(version)
        out[version] = pd.DataFrame({"icd": m["ICD"].str.replace(".", "", regex=False),
                                     "icd_version": m["flag"].astype(int), "phecode": m[col]})
    return out


def phecodes_of(maps: dict[str, pd.DataFrame], version: str, codes9, codes10) -> set[str]:
    m = maps[version]
    hit = ((m["icd_version"].eq(9) & m["icd"].isin(list(codes9)))
           | (m["icd_version"].eq(10) & m["icd"].isin(list(codes10))))
    return set(m.loc[hit, "phecode"])


def ground_truth(null: pd.DataFrame, maps: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Every (signature, phecode) pair the data can show, with whether an association was planted."""
    maps = maps or phecode_maps()
    rows = []
    for version in ("1.2", "X"):
        planted = {e.signature: phecodes_of(maps, version, e.icd9, e.icd10) for e in PLANTED}
        nulls = phecodes_of(maps, version, null["icd9"], null["icd10"])
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


def admission_extras(adm: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
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
