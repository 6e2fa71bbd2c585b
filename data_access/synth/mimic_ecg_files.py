"""The MIMIC-IV-ECG side of the generated data: machine statements and measurements drawn consistent with
each ECG's labels, record paths, and the WFDB files (MIMIC's lead order, 500 Hz, 16-bit)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["MIMIC_LEAD_ORDER", "machine_measurements", "study_path", "write_chunk"]

MIMIC_LEAD_ORDER = ("I", "II", "III", "aVR", "aVF", "aVL", "V1", "V2", "V3", "V4", "V5", "V6")
_CANON_TO_MIMIC = [0, 1, 2, 3, 5, 4, 6, 7, 8, 9, 10, 11]   # canonical rows in MIMIC order


_STATEMENTS = {
    "SR": "Sinus rhythm", "AFIB": "Atrial fibrillation", "CLBBB": "Left bundle branch block",
    "LVOLT": "Low QRS voltages in limb leads", "IMI": "Inferior infarct - age undetermined",
    "NORM": "Normal ECG",
}


def machine_measurements(ecgs: pd.DataFrame, labels: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
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


def write_chunk(jobs: list[tuple], ecg_fn: Callable | None = None) -> int:
    """Synthesise and write a batch of records; each ECG has its own seed (seed, study_id), so the
    output does not depend on the number of workers."""
    if ecg_fn is None:
        from data_access.synth.ecg import synthesize_ecg as ecg_fn
    for root, rel, when, labels, seed, study_id, age, sex_ptbxl in jobs:
        rng = np.random.default_rng([seed, study_id])
        sig = ecg_fn(set(labels), rng, fs=500, duration_s=10, age=age, sex=sex_ptbxl)
        _write_wfdb(Path(root), rel, sig, pd.Timestamp(when))
    return len(jobs)
