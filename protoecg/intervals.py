"""Measured ECG intervals (heart rate, PR, QRS, QT, QTc) from a wave delineator.

These are measurements of the signal, independent of the model: the review app shows them next to
the model's output so a clinician can check a prediction against the numbers. Values that cannot be
measured (no beats, no P waves in atrial fibrillation, a flat or noisy lead) are NaN with the reason
in ``note``; nothing here raises on a hard-to-read ECG.

Method (all at 500 Hz; slower records are up-sampled first):

- R peaks: NeuroKit2 (``ecg_clean`` + ``ecg_peaks``) on the rhythm lead (II, else V5, I, V2).
- QRS onset and offset: *global* boundaries from all 12 leads — the spatial velocity
  (sum over leads of |dx/dt|, 10 ms smoothing) stays below 15 % of its peak above baseline for
  20 ms (so the notch of a bundle-branch-block QRS does not end it early). NeuroKit2's
  single-lead DWT QRS boundaries ran 60-100 ms too wide on real PTB-XL records (a normal ECG came out
  at 180 ms), so they are not used; the 12-lead rule gives 74-93 ms on the normal PTB-XL sample and
  agrees within a few ms between the 100 Hz and 500 Hz versions of the same record.
- P onset and T offset: NeuroKit2's ``ecg_delineate(method="peak")`` on the rhythm lead (stable
  across sampling rates, unlike the DWT offsets on the same records).
- Each interval is the median over beats; QTc = QT / sqrt(RR in s) (Bazett).
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from data_access.leads import CANONICAL_LEADS

log = logging.getLogger(__name__)

_FS = 500
_MIN_BEATS = 3
_VELOCITY_FRACTION = 0.15
RHYTHM_LEADS: tuple[str, ...] = ("II", "V5", "I", "V2")


@dataclass(frozen=True)
class Intervals:
    """Median intervals over beats, in ms (heart rate in beats per minute); NaN = not measurable."""

    hr_bpm: float
    pr_ms: float
    qrs_ms: float
    qt_ms: float
    qtc_ms: float
    n_beats: int
    lead: str | None
    note: str = ""

    def as_dict(self) -> dict[str, float | int | str | None]:
        return asdict(self)


def _nan_result(note: str, lead: str | None = None, n_beats: int = 0, hr: float = math.nan,
                qrs: float = math.nan) -> Intervals:
    return Intervals(hr, math.nan, qrs, math.nan, math.nan, n_beats, lead, note)


def _median_ms(start: np.ndarray, end: np.ndarray, lo_ms: float, hi_ms: float) -> float:
    """Median of (end - start) over beats where both exist and the value is physiologically possible."""
    d = (np.asarray(end, float) - np.asarray(start, float)) / _FS * 1000.0
    d = d[np.isfinite(d) & (d >= lo_ms) & (d <= hi_ms)]
    return float(np.median(d)) if d.size else math.nan


def _aligned(waves: dict, key: str, n: int) -> np.ndarray:
    v = np.asarray(waves.get(key, []), dtype=float)
    return v[:n] if v.size >= n else np.concatenate([v, np.full(n - v.size, np.nan)])


def _to_500hz(sig: np.ndarray, fs: float) -> np.ndarray:
    from scipy.signal import resample_poly

    if round(fs) == _FS:
        return sig
    f = int(round(fs))
    g = math.gcd(f, _FS)
    return resample_poly(sig, _FS // g, f // g, axis=-1)


def qrs_boundaries(clean: np.ndarray, rpeaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global QRS onset/offset (sample indices, NaN where not found) from cleaned (n_leads, T) at 500 Hz."""
    v = np.abs(np.diff(clean, axis=1)).sum(axis=0)
    k = int(0.01 * _FS)
    v = np.convolve(v, np.ones(k) / k, mode="same")
    back, fwd, core = int(0.15 * _FS), int(0.20 * _FS), int(0.06 * _FS)
    quiet = int(0.02 * _FS)  # a boundary needs 20 ms of low velocity: notched QRS dips do not count
    on = np.full(rpeaks.size, np.nan)
    off = np.full(rpeaks.size, np.nan)
    for b, r in enumerate(rpeaks):
        lo, hi = r - back, r + fwd
        if lo - quiet < 0 or hi + quiet >= v.size:
            continue
        vmax = v[r - core:r + core].max()
        base = np.percentile(v[lo:hi], 5)
        low = v < base + _VELOCITY_FRACTION * (vmax - base)
        i = next((i for i in range(r, lo, -1) if low[i - quiet + 1:i + 1].all()), None)
        j = next((j for j in range(r, hi) if low[j:j + quiet].all()), None)
        if i is not None and j is not None:
            on[b], off[b] = i, j
    return on, off


