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
from pathlib import Path

import numpy as np
import pandas as pd

from .mimic_cohort import (PLANTED, SURVIVAL_HR, SURVIVAL_SIGNATURE, MimicSynthConfig,  # noqa: F401
                           PlantedEffect, admission_extras, admissions_and_ecgs, draw_deaths, draw_diagnoses,
                           draw_ecg_labels, draw_patients, ground_truth, null_conditions, phecode_maps,
                           phecodes_of)
from .mimic_ecg_files import MIMIC_LEAD_ORDER, machine_measurements, study_path, write_chunk  # noqa: F401

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SynthMimicResult:
    out_dir: Path
    n_patients: int
    n_admissions: int
    n_ecgs: int
    n_diagnoses: int
    n_deaths: int


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
    maps = phecode_maps()
    planted_x = set().union(*(phecodes_of(maps, "X", e.icd9, e.icd10) for e in PLANTED))
    null = null_conditions(cfg, rng)
    mx = maps["X"][maps["X"]["phecode"].isin(planted_x)]
    clash = (null["icd9"].isin(mx.loc[mx["icd_version"] == 9, "icd"])
             | null["icd10"].isin(mx.loc[mx["icd_version"] == 10, "icd"]))
    null = null[~clash].reset_index(drop=True)

    pts = draw_patients(cfg, rng)
    adm, ecgs = admissions_and_ecgs(cfg, pts, rng)
    pts, adm, ecgs = draw_deaths(pts, adm, ecgs, rng)
    ecgs = ecgs.sort_values(["subject_id", "ecg_time"]).reset_index(drop=True)
    labels = draw_ecg_labels(pts, ecgs, rng)
    dx = draw_diagnoses(cfg, pts, adm, ecgs, labels, null, rng)
    adm = admission_extras(adm, rng)

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
    machine_measurements(ecgs, labels, rng).to_csv(ecg_root / "machine_measurements.csv", index=False,
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
                for n in ex.map(write_chunk, chunks):
                    bar.update(n)
        else:
            for c in chunks:
                bar.update(write_chunk(c, ecg_fn))
        bar.close()
    res = SynthMimicResult(out, len(pts), len(adm), len(ecgs), len(dx), int(pts["dod"].notna().sum()))
    log.info("synthetic MIMIC-IV written to %s: %s", out, res)
    return res
