"""MIMIC-IV-ECG (v1.0) reader: ``record_list.csv``, ``machine_measurements.csv`` and the WFDB waveforms.

Layout (PhysioNet ``mimic-iv-ecg/1.0``)::

    record_list.csv              subject_id, study_id, file_name, ecg_time, path
    machine_measurements.csv     subject_id, study_id, cart_id, ecg_time, report_0 … report_17, intervals, axes
    files/p1000/p10000032/s40689238/40689238.hea|.dat   (``path`` = relative, without extension)

Records are 500 Hz, 10 s, 12 leads (MIMIC writes ``aVF`` before ``aVL``; the reader reorders).
:func:`to_model_input` turns one into exactly what the model was trained on (100 Hz, 1000 samples,
0.5 Hz zero-phase high-pass) through the shared ``data_access.preprocess.to_model_input``.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MetadataError, RecordReadError
from .preprocess import MODEL_FS, MODEL_N_SAMPLES as MODEL_SAMPLES, prepare_signal
from .preprocess import to_model_input as shared_to_model_input
from .record import ECGRecord, read_record

log = logging.getLogger(__name__)

RECORD_LIST_COLUMNS = ("subject_id", "study_id", "file_name", "ecg_time", "path")
N_REPORTS = 18


def _read_csv(root: str | Path, name: str, required: tuple[str, ...]) -> pd.DataFrame:
    path = Path(root) / name
    if not path.exists():
        raise MetadataError(f"{name} not found in {root} (is this a MIMIC-IV-ECG directory?)")
    df = pd.read_csv(path, dtype={"path": str, "file_name": str}, low_memory=False)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise MetadataError(f"{name} lacks column(s) {', '.join(missing)}")
    return df


def read_record_list(root: str | Path) -> pd.DataFrame:
    """``record_list.csv`` with ``ecg_time`` parsed; rows without ids or a path are dropped (logged)."""
    df = _read_csv(root, "record_list.csv", RECORD_LIST_COLUMNS)
    df["subject_id"] = pd.to_numeric(df["subject_id"], errors="coerce").astype("Int64")
    df["study_id"] = pd.to_numeric(df["study_id"], errors="coerce").astype("Int64")
    df["ecg_time"] = pd.to_datetime(df["ecg_time"], errors="coerce")
    bad = df["subject_id"].isna() | df["study_id"].isna() | df["path"].isna()
    if bad.any():
        log.warning("record_list.csv: dropping %d row(s) without subject_id, study_id or path", int(bad.sum()))
    df = df[~bad].astype({"subject_id": "int64", "study_id": "int64"})
    if df["ecg_time"].isna().any():
        log.warning("record_list.csv: %d row(s) with an unparseable ecg_time", int(df["ecg_time"].isna().sum()))
    return df.drop_duplicates("study_id").reset_index(drop=True)


def read_machine_measurements(root: str | Path) -> pd.DataFrame:
    """``machine_measurements.csv``, one row per study: ids, ``ecg_time``, the numeric measurements, and
    ``statements`` — the non-empty ``report_0 … report_17`` cells as a tuple of stripped strings, in order."""
    df = _read_csv(root, "machine_measurements.csv", ("subject_id", "study_id"))
    rep = [c for c in df.columns if re.fullmatch(r"report_\d+", c)]
    rep.sort(key=lambda c: int(c.split("_")[1]))
    texts = df[rep].astype("string").apply(lambda s: s.str.strip())
    df["statements"] = [tuple(x for x in row if isinstance(x, str) and x)
                        for row in texts.itertuples(index=False, name=None)]
    if "ecg_time" in df:
        df["ecg_time"] = pd.to_datetime(df["ecg_time"], errors="coerce")
    return df.drop(columns=rep)


def statements_long(measurements: pd.DataFrame) -> pd.DataFrame:
    """Tidy (study_id, position, statement) rows from :func:`read_machine_measurements` output."""
    s = measurements[["study_id", "statements"]].explode("statements").dropna(subset=["statements"])
    s["position"] = s.groupby("study_id").cumcount()
    return s.rename(columns={"statements": "statement"})[["study_id", "position", "statement"]]


def record_path(root: str | Path, study_id: int, records: pd.DataFrame | None = None) -> Path:
    """Absolute path (no extension) of one study, from ``record_list.csv``."""
    records = read_record_list(root) if records is None else records
    hit = records.loc[records["study_id"] == int(study_id), "path"]
    if hit.empty:
        raise MetadataError(f"study_id {study_id} is not in record_list.csv", record=str(study_id))
    return Path(root) / str(hit.iloc[0])


def load_mimic_ecg(root: str | Path, study_id: int | None = None, path: str | Path | None = None,
                   records: pd.DataFrame | None = None) -> ECGRecord:
    """Read one MIMIC-IV-ECG record (by ``study_id`` or by ``path`` relative to ``root``), validated:
    500 Hz, 12 leads in canonical order, no NaN (else a typed :class:`ECGDataError`)."""
    if path is None:
        if study_id is None:
            raise ValueError("give study_id or path")
        p = record_path(root, study_id, records)
    else:
        p = Path(path) if Path(path).is_absolute() else Path(root) / path
    if p.is_file() and p.suffix.lower() not in (".hea", ".dat", ".mat"):
        from .formats import read_any          # a site's export: MUSE/Philips/aECG XML, DICOM or EDF
        rec = read_any(p)
    else:
        if not p.with_suffix(".hea").exists() and not Path(str(p) + ".hea").exists():
            raise RecordReadError(f"header file {p.name}.hea not found", record=str(study_id or p.name))
        rec = read_record(p)
    if rec.fs != 500.0:
        log.debug("MIMIC record %s at %g Hz (expected 500)", rec.record_id, rec.fs)
    return rec


def to_model_input(record: ECGRecord | np.ndarray, fs: float | None = None, target_fs: float = MODEL_FS,
                   n_samples: int = MODEL_SAMPLES) -> np.ndarray:
    """(12, n_samples) float32 at ``target_fs`` (default 100 Hz, 1000 samples), preprocessed exactly like the
    training signals, through the shared :func:`data_access.preprocess.to_model_input` path.

    Accepts an :class:`ECGRecord` or a bare (12, T) array with its ``fs``. Too-short records raise
    :class:`RecordLengthError`.
    """
    if isinstance(record, ECGRecord):
        return shared_to_model_input(record, target_fs, n_samples)
    if fs is None:
        raise ValueError("fs is required for a bare array")
    return prepare_signal(np.asarray(record, dtype=np.float32), fs, target_fs, n_samples)
