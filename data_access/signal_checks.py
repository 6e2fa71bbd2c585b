"""Checks that turn a raw multi-lead array into a validated canonical 12-lead signal (or a typed error)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .errors import LeadError, RecordLengthError, SamplingRateError, SignalQualityError
from .leads import CANONICAL_LEADS, canonical_order

SUPPORTED_FS: tuple[float, ...] = (100.0, 500.0)
MIN_DURATION_S = 10.0
# A lead whose peak-to-peak amplitude is below this (mV) carries no signal (a disconnected electrode).
FLAT_THRESHOLD_MV = 1e-3


def check_fs(fs: float, record: str | None = None,
             supported_fs: Sequence[float] = SUPPORTED_FS, expected_fs: float | None = None) -> None:
    """Raise :class:`SamplingRateError` if ``fs`` is unsupported or differs from ``expected_fs``."""
    if expected_fs is not None and float(fs) != float(expected_fs):
        raise SamplingRateError(f"expected {float(expected_fs):g} Hz, the record is sampled at {float(fs):g} Hz",
                                record)
    if float(fs) not in tuple(float(f) for f in supported_fs):
        allowed = " or ".join(f"{float(f):g}" for f in supported_fs)
        raise SamplingRateError(f"sampling rate {float(fs):g} Hz is not supported (use {allowed} Hz)", record)


def validate_signal(signal: np.ndarray, lead_names: Sequence[str], fs: float,
                    record: str | None = None, min_duration_s: float = MIN_DURATION_S, *,
                    supported_fs: Sequence[float] = SUPPORTED_FS, expected_fs: float | None = None,
                    allow_flat: bool = False) -> np.ndarray:
    """Return ``signal`` as (12, n) float32 in canonical lead order, or raise a typed :class:`ECGDataError`.

    ``signal`` is (n_leads, n_samples) with rows named by ``lead_names`` in any order or casing.
    Checks, in order: 12 recognised, distinct leads; ``fs`` supported (and equal to ``expected_fs`` when
    given); at least ``min_duration_s`` long; no NaN samples; no flat lead (unless ``allow_flat``).
    """
    arr = np.asarray(signal)
    order = canonical_order(lead_names, record)
    if arr.ndim != 2 or arr.shape[0] != len(lead_names):
        raise RecordLengthError(f"signal of shape {arr.shape} does not match {len(lead_names)} named leads "
                                "(expected (n_leads, n_samples))", record)
    check_fs(fs, record, supported_fs, expected_fs)
    n = arr.shape[1]
    need = int(round(min_duration_s * float(fs)))
    if n < need:
        raise RecordLengthError(f"record is {n / float(fs):.1f} s long ({n} samples at {float(fs):g} Hz); "
                                f"at least {min_duration_s:g} s ({need} samples) needed", record)
    out = arr.astype(np.float32, copy=False)[order]
    nan_per_lead = np.isnan(out).sum(axis=1)
    if nan_per_lead.any():
        bad = [f"{CANONICAL_LEADS[i]} ({nan_per_lead[i]} of {n})" for i in range(12) if nan_per_lead[i]]
        raise SignalQualityError(f"NaN samples in lead(s) {', '.join(bad)}", record)
    if not np.isfinite(out).all():
        raise SignalQualityError("infinite sample values", record)
    if not allow_flat:
        ptp = np.ptp(out, axis=1)
        flat = [CANONICAL_LEADS[i] for i in range(12) if ptp[i] < FLAT_THRESHOLD_MV]
        if flat:
            raise SignalQualityError(f"flat lead(s) with no signal (peak-to-peak < {FLAT_THRESHOLD_MV:g} mV): "
                                     f"{', '.join(flat)}", record)
    return np.ascontiguousarray(out)


def check_model_input(signals: np.ndarray, n_samples: int | None = None, *, n_leads: int = 12,
                      batched: bool = False, finite: bool = True, fs: float | None = None,
                      record: str | None = None, dtype: type = np.float32) -> np.ndarray:
    """``signals`` as ``dtype`` if it is a preprocessed model input, else a typed :class:`ECGDataError`.

    The one check of an array that skips the record readers (the bundle's ``predict``, the explainers,
    the renderers): shape ``(n_leads, T)``, or ``(N, n_leads, T)`` with ``batched`` (a single
    ``(n_leads, T)`` is then promoted to ``(1, n_leads, T)``); ``T == n_samples`` when given; all values
    finite when ``finite``. Raises :class:`LeadError` (shape), :class:`RecordLengthError` (length) or
    :class:`SignalQualityError` (NaN/inf); all three are also ``ValueError``.
    """
    x = np.asarray(signals, dtype=dtype)
    if batched and x.ndim == 2:
        x = x[None]
    ndim = 3 if batched else 2
    if x.ndim != ndim or x.shape[-2] != n_leads:
        want = f"(N, {n_leads}, {n_samples or 'T'})" if batched else f"({n_leads}, {n_samples or 'T'})"
        raise LeadError(f"expected signals shaped {want}, got {tuple(np.shape(signals))}", record)
    if n_samples is not None and x.shape[-1] != n_samples:
        at = f" ({n_samples / fs:g} s at {fs:g} Hz)" if fs else ""
        raise RecordLengthError(f"the model takes {n_samples} samples{at}; got {x.shape[-1]}. "
                                "Resample/crop first.", record)
    if finite and not np.isfinite(x).all():
        raise SignalQualityError("signals contain NaN or infinite values", record)
    return x
