"""Analysis cohort from a MIMIC-IV directory: linked ECG-admission units, covariates, phenotypes, survival.

``mimic_dir`` holds ``hosp/`` (MIMIC-IV hosp ``.csv.gz`` tables) and ``ecg/`` (a MIMIC-IV-ECG root with
``record_list.csv``); either can be given explicitly instead. Nothing is computed against today's date
(MIMIC-IV dates are shifted into 2100-2200).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data_access.mimic_ecg import read_record_list
from data_access.mimic_hosp import HospTables, read_admissions, read_hosp, read_patients

from .linkage import LinkageRule, link_ecgs
from .phecodes import load_phecode_map, map_diagnoses, phenotype_matrix

log = logging.getLogger(__name__)

UNIT_COLUMNS = ("study_id", "subject_id", "hadm_id", "ecg_time", "admittime", "dischtime", "age", "sex",
                "ecg_path")


@dataclass(eq=False)
class Cohort:
    """Units of analysis and their phenotypes.

    ``units``: index ``unit_id`` (= study_id); columns :data:`UNIT_COLUMNS`. ``phenotypes``: same index,
    one column per tested phecode (1.0 case, 0.0 control, NaN excluded). ``phecode_info``: phecode,
    description, category, sex, n_cases, n_controls, n_excluded. ``dropped_phecodes``: phecodes seen but
    not tested (too few cases/controls). ``rule``: the linkage rule, recorded in every output.
    """

    units: pd.DataFrame
    phenotypes: pd.DataFrame
    phecode_info: pd.DataFrame
    rule: str
    bad_rows: list[dict] = field(default_factory=list)
    dropped_phecodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    linkage_stats: dict = field(default_factory=dict)
    phecode_version: str = "1.2"


def _dirs(mimic_dir, hosp_dir, ecg_dir) -> tuple[Path, Path]:
    base = Path(mimic_dir) if mimic_dir is not None else None
    h = Path(hosp_dir) if hosp_dir is not None else base / "hosp"
    e = Path(ecg_dir) if ecg_dir is not None else base / "ecg"
    return h, e


def age_at(ecg_time: pd.Series, anchor_age: pd.Series, anchor_year: pd.Series) -> pd.Series:
    """Age at the ECG = anchor_age + (year(ecg_time) − anchor_year) (anchor_age is capped at 91)."""
    return anchor_age + (ecg_time.dt.year - anchor_year)


def build_cohort(mimic_dir: str | Path | None, rule: LinkageRule = LinkageRule(), phecode_version: str = "1.2",
                 min_cases: int = 20, min_controls: int = 20, hosp_dir: str | Path | None = None,
                 ecg_dir: str | Path | None = None, hosp: HospTables | None = None,
                 min_code_count: int = 1) -> Cohort:
    """Link ECGs to admissions, attach age and sex, and build case/control/excluded phenotypes.

    ``min_code_count``: distinct ICD codes of a phecode in the unit's admission needed for a case (units with
    fewer but some are excluded). Default 1: MIMIC-IV lists each code once per admission and the demo data
    write one code per condition and admission, so PheTK's 2 (meant for codes counted over a patient's
    record on distinct dates) would leave no cases there."""
    hdir, edir = _dirs(mimic_dir, hosp_dir, ecg_dir)
    hosp = hosp or read_hosp(hdir)
    bad = list(hosp.bad_rows)
    records = read_record_list(edir)
    linked = link_ecgs(records, hosp.admissions, rule)
    u = linked.units.reset_index()
    pts = hosp.patients[["subject_id", "anchor_age", "anchor_year", "sex"]]
    u = u.merge(pts, on="subject_id", how="left")
    no_pt = u["anchor_age"].isna()
    if no_pt.any():
        bad.append({"table": "patients", "row": None, "subject_id": None, "hadm_id": None,
                    "reason": f"{int(no_pt.sum())} linked ECG(s) whose subject_id has no patients row "
                              f"(units dropped)", "action": "dropped"})
        u = u[~no_pt]
    u["age"] = age_at(u["ecg_time"], u["anchor_age"], u["anchor_year"]).astype(float)
    no_sex = u["sex"].isna()
    if no_sex.any():
        bad.append({"table": "patients", "row": None, "subject_id": None, "hadm_id": None,
                    "reason": f"{int(no_sex.sum())} linked ECG(s) of patients with unknown sex (units dropped: "
                              f"sex is a covariate)", "action": "dropped"})
        u = u[~no_sex]
    if "ecg_path" not in u:
        u["ecg_path"] = None
    units = u.set_index("unit_id")[list(UNIT_COLUMNS)]

    pmap = load_phecode_map(phecode_version)
    dx = hosp.diagnoses[hosp.diagnoses["hadm_id"].isin(units["hadm_id"])]
    mapped = map_diagnoses(dx, pmap)
    up = units[["hadm_id"]].reset_index().merge(mapped[["hadm_id", "phecode", "icd"]], on="hadm_id")
    # Cheap upper bound on cases first, so the dense matrix only holds phecodes that can pass.
    pre = up.drop_duplicates(["unit_id", "phecode"]).groupby("phecode").size()
    early = pre[pre < min_cases]
    full = phenotype_matrix(up[["unit_id", "phecode", "icd"]], units.index, units["sex"], pmap,
                            phecodes=sorted(pre.index[pre >= min_cases]), min_code_count=min_code_count)
    n_case = (full == 1).sum()
    n_ctrl = (full == 0).sum()
    counts = pd.DataFrame({"n_cases": n_case, "n_controls": n_ctrl,
                           "n_excluded": full.isna().sum()})
    ok = (n_case >= min_cases) & (n_ctrl >= min_controls)
    dropped = pd.concat([pd.DataFrame({"n_cases": early, "n_controls": np.nan, "n_excluded": np.nan}),
                         counts[~ok]]).rename_axis("phecode")
    dropped["reason"] = np.where(dropped["n_cases"] < min_cases, f"fewer than {min_cases} cases",
                                 f"fewer than {min_controls} controls")
    info = pmap.info.reindex(counts.index[ok]).join(counts[ok]).reset_index()
    log.info("cohort: %d units, %d phecodes tested, %d dropped (min_cases=%d, min_controls=%d, "
             "min_code_count=%d)", len(units), int(ok.sum()), len(dropped), min_cases, min_controls, min_code_count)
    return Cohort(units=units, phenotypes=full.loc[:, ok.to_numpy()], phecode_info=info,
                  rule=linked.rule, bad_rows=bad, dropped_phecodes=dropped.reset_index(),
                  linkage_stats=linked.stats, phecode_version=phecode_version)


def survival_table(mimic_dir: str | Path | None, units: pd.DataFrame, hosp_dir: str | Path | None = None,
                   followup_after_discharge_days: float = 365.0) -> pd.DataFrame:
    """Time from each unit's ECG to death or censoring, for Cox / Kaplan-Meier.

    Death = in-hospital ``deathtime`` when known, else ``dod`` (a date; noon is assumed). Censoring at the
    patient's last discharge + 1 year: MIMIC-IV's ``dod`` only covers deaths up to then, so later deaths
    are censored there. Returns index ``unit_id`` with ``subject_id``, ``time_days`` (> 0), ``event``
    (0/1); units with a death recorded more than a day before their ECG are dropped (logged).
    """
    hdir = Path(hosp_dir) if hosp_dir is not None else Path(mimic_dir) / "hosp"
    pts, _ = read_patients(hdir)
    adm, _ = read_admissions(hdir)
    last = adm.groupby("subject_id")["dischtime"].max().rename("last_disch")
    in_hosp = adm.dropna(subset=["deathtime"]).groupby("subject_id")["deathtime"].min().rename("deathtime")
    t = units[["subject_id", "ecg_time"]].join(last, on="subject_id").join(in_hosp, on="subject_id")
    t = t.join(pts.set_index("subject_id")["dod"], on="subject_id")
    death = t["deathtime"].fillna(t["dod"] + pd.Timedelta(hours=12))
    censor = t["last_disch"].fillna(t["ecg_time"]) + pd.Timedelta(days=followup_after_discharge_days)
    event = death.notna() & (death <= censor)
    end = death.where(event, censor)
    days = (end - t["ecg_time"]).dt.total_seconds() / 86400.0
    inconsistent = days < -1.0
    if inconsistent.any():
        log.warning("survival: %d unit(s) with death recorded before the ECG dropped", int(inconsistent.sum()))
    out = pd.DataFrame({"subject_id": t["subject_id"], "time_days": days.clip(lower=1.0 / 24),
                        "event": event.astype(int)}, index=units.index)
    return out[~inconsistent.to_numpy()]
