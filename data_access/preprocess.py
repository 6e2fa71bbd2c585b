"""Preprocessing shared by training and inference: 0.5 Hz zero-phase high-pass, 500→100 Hz resampling."""
from __future__ import annotations

import numpy as np
from scipy import signal as ss


def highpass(x: np.ndarray, fs: float, cutoff_hz: float = 0.5, order: int = 1) -> np.ndarray:
    """First-order Butterworth high-pass applied forward and backward (zero phase) along the last axis."""
    sos = ss.butter(order, cutoff_hz, btype="highpass", fs=fs, output="sos")
    return ss.sosfiltfilt(sos, x, axis=-1).astype(np.float32)


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling with an anti-aliasing FIR filter along the last axis."""
    from fractions import Fraction

    frac = Fraction(fs_out / fs_in).limit_denominator(1000)
    return ss.resample_poly(x, frac.numerator, frac.denominator, axis=-1).astype(np.float32)
