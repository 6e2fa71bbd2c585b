"""Checks that turn a raw multi-lead array into a validated canonical 12-lead signal (or a typed error)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import LeadError, SamplingRateError, SignalQualityError, RecordLengthError
from .leads import CANONICAL_LEADS, normalise_lead_name

SUPPORTED_FS = (100.0, 500.0)
MIN_DURATION_S = 10.0


def validate_signal(signal: np.ndarray, lead_names: Sequence[str], fs: float,
                    record: str | None = None, min_duration_s: float = MIN_DURATION_S) -> np.ndarray:
    """Return (12, n) float32 in canonical order, or raise a typed :class:`ECGDataError`."""
    if len(lead_names) != 12:
        raise LeadError(f"expected 12 leads, found {len(lead_names)} ({', '.join(lead_names)})", record)
    canon = [normalise_lead_name(n) for n in lead_names]
    unknown = [n for n, c in zip(lead_names, canon) if c is None]
    if unknown:
        raise LeadError(f"unrecognised lead name(s): {', '.join(unknown)}", record)
    dup = sorted({c for c in canon if canon.count(c) > 1})
    if dup:
        raise LeadError(f"duplicated lead(s): {', '.join(dup)}", record)
    if float(fs) not in SUPPORTED_FS:
        raise SamplingRateError(f"sampling rate {fs:g} Hz is not supported (use 100 or 500 Hz)", record)
    n = signal.shape[1]
    if n < int(round(min_duration_s * fs)):
        raise RecordLengthError(f"record is {n / fs:.1f} s long; at least {min_duration_s:g} s needed", record)
    order = [canon.index(l) for l in CANONICAL_LEADS]
    out = np.asarray(signal, dtype=np.float32)[order]
    if np.isnan(out).any():
        bad = [CANONICAL_LEADS[i] for i in range(12) if np.isnan(out[i]).any()]
        raise SignalQualityError(f"NaN samples in lead(s) {', '.join(bad)}", record)
    flat = [CANONICAL_LEADS[i] for i in range(12) if np.ptp(out[i]) < 1e-3]
    if flat:
        raise SignalQualityError(f"flat lead(s) (no signal): {', '.join(flat)}", record)
    return out
