"""PTB-XL reader: metadata, the 71-label matrix, branch groups, folds and signals.

CONTRACT (other packages rely on it; extend, do not break):
- ``codes()``: tuple of the 71 statement codes in ``scp_statements.csv`` order.
- ``branch_of() -> dict[code, 'rhythm'|'morphology'|'diffuse']``.
- ``read_metadata(root) -> DataFrame`` indexed by ``ecg_id`` with a ``scp`` column of parsed dicts.
- ``load_ptbxl(root, fs=100, folds=None, ...) -> PTBXLData`` (signals preprocessed for the model).
"""
from __future__ import annotations

import ast
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ECGDataError, MetadataError

log = logging.getLogger(__name__)

TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS = (9,)
TEST_FOLDS = (10,)


@lru_cache(maxsize=1)
def _branch_table() -> pd.DataFrame:
    with resources.files("data_access").joinpath("resources/ptbxl_branch_groups.csv").open() as f:
        return pd.read_csv(f)


@lru_cache(maxsize=1)
def scp_statements() -> pd.DataFrame:
    """The official 71-row statement table shipped with the package (index = code)."""
    with resources.files("data_access").joinpath("resources/scp_statements.csv").open() as f:
        return pd.read_csv(f, index_col=0)


def _all_codes() -> tuple[str, ...]:
    return tuple(scp_statements().index)





def codes() -> tuple[str, ...]:
    """The 71 PTB-XL statement codes, in ``scp_statements.csv`` order."""
    return _all_codes()


def branch_of() -> dict[str, str]:
    """Map each of the 71 codes to its branch: rhythm, morphology or diffuse."""
    t = _branch_table()
    return dict(zip(t["scp_code"], t["branch"]))


def parse_scp_codes(cell: str, ecg_id: int | None = None) -> dict[str, float]:
    """Parse a ``scp_codes`` cell (a Python dict literal) safely, without ``eval``."""
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError) as exc:
        raise MetadataError(f"malformed scp_codes cell {cell!r}", record=str(ecg_id)) from exc
    if not isinstance(value, dict):
        raise MetadataError(f"scp_codes is not a dict: {cell!r}", record=str(ecg_id))
    return {str(k): float(v) for k, v in value.items()}


def read_metadata(root: str | Path) -> pd.DataFrame:
    """Read ``ptbxl_database.csv`` with a parsed ``scp`` column; indexed by ``ecg_id``."""
    path = Path(root) / "ptbxl_database.csv"
    if not path.exists():
        raise MetadataError(f"no ptbxl_database.csv in {root}")
    df = pd.read_csv(path, index_col="ecg_id")
    df["scp"] = [parse_scp_codes(c, i) for i, c in zip(df.index, df["scp_codes"])]
    return df


def label_matrix(meta: pd.DataFrame, code_list: tuple[str, ...] | None = None) -> np.ndarray:
    """(n_records, n_codes) uint8; any listed code counts as positive (likelihood ignored)."""
    code_list = code_list or codes()
    idx = {c: j for j, c in enumerate(code_list)}
    y = np.zeros((len(meta), len(code_list)), dtype=np.uint8)
    for i, d in enumerate(meta["scp"]):
        for c in d:
            if c in idx:
                y[i, idx[c]] = 1
    return y


@dataclass
class PTBXLData:
    """Signals and labels of a PTB-XL-layout dataset (records that failed to load are in ``bad_records``)."""

    ecg_ids: np.ndarray            # (N,) int
    signals: np.ndarray            # (N, 12, T) float32 mV, preprocessed when requested
    labels: np.ndarray             # (N, 71) uint8
    folds: np.ndarray              # (N,) int
    fs: float
    meta: pd.DataFrame             # rows aligned with ecg_ids
    codes: tuple[str, ...] = field(default_factory=codes)
    bad_records: list[dict] = field(default_factory=list)   # [{ecg_id, reason}]

    def subset(self, mask: np.ndarray) -> "PTBXLData":
        return PTBXLData(self.ecg_ids[mask], self.signals[mask], self.labels[mask], self.folds[mask],
                         self.fs, self.meta.iloc[np.flatnonzero(mask)], self.codes, self.bad_records)

    def split(self, folds: tuple[int, ...]) -> "PTBXLData":
        return self.subset(np.isin(self.folds, folds))


def load_ptbxl(root: str | Path, fs: int = 100, folds: tuple[int, ...] | None = None,
               preprocess: bool = True, progress: bool = False) -> PTBXLData:
    """Load signals at ``fs`` (100 → ``filename_lr``, 500 → ``filename_hr``), skipping bad records."""
    from .record import read_record

    root = Path(root)
    meta = read_metadata(root)
    if folds is not None:
        meta = meta[meta["strat_fold"].isin(folds)]
    col = "filename_lr" if fs == 100 else "filename_hr"
    sigs, keep, bad = [], [], []
    for ecg_id, rel in zip(meta.index, meta[col]):
        try:
            rec = read_record(root / rel)
            if rec.fs != fs:
                raise ECGDataError(f"expected {fs} Hz, file is {rec.fs:g} Hz", str(ecg_id))
            sigs.append(rec.signal)
            keep.append(ecg_id)
        except ECGDataError as exc:
            bad.append({"ecg_id": int(ecg_id), "reason": exc.reason})
            log.warning("skipping record %s: %s", ecg_id, exc.reason)
    meta = meta.loc[keep]
    signals = np.stack(sigs) if sigs else np.zeros((0, 12, 10 * fs), np.float32)
    if preprocess and len(signals):
        from .preprocess import highpass
        signals = highpass(signals, fs)
    return PTBXLData(np.asarray(keep, dtype=np.int64), signals.astype(np.float32), label_matrix(meta),
                     meta["strat_fold"].to_numpy(int), float(fs), meta, bad_records=bad)
