"""Beat timing: sinus rhythm with heart-rate variability, atrial fibrillation, premature ventricular beats.

- Sinus (SR / SBRAD / STACH): SR rates are drawn around 70 bpm (normal, sd 9, within 60-95), the others
  uniformly in their range; RR = 60/HR modulated by respiratory sinus arrhythmia (0.15-0.35 Hz) and a
  slow (Mayer-wave, ~0.1 Hz) component; RR coefficient of variation about 2-4 %.
- SARRH (sinus arrhythmia, 50-90 bpm, around 63): sinus beats whose RR swings with respiration by 14-30 % peak to peak
  (PTB-XL codes it instead of SR).
- AFLT (atrial flutter): sawtooth F waves at 240-330 per minute, no P waves, each QRS after a whole number
  of flutter cycles (2:1, 4:1 or variable block).
- AFIB: RR intervals independent and irregularly irregular (gamma distributed, CV 0.17-0.3, never below
  0.3 s), no P waves, and a fibrillatory baseline (f waves, 4-8 Hz, 0.05-0.15 mV) from the atria.
- PVC: a sinus or AF beat replaced by an early ectopic beat (coupling 50-70 % of RR, no P), with the
  following beat on schedule (compensatory pause).
QT follows the preceding RR by Fridericia's formula (QT = QTc * RR^(1/3)).
"""
from __future__ import annotations

import numpy as np

from .beats import BeatTrain

# Heart-rate ranges (bpm) per rhythm label.
HR_RANGES: dict[str, tuple[float, float]] = {
    "SR": (60.0, 95.0),
    "SBRAD": (40.0, 55.0),
    "STACH": (105.0, 145.0),
    "AFIB": (65.0, 130.0),
    "SARRH": (50.0, 90.0),
    "AFLT": (60.0, 170.0),      # not drawn: follows from the flutter rate and the conduction ratio
}
FLUTTER_HZ = (4.0, 5.5)         # atrial flutter cycle 180-250 ms (240-330 F waves per minute)


def flutter_rr(rng: np.random.Generator, flutter_hz: float, n_beats: int) -> np.ndarray:
    """RR intervals of atrial flutter: whole numbers of flutter cycles (2:1, 4:1 or variable 2-4:1 block)."""
    mode = rng.choice(["2:1", "4:1", "variable"], p=[0.4, 0.25, 0.35])
    if mode == "2:1":
        k = np.full(n_beats, 2)
    elif mode == "4:1":
        k = np.full(n_beats, 4)
    else:
        k = rng.choice([2, 3, 4], size=n_beats, p=[0.4, 0.3, 0.3])
    return k / flutter_hz


def flutter_waves(t: np.ndarray, flutter_hz: float, first_f_s: float) -> np.ndarray:
    """Scalar sawtooth F waves in [-1, 1]: slow descent, quick rise (the 'negative sawtooth' of lead II),
    with an F wave starting at ``first_f_s`` (so that the conducted QRS complexes lock to the F waves)."""
    phase = ((t - first_f_s) * flutter_hz) % 1.0
    return np.where(phase < 0.75, 1.0 - 2.0 * phase / 0.75, -1.0 + 2.0 * (phase - 0.75) / 0.25)


def sinus_rr(rng: np.random.Generator, hr_bpm: float, n_beats: int, arrhythmia: bool = False) -> np.ndarray:
    """Sinus RR intervals; ``arrhythmia``: marked respiratory sinus arrhythmia (RR swings of 14-30 %)."""
    mean_rr = 60.0 / hr_bpm
    t = np.cumsum(np.full(n_beats, mean_rr))
    resp_amp = rng.uniform(0.07, 0.15) if arrhythmia else rng.uniform(0.01, 0.03)
    resp = resp_amp * np.sin(2 * np.pi * rng.uniform(0.15, 0.35) * t + rng.uniform(0, 2 * np.pi))
    mayer = rng.uniform(0.005, 0.015) * np.sin(2 * np.pi * 0.1 * t + rng.uniform(0, 2 * np.pi))
    jitter = rng.normal(0, 0.006, n_beats)
    return mean_rr * (1 + resp + mayer + jitter)