def measure_intervals(signal: np.ndarray, fs: float, leads: Sequence[str] = RHYTHM_LEADS,
                      lead_names: Sequence[str] = CANONICAL_LEADS) -> Intervals:
    """Intervals of a (n_leads, T) mV ECG (normally 12 leads in canonical order)."""
    import neurokit2 as nk

    sig = np.asarray(signal, dtype=float)
    if sig.ndim != 2 or sig.shape[0] != len(lead_names):
        raise ValueError(f"expected a ({len(lead_names)}, T) signal, got shape {sig.shape}")
    if sig.shape[1] < 2 * fs:
        return _nan_result("the record is shorter than 2 s")
    if not np.all(np.isfinite(sig)):
        return _nan_result("the record holds missing samples")
    index = {name.upper(): i for i, name in enumerate(lead_names)}
    usable = [ld for ld in leads if ld.upper() in index and np.ptp(sig[index[ld.upper()]]) >= 0.05]
    if not usable:
        return _nan_result("the rhythm leads are flat or absent")
    lead = usable[0]
    x500 = _to_500hz(sig, fs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NeuroKit warns freely on short or noisy input
        try:
            clean = np.vstack([nk.ecg_clean(s, sampling_rate=_FS) for s in x500])
            _, info = nk.ecg_peaks(clean[index[lead.upper()]], sampling_rate=_FS)
            rpeaks = np.asarray(info["ECG_R_Peaks"], dtype=int)
        except Exception as exc:  # NeuroKit raises bare errors on pathological input
            log.debug("R-peak detection failed: %s", exc)
            return _nan_result(f"no heartbeat could be detected ({type(exc).__name__})", lead)
        if rpeaks.size < _MIN_BEATS:
            return _nan_result(f"only {rpeaks.size} beats detected", lead, int(rpeaks.size))
        rr_s = np.diff(rpeaks) / _FS
        rr_s = rr_s[(rr_s > 0.25) & (rr_s < 2.5)]
        rr = float(np.median(rr_s)) if rr_s.size else math.nan
        hr = 60.0 / rr if rr == rr else math.nan
        q_on, q_off = qrs_boundaries(clean, rpeaks)
        qrs = _median_ms(q_on, q_off, 40, 250)
        try:
            _, waves = nk.ecg_delineate(clean[index[lead.upper()]], rpeaks, sampling_rate=_FS,
                                        method="peak")
        except Exception as exc:
            log.debug("delineation failed: %s", exc)
            return _nan_result(f"P and T waves could not be delineated ({type(exc).__name__})",
                               lead, int(rpeaks.size), hr, qrs)
    n = rpeaks.size
    pr = _median_ms(_aligned(waves, "ECG_P_Onsets", n), q_on, 60, 400)
    qt = _median_ms(q_on, _aligned(waves, "ECG_T_Offsets", n), 200, 700)
    qtc = qt / math.sqrt(rr) if qt == qt and rr == rr else math.nan
    missing = [name for name, v in (("PR", pr), ("QRS", qrs), ("QT", qt)) if v != v]
    note = f"not measurable: {', '.join(missing)}" if missing else ""
    return Intervals(hr, pr, qrs, qt, qtc, int(n), lead, note)
