"""Recording noise, generated per electrode (RA, LA, LL, C1-C6) and mixed into the 12 leads.

- Baseline wander: respiration and electrode drift, a few sinusoids at 0.05-0.5 Hz per electrode.
- Powerline interference: 50 Hz (PTB-XL was recorded in Germany), slightly different amplitude and
  phase per electrode.
- Muscle (EMG) noise: broadband Gaussian noise, with occasional bursts (amplitude envelope).
Generating at the electrodes keeps the lead algebra of real recordings (III = II - I holds for noise too).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import electrode_mixing


# Skeletal muscle under the limb electrodes adds more broadband noise than the chest electrodes pick up:
# real PTB-XL limb leads carry about 3x the relative 20-40 Hz power of the generated ones without it.
LIMB_EMG_FACTOR = 1.6
# Limb leads see a smaller ECG than the chest leads, but their electrodes drift less relative to it in the
# real records (0-0.5 Hz share of lead I power): limb electrodes get a smaller baseline wander.
LIMB_WANDER_FACTOR = 0.6


@dataclass(frozen=True)
class NoiseLevels:
    """Typical noise amplitudes in mV; each record draws its own levels around them (x0.3 .. x1.7)."""

    baseline_mv: float = 0.065
    powerline_mv: float = 0.012
    emg_mv: float = 0.02
    burst_prob: float = 0.08
    powerline_hz: float = 50.0

    def scaled(self, factor: float) -> "NoiseLevels":
        return NoiseLevels(self.baseline_mv * factor, self.powerline_mv * factor, self.emg_mv * factor,
                           self.burst_prob, self.powerline_hz)


def electrode_noise(rng: np.random.Generator, n_samples: int, fs: float,
                    levels: NoiseLevels) -> tuple[np.ndarray, dict[str, float | bool]]:
    """(12, n_samples) noise in mV plus what was drawn (for the metadata's noise columns)."""
    t = np.arange(n_samples) / fs
    n_el = 9
    bw_level = levels.baseline_mv * rng.uniform(0.3, 1.7)
    pl_level = levels.powerline_mv * rng.uniform(0.0, 1.7)
    emg_level = levels.emg_mv * rng.uniform(0.3, 1.7)
    el = _baseline_wander(rng, t, n_el, bw_level)
    el[:3] *= LIMB_WANDER_FACTOR
    if pl_level > 0:
        # a*sin(wt + phi) = a*cos(phi)*sin(wt) + a*sin(phi)*cos(wt): two shared basis signals.
        pl_amp = pl_level * rng.uniform(0.5, 1.0, n_el)
        pl_ph = rng.uniform(-0.3, 0.3, n_el) + rng.uniform(0, 2 * np.pi)
        w = 2 * np.pi * levels.powerline_hz * t
        el += np.outer(pl_amp * np.cos(pl_ph), np.sin(w)) + np.outer(pl_amp * np.sin(pl_ph), np.cos(w))
    emg = rng.standard_normal((n_el, n_samples), dtype=np.float32) * emg_level
    emg[:3] *= LIMB_EMG_FACTOR
    burst = rng.random() < levels.burst_prob
    if burst:
        centre, width = rng.uniform(0, t[-1]), rng.uniform(0.3, 1.5)
        emg *= 1 + rng.uniform(3, 6) * np.exp(-0.5 * ((t - centre) / width) ** 2)
    el += emg
    info = {"baseline_mv": float(bw_level), "powerline_mv": float(pl_level), "emg_mv": float(emg_level),
            "burst": bool(burst)}
    return electrode_mixing() @ el, info


def _baseline_wander(rng: np.random.Generator, t: np.ndarray, n_el: int, level: float) -> np.ndarray:
    """Per-electrode sums of three 0.05-0.5 Hz sinusoids, computed on a 25 Hz grid and interpolated
    (the wander has no content above 0.5 Hz, and ``np.sin`` on every sample is the costly part)."""
    coarse = np.arange(0.0, t[-1] + 0.08, 0.04)
    f = rng.uniform(0.05, 0.5, (n_el, 3, 1))
    a = rng.uniform(0.2, 1.0, (n_el, 3, 1)) * level / np.sqrt(3)
    ph = rng.uniform(0, 2 * np.pi, (n_el, 3, 1))
    wave = (a * np.sin(2 * np.pi * f * coarse + ph)).sum(axis=1)
    return np.stack([np.interp(t, coarse, w) for w in wave])