def af_rr(rng: np.random.Generator, hr_bpm: float, n_beats: int) -> np.ndarray:
    mean_rr = 60.0 / hr_bpm
    cv = rng.uniform(0.17, 0.3)
    shape = 1.0 / cv ** 2
    rr = rng.gamma(shape, mean_rr / shape, n_beats)
    return np.maximum(rr, 0.3)


def beat_train(rng: np.random.Generator, rhythm: str, duration_s: float, qtc_s: float,
               n_pvc: int = 0, hr_bpm: float | None = None,
               flutter_hz: float | None = None) -> tuple[BeatTrain, float]:
    """Beats covering [-1 s, duration + 1 s]; returns the train and the heart rate drawn (bpm).

    ``flutter_hz``: the flutter rate of an AFLT record (RR = whole numbers of flutter cycles)."""
    lo, hi = HR_RANGES[rhythm]
    if rhythm == "AFLT":
        if flutter_hz is None:
            raise ValueError("an AFLT beat train needs the flutter rate")
        hr = 60.0 * flutter_hz / 3.0        # provisional; the mean of the drawn RR is returned below
    elif hr_bpm is not None:
        hr = float(hr_bpm)
    elif rhythm in ("SR", "SARRH"):
        # Resting sinus rates cluster near 70 bpm (real PTB-XL NORM: median 67, IQR 61-76), not uniformly;
        # marked sinus arrhythmia is a feature of slower rates (real PTB-XL SARRH: median 61 bpm).
        hr = float(np.clip(rng.normal(70.0, 9.0) if rhythm == "SR" else rng.normal(63.0, 7.0), lo, hi))
    else:
        hr = float(rng.uniform(lo, hi))
    n = int(np.ceil((duration_s + 2.5) * max(hr, 40) / 60.0 * 1.6)) + 4
    if rhythm == "AFLT":
        rr = flutter_rr(rng, float(flutter_hz), n)
        hr = float(60.0 / rr.mean())
    elif rhythm == "AFIB":
        rr = af_rr(rng, hr, n)
    else:
        rr = sinus_rr(rng, hr, n, arrhythmia=rhythm == "SARRH")
    onsets = -1.0 + rng.uniform(0, rr[0]) + np.concatenate([[0.0], np.cumsum(rr[:-1])])
    keep = onsets < duration_s + 1.0
    onsets, rr = onsets[keep], rr[keep]
    rr_prev = np.concatenate([[rr[0]], np.diff(onsets)])
    ectopic = np.zeros(len(onsets), dtype=bool)
    if n_pvc:
        inside = np.flatnonzero((onsets > 0.6) & (onsets < duration_s - 0.6))
        inside = inside[(inside > 0) & (inside < len(onsets) - 1)]
        chosen: list[int] = []
        for i in rng.permutation(inside):
            if all(abs(i - c) > 1 for c in chosen):
                chosen.append(int(i))
            if len(chosen) == n_pvc:
                break
        for i in chosen:
            onsets[i] = onsets[i - 1] + rng.uniform(0.5, 0.7) * rr_prev[i]
            ectopic[i] = True
        rr_prev = np.concatenate([[rr_prev[0]], np.diff(onsets)])
    qt_scale = (qtc_s / 0.40) * np.clip(rr_prev, 0.3, 2.0) ** (1 / 3)
    amp_mod = 1 + rng.uniform(0.02, 0.06) * np.sin(2 * np.pi * rng.uniform(0.15, 0.3) * onsets
                                                   + rng.uniform(0, 2 * np.pi))
    has_p = np.full(len(onsets), rhythm not in ("AFIB", "AFLT"))
    return BeatTrain(onsets_s=onsets, ectopic=ectopic, has_p=has_p, qt_scale=qt_scale, amp_mod=amp_mod), hr


def fibrillatory_waves(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """Scalar atrial f-wave activity: a few 4-8 Hz oscillations with drifting frequency and amplitude."""
    out = np.zeros_like(t)
    amp = rng.uniform(0.05, 0.14)
    for _ in range(3):
        f0 = rng.uniform(4.5, 8.0)
        drift = rng.uniform(0.2, 0.8) * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t + rng.uniform(0, 6.3))
        phase = 2 * np.pi * np.cumsum(f0 + drift) * (t[1] - t[0])
        env = 1 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t + rng.uniform(0, 6.3))
        out += env * np.sin(phase + rng.uniform(0, 2 * np.pi))
    return amp * out / np.sqrt(3)
