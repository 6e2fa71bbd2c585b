"""The generator's 100 Hz files, decimated the way PTB-XL's ``records100`` were.

PTB-XL's 100 Hz files keep the ECG band up to about 42 Hz and cut above ~45 Hz. Measured on the 300
real records shipped with the project (``records100`` against their own ``records500``; Welch power,
60 records): the project's resampler (:func:`data_access.preprocess.resample`, pass band to 40 Hz, chosen
to kill 50 Hz mains in *our* inputs) leaves the real files with 1.9x the generated 35-40 Hz power and
6.5x the 40-45 Hz power, so a model trained on generated 100 Hz files never sees the upper band that every
real PTB-XL record carries. ``SynthConfig(lowrate_filter="ptbxl")`` writes ``records100`` with a gentler
Kaiser FIR (-6 dB at 90 % of the output Nyquist; on 200 generated vs 200 real records the real/generated
power is then 1.2 at 35-40 Hz and 1.1 at 40-45 Hz). Measured by training on generated and testing on the
real 300, it changed nothing beyond the run-to-run spread, so it is an option, not the default.
Everything the *model* reads at other rates (MIMIC 500 Hz, uploads) goes through the project's resampler.
"""
from __future__ import annotations

import numpy as np

from ..preprocess import resample

# -6 dB point as a fraction of the output Nyquist, FIR length and Kaiser beta (fitted to the measurement
# above; the project's resampler: 0.8, 20, 8)
PTBXL_CUTOFF = 0.9
PTBXL_TAPS_PER_RATE = 40
PTBXL_BETA = 8.0


def ptbxl_decimate(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """:func:`data_access.preprocess.resample` of ``x`` (..., samples) from ``fs_in`` to ``fs_out`` with
    PTB-XL's gentler anti-aliasing (zero phase), float32."""
    return resample(x, fs_in, fs_out, cutoff=PTBXL_CUTOFF, taps_per_rate=PTBXL_TAPS_PER_RATE, beta=PTBXL_BETA)
