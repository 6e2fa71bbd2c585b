"""Preprocessing shared by training and inference: 0.5 Hz zero-phase high-pass, 500→100 Hz resampling,
and :func:`to_model_input`, the one path from any validated record to what the model sees."""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
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


# Pass band end (fraction of the output Nyquist) and FIR length (taps per unit of the larger rate factor)
# of the project's resampler; data_access.synth.lowrate uses the same mechanism with PTB-XL's own values.
CUTOFF = 0.8
TAPS_PER_RATE = 20


@lru_cache(maxsize=8)
def _antialias_fir(up: int, down: int, cutoff: float = CUTOFF, taps_per_rate: int = TAPS_PER_RATE,
                   beta: float = 8.0) -> np.ndarray:
    """Kaiser FIR for ``resample_poly`` with its pass band ending at ``cutoff`` of the output Nyquist.

    scipy's default filter cuts off exactly at the output Nyquist, where 50 Hz mains sits for a 100 Hz
    output, so about half of that interference would survive and alias. Ending the pass band at 40 Hz
    (80 %, for 100 Hz) removes mains by > 40 dB while the ECG band the model uses passes unchanged.
    """
    rate = max(up, down)
    taps = ss.firwin(taps_per_rate * rate + 1, cutoff / rate, window=("kaiser", beta))
    return taps * up


def resample(x: np.ndarray, fs_in: float, fs_out: float, cutoff: float = CUTOFF,
             taps_per_rate: int = TAPS_PER_RATE, beta: float = 8.0) -> np.ndarray:
    """Anti-aliased polyphase resampling along the last axis (zero phase), float32.

    The one resampler of the project: training files of the demo generator, MIMIC 500 Hz records and
    uploaded records all go through it with the default filter, so the model never sees two different
    filters (the other parameters exist for the generator's optional PTB-XL-like 100 Hz files).
    """
    if float(fs_in) == float(fs_out):
        return np.asarray(x, dtype=np.float32).copy()
    frac = Fraction(float(fs_out) / float(fs_in)).limit_denominator(1000)
    up, down = frac.numerator, frac.denominator
    window = _antialias_fir(up, down, cutoff, taps_per_rate, beta)
    return ss.resample_poly(x, up, down, axis=-1, window=window).astype(np.float32)


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
