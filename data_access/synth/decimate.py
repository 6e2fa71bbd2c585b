"""Anti-aliased decimation of the 500 Hz model output to lower rates (e.g. PTB-XL's 100 Hz files).

``scipy.signal.resample_poly``'s default filter has its cut-off exactly at the output Nyquist frequency,
where 50 Hz mains lies for a 100 Hz output: it would keep about half of the interference. Here the
low-pass ends at 80 % of the output Nyquist (40 Hz for 100 Hz), so mains is removed (> 40 dB) while the
ECG band used by the model (< 40 Hz) passes unchanged.
"""
from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

import numpy as np
from scipy import signal as ss


@lru_cache(maxsize=8)
def _fir(up: int, down: int) -> np.ndarray:
    rate = max(up, down)
    cutoff = 0.8 / rate                               # fraction of the upsampled Nyquist
    taps = ss.firwin(20 * rate + 1, cutoff, window=("kaiser", 8.0))
    return taps * up


def decimate(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Resample along the last axis from ``fs_in`` to ``fs_out`` (float32), zero phase."""
    if fs_out == fs_in:
        return np.asarray(x, dtype=np.float32)
    frac = Fraction(fs_out / fs_in).limit_denominator(1000)
    y = ss.resample_poly(x, frac.numerator, frac.denominator, axis=-1,
                         window=_fir(frac.numerator, frac.denominator))
    return y.astype(np.float32)
