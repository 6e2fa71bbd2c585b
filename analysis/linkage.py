"""ECG ↔ admission linkage (design §2): an ECG belongs to an admission when
``admittime − days_before_admit ≤ ecg_time ≤ dischtime``.

Edge cases, decided once here and written into :meth:`LinkageRule.describe` (which every output
records):

* overlapping windows (a readmission whose look-back window covers the previous stay): an ECG taken
  *during* a stay goes to that stay; otherwise to the next admission it precedes (the nearest admittime);
* admissions without ``dischtime`` end at ``deathtime`` when that is known, otherwise they cannot be
  bounded and are not linked (counted in the stats);
* ECGs inside no window are not analysed (counted).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

UNITS = ("first_ecg_per_admission", "all_ecgs", "last_ecg_per_admission", "first_ecg_per_patient")


@dataclass(frozen=True)
class LinkageRule:
    """How ECGs are attached to admissions and which ECGs become units of analysis."""

    days_before_admit: float = 7.0
    unit: str = "first_ecg_per_admission"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit must be one of {UNITS}, got {self.unit!r}")
        if self.days_before_admit < 0:
            raise ValueError("days_before_admit must be >= 0")

    def describe(self) -> str:
        return (f"ECG linked to an admission when admittime - {self.days_before_admit:g} days <= ecg_time "
                f"<= dischtime (dischtime missing: deathtime, else not linked); ECG within a stay goes to "
                f"that stay, else to the next admission; unit = {self.unit}")


@dataclass(frozen=True, eq=False)
class LinkageResult:
    """``units`` (one row per analysed ECG, index ``unit_id`` = study_id) and counts of what was left out."""

    units: pd.DataFrame
    stats: dict = field(default_factory=dict)
    rule: str = ""


def link_ecgs(records: pd.DataFrame, admissions: pd.DataFrame, rule: LinkageRule = LinkageRule()
              ) -> LinkageResult:
    """Attach ECGs (``subject_id, study_id, ecg_time[, path]``) to admissions (``subject_id, hadm_id,
    admittime, dischtime[, deathtime]``) under ``rule``."""
    adm = admissions[["subject_id", "hadm_id", "admittime", "dischtime"]].copy()
    end = adm["dischtime"]
    if "deathtime" in admissions:
        end = end.fillna(admissions["deathtime"])
    adm["window_end"] = end
    unbounded = int(adm["window_end"].isna().sum())
    adm = adm.dropna(subset=["window_end"])
    rec = records[["subject_id", "study_id", "ecg_time"] + (["path"] if "path" in records else [])]
    rec = rec.dropna(subset=["ecg_time"])
    m = rec.merge(adm, on="subject_id", how="inner")
    lo = m["admittime"] - pd.to_timedelta(rule.days_before_admit, unit="D")
    m = m[(m["ecg_time"] >= lo) & (m["ecg_time"] <= m["window_end"])].copy()
    m["_in_stay"] = m["ecg_time"] >= m["admittime"]
    # Prefer a containing stay (latest admittime among those), else the nearest following admission.
    m["_key"] = np.where(m["_in_stay"], -(m["admittime"].astype("int64")),
                         m["admittime"].astype("int64"))
    m = m.sort_values(["study_id", "_in_stay", "_key"], ascending=[True, False, True])
    n_multi = int(m.loc[m["study_id"].duplicated(), "study_id"].nunique())
    m = m.drop_duplicates("study_id", keep="first")
    linked = len(m)
    if rule.unit != "all_ecgs":
        keep = "last" if rule.unit == "last_ecg_per_admission" else "first"
        m = m.sort_values(["hadm_id", "ecg_time", "study_id"]).drop_duplicates("hadm_id", keep=keep)
    if rule.unit == "first_ecg_per_patient":
        # Independent units: a patient's admissions share chronic diagnoses and ECG traits, so keeping
        # them all gives p-values that are too small; keep the first linked admission per patient.
        m = m.sort_values(["subject_id", "ecg_time", "study_id"]).drop_duplicates("subject_id", keep="first")
    units = m.drop(columns=["_in_stay", "_key", "window_end"]).rename(columns={"path": "ecg_path"})
    units = units.set_index(pd.Index(units["study_id"].to_numpy(), name="unit_id")).sort_index()
    stats = {"n_ecgs": int(len(records)), "n_linked": linked, "n_unlinked": int(len(rec) - linked),
             "n_missing_ecg_time": int(len(records) - len(rec)), "n_overlap_resolved": n_multi,
             "n_admissions_unbounded": unbounded, "n_units": int(len(units))}
    log.info("linkage: %s", stats)
    return LinkageResult(units, stats, rule.describe())
