"""Writes real WFDB records (through ``wfdb.wrsamp``) for the bad-input tests, from a real PTB-XL signal."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import wfdb

PTBXL_LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def real_signal(fixtures_dir: Path, fs: int = 100) -> np.ndarray:
    """(T, 12) mV of PTB-XL ecg_id 1 at ``fs`` (100 or 500 Hz), leads in PTB-XL order."""
    sub = "records100/00000/00001_lr" if fs == 100 else "records500/00000/00001_hr"
    return wfdb.rdrecord(str(fixtures_dir / "ptbxl" / sub)).p_signal


def write_record(directory: Path, name: str, signal: np.ndarray, fs: float,
                 lead_names: Sequence[str] = PTBXL_LEADS, units: str = "mV",
                 adc_gain: float = 1000.0) -> Path:
    """Write ``signal`` (T, n_leads) as a format-16 WFDB record; returns the record path (no suffix)."""
    directory.mkdir(parents=True, exist_ok=True)
    n = signal.shape[1]
    wfdb.wrsamp(name, fs=fs, units=[units] * n, sig_name=list(lead_names), p_signal=signal,
                fmt=["16"] * n, adc_gain=[adc_gain] * n, baseline=[0] * n, write_dir=str(directory))
    return directory / name


def edit_header(record: Path, old: str, new: str, line: int = 0) -> None:
    """Replace ``old`` by ``new`` on one line of the record's ``.hea`` file."""
    hea = record.with_suffix(".hea")
    lines = hea.read_text().splitlines()
    assert old in lines[line], (old, lines[line])
    lines[line] = lines[line].replace(old, new)
    hea.write_text("\n".join(lines) + "\n")
