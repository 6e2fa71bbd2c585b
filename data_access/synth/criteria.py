"""Measurements on a noiseless rendered beat, used to make each label meet its clinical criterion.

The generator does not trust its own parameters: after building a beat template it renders one clean
beat and measures it the way a cardiologist would (Sokolow-Lyon voltage, peak-to-peak QRS voltage per
lead, ST level 60 ms after J, T-wave polarity), then rescales the relevant waves until the criterion of
every present label holds and the criterion of every absent label does not.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .beats import BeatTemplate, render_single_beat

LIMB = slice(0, 6)
CHEST = slice(6, 12)
V1, V2, V3, V5, V6 = 6, 7, 8, 10, 11


@dataclass(frozen=True)
class BeatMeasures:
    qrs_pp: np.ndarray        # (12,) peak-to-peak QRS voltage, mV
    r_max: np.ndarray         # (12,) most positive QRS deflection, mV
    s_min: np.ndarray         # (12,) most negative QRS deflection, mV (<= 0)
    st60: np.ndarray          # (12,) ST level 60 ms after the J point, mV
    t_peak: np.ndarray        # (12,) signed T-wave extreme (largest |value| after the ST segment), mV
    qrs_s: float              # QRS duration of the template, s

    @property
    def sokolow_lyon(self) -> float:
        """S in V1 plus the taller R of V5/V6 (LVH when >= 3.5 mV)."""
        return float(-self.s_min[V1] + max(self.r_max[V5], self.r_max[V6]))


def measure(template: BeatTemplate, lead_mat: np.ndarray, fs: float = 500.0) -> BeatMeasures:
    beat, onset = render_single_beat(template, lead_mat, fs)
    start, end = template.qrs_extent_s()
    i0 = max(int(round((onset + start) * fs)), 0)
    i1 = int(round((onset + end) * fs)) + 1
    qrs = beat[:, i0:i1]
    j = onset + template.j_point_s
    st = beat[:, int(round((j + 0.06) * fs))]
    tw = beat[:, int(round((j + 0.08) * fs)):int(round((j + 0.45) * fs))]
    t_idx = np.abs(tw).argmax(axis=1)
    t_peak = tw[np.arange(tw.shape[0]), t_idx]
    return BeatMeasures(qrs_pp=np.ptp(qrs, axis=1), r_max=qrs.max(axis=1), s_min=np.minimum(qrs.min(axis=1), 0),
                        st60=st, t_peak=t_peak, qrs_s=end - start)


def is_low_voltage(m: BeatMeasures) -> bool:
    """Low QRS voltage in frontal AND horizontal leads: every limb lead < 0.5 mV, every chest lead < 1.0 mV."""
    return bool(m.qrs_pp[LIMB].max() < 0.5 and m.qrs_pp[CHEST].max() < 1.0)


def n_leads_at_least(values: np.ndarray, leads: list[int], threshold: float) -> int:
    return int(np.sum(values[leads] >= threshold))
