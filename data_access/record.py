"""Read one 12-lead WFDB record (PTB-XL ``.dat`` or CinC ``.mat``) into a validated :class:`ECGRecord`.

CONTRACT (other packages rely on it): ``read_record(path) -> ECGRecord`` with ``signal`` of shape
(12, n_samples), float32, millivolts, leads in :data:`data_access.leads.CANONICAL_LEADS` order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import RecordReadError
from .leads import CANONICAL_LEADS


@dataclass(frozen=True)
class ECGRecord:
    """A validated 12-lead ECG.

    ``signal`` is (12, n_samples) float32 in mV, leads in canonical order; ``fs`` in Hz.
    """

    record_id: str
    signal: np.ndarray
    fs: float
    leads: tuple[str, ...] = CANONICAL_LEADS
    metadata: dict[str, Any] = field(default_factory=dict)
    dx_snomed: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.signal.shape[1] / self.fs


def read_record(path: str | Path) -> ECGRecord:
    """Read a WFDB record given its path with or without the ``.hea`` suffix."""
    import wfdb

    p = Path(path)
    base = p.with_suffix("") if p.suffix in {".hea", ".dat", ".mat"} else p
    try:
        rec = wfdb.rdrecord(str(base), physical=True)
    except Exception as exc:  # wfdb raises many types for bad files
        raise RecordReadError(f"could not read WFDB record ({exc})", record=base.name) from exc
    from .signal_checks import validate_signal

    sig = validate_signal(rec.p_signal.T, rec.sig_name, rec.fs, record=base.name)
    dx: tuple[str, ...] = ()
    for line in rec.comments or []:
        if line.strip().lower().startswith("dx:"):
            dx = tuple(c.strip() for c in line.split(":", 1)[1].split(",") if c.strip())
    return ECGRecord(record_id=base.name, signal=sig, fs=float(rec.fs), dx_snomed=dx,
                     metadata={"comments": list(rec.comments or [])})
