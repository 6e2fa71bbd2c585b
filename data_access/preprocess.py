"""Preprocessing shared by training and inference: 0.5 Hz zero-phase high-pass, 500→100 Hz resampling,
and :func:`to_model_input`, the one path from any validated record to what the model sees."""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import signal as ss

from .errors import RecordLengthError

if TYPE_CHECKING:
    from .record import ECGRecord

MODEL_FS = 100
MODEL_N_SAMPLES = 1000
HIGHPASS_HZ = 0.5


def highpass(x: np.ndarray, fs: float, cutoff_hz: float = HIGHPASS_HZ, order: int = 1) -> np.ndarray:
    """First-order Butterworth high-pass applied forward and backward (zero phase) along the last axis.

    Removes baseline wander without shifting waves in time (filtfilt doubles the effective order).
    """
    sos = ss.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")
    return ss.sosfiltfilt(sos, x, axis=-1).astype(np.float32)


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along the last axis.

    ``scipy.signal.resample_poly`` low-pass filters with a Kaiser-windowed FIR at the new Nyquist
    frequency before decimating, so 500→100 Hz does not alias content above 50 Hz into the band.
    """
    if float(fs_in) == float(fs_out):
        return np.asarray(x, dtype=np.float32).copy()
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(1000)
    return ss.resample_poly(x, frac.numerator, frac.denominator, axis=-1).astype(np.float32)


def crop(x: np.ndarray, n_samples: int, where: Literal["start", "center"] = "start",
         record: str | None = None) -> np.ndarray:
    """Keep ``n_samples`` along the last axis; raise :class:`RecordLengthError` when ``x`` is shorter."""
    n = x.shape[-1]
    if n < n_samples:
        raise RecordLengthError(f"{n} samples after resampling; the model needs {n_samples}", record)
    start = 0 if where == "start" else (n - n_samples) // 2
    return x[..., start:start + n_samples]


def prepare_signal(signal: np.ndarray, fs_in: float, fs: float = MODEL_FS, n_samples: int = MODEL_N_SAMPLES,
                   where: Literal["start", "center"] = "start", record: str | None = None) -> np.ndarray:
    """(12, T) mV at ``fs_in`` → (12, n_samples) float32 at ``fs``: resample, high-pass, crop.

    The high-pass runs on the whole record before cropping so filter edge effects fall outside the crop
    as far as possible. The same steps as training (see :func:`data_access.ptbxl.load_ptbxl`).
    """
    x = resample(signal, fs_in, fs)
    if x.shape[-1] < n_samples:
        raise RecordLengthError(f"record is {signal.shape[-1] / fs_in:.2f} s long; the model needs "
                                f"{n_samples / fs:g} s ({n_samples} samples at {fs:g} Hz)", record)
    return np.ascontiguousarray(crop(highpass(x, fs), n_samples, where, record), dtype=np.float32)


def to_model_input(record: "ECGRecord", fs: float = MODEL_FS, n_samples: int = MODEL_N_SAMPLES,
                   where: Literal["start", "center"] = "start") -> np.ndarray:
    """A validated :class:`~data_access.record.ECGRecord` at any supported rate → the model's (12, n) input.

    Resamples (e.g. 500 → 100 Hz, anti-aliased), applies the 0.5 Hz zero-phase high-pass, and keeps the
    first (or central) ``n_samples``; too-short records raise :class:`RecordLengthError`.
    """
    return prepare_signal(record.signal, record.fs, fs, n_samples, where, record.record_id)
