"""The beat template of one patient, and how each morphology/diffuse label changes it.

``normal_template`` builds a healthy beat from a patient's :class:`Anatomy` (heart orientation, voltage,
QRS width, PR, QTc). Each ``_apply_<code>`` function then changes specific waves the way the finding
changes cardiac activation or repolarisation (e.g. IMI adds an early dipole pointing away from the
inferior wall and weakens the inferior R, so III and aVF open with a Q wave). ``build_template`` applies them in a fixed,
physiological order and returns the template with notes (territories, measured criteria).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .beats import ATRIAL, ECTOPIC_QRS, ECTOPIC_REPOL, QRS, REPOL, BeatTemplate, Wave
from .geometry import frontal_axis_deg, rotation

TERRITORY_DIRS: dict[str, tuple[float, float, float]] = {
    "anterior": (0.15, 0.0, 1.0),
    "inferior": (0.0, 1.0, 0.1),
    "lateral": (1.0, -0.35, 0.1),
}
# Leads in which a territory's ST/T finding is read (canonical lead indices).
TERRITORY_LEADS: dict[str, list[int]] = {
    "anterior": [6, 7, 8, 9],
    "inferior": [1, 2, 5],
    "lateral": [0, 4, 10, 11],
}
STD_DIRS: dict[str, tuple[float, float, float]] = {
    "lateral": (0.75, 0.55, 0.25),    # depression in I, II, V4-V6 with ST elevation in aVR
    "anterior": (0.1, 0.1, 1.0),      # depression in V1-V4 (mirror of posterior injury)
}
STD_LEADS: dict[str, list[int]] = {"lateral": [0, 1, 9, 10, 11], "anterior": [6, 7, 8, 9]}


def _unit(*v: float) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    return a / np.linalg.norm(a)


@dataclass(frozen=True)
class Anatomy:
    """Per-patient parameters: fixed for all records of a patient (inter-patient variability)."""

    rotation: np.ndarray      # (3, 3) orientation of the heart (QRS and T vectors)
    qrs_gain: float           # overall QRS voltage (body habitus, age, sex)
    t_gain: float
    p_gain: float
    width_scale: float        # QRS duration factor (0.9-1.08 keeps a healthy QRS < 110 ms)
    pr_s: float               # healthy PR interval, 120-200 ms
    qtc_s: float              # healthy QTc (Fridericia), 380-440 ms
    chest_gain: np.ndarray    # (6,) electrode placement / distance factor of V1-V6
    ectopic_dir: np.ndarray   # (3,) main direction of this patient's ventricular ectopic focus
    axis_deg: float           # frontal QRS axis of the healthy heart


def draw_anatomy(rng: np.random.Generator, age: float | None = None, sex: int | None = None) -> Anatomy:
    """Draw a healthy patient's anatomy; ``sex`` follows PTB-XL (0 = male, 1 = female)."""
    age = 55.0 if age is None else float(age)
    female = sex == 1
    # Frontal axis turns leftwards with age; the spread follows real PTB-XL NORM records (normal range
    # -30..+90 degrees), heart orientation and voltages vary as much as between real healthy adults.
    target_axis = float(np.clip(rng.normal(52 - 0.4 * (age - 40), 24), -25, 85))
    rot = rotation(rng.uniform(-25, 25), rng.uniform(-25, 25), 0.0)
    gain = float(np.exp(rng.normal(0, 0.22))) * (0.88 if female else 1.0) * (1.08 if age < 35 else 1.0)
    ect = _unit(*rng.normal(0, 1, 3)) if rng.random() < 0.3 else _unit(0.8, rng.uniform(-0.8, 0.8), -0.6)
    return Anatomy(
        rotation=rot, qrs_gain=gain, t_gain=float(np.exp(rng.normal(0, 0.3))),
        p_gain=float(np.exp(rng.normal(0, 0.2))), width_scale=float(rng.uniform(0.88, 1.1)),
        pr_s=float(np.clip(rng.normal(0.155 + 0.0004 * (age - 50), 0.018), 0.125, 0.195)),
        qtc_s=float(rng.uniform(0.385, 0.435)) + (0.008 if female else 0.0),
        chest_gain=np.exp(rng.normal(0, 0.15, 6)), ectopic_dir=ect, axis_deg=target_axis,
    )


def _qrs_net_vector(t: BeatTemplate) -> np.ndarray:
    return sum(w.vector * (w.sigma_l_s + w.sigma_r_s) for w in t.waves.values() if w.family == QRS)


def _rotate_family(t: BeatTemplate, rot: np.ndarray, families: tuple[str, ...]) -> None:
    for k, w in t.waves.items():
        if w.family in families:
            t.waves[k] = replace(w, vector=rot @ w.vector)


def set_frontal_axis(t: BeatTemplate, target_deg: float, with_t: bool = True) -> None:
    """Rotate the ventricular waves about the antero-posterior axis to put the QRS axis at ``target_deg``."""
    delta = target_deg - frontal_axis_deg(_qrs_net_vector(t))
    fams = (QRS, REPOL) if with_t else (QRS,)
    _rotate_family(t, rotation(0, 0, delta), fams)


def _t_centre(qtc: float, j: float, sigma_r: float) -> float:
    """T-wave centre after J such that the T wave ends (centre + 2.5 sigma) at the QT interval."""
    return max(qtc - j - 2.5 * sigma_r, 0.08)


def normal_template(anat: Anatomy) -> BeatTemplate:
    w = anat.width_scale
    g = anat.qrs_gain
    waves = {
        "P": Wave(-anat.pr_s + 0.05, 0.02, 0.02, anat.p_gain * 0.22 * _unit(0.55, 0.8, 0.15), ATRIAL),
        "q": Wave(0.012 * w, 0.006 * w, 0.006 * w, g * 0.2 * _unit(-0.85, 0.15, 0.5)),
        "Ra": Wave(0.035 * w, 0.009 * w, 0.009 * w, g * 1.4 * _unit(0.82, 0.46, 0.35)),
        "Rl": Wave(0.052 * w, 0.010 * w, 0.010 * w, g * 1.48 * _unit(0.42, 0.75, -0.52)),
        "S": Wave(0.072 * w, 0.009 * w, 0.009 * w, g * 0.55 * _unit(-0.08, -0.9, -0.43)),
    }
    # Wave vectors (with geometry's lead gains) fitted to the median Q/R/S/T amplitudes per lead of real
    # PTB-XL NORM records; the per-patient rotation, gains and axis above give the spread around them.
    j = (0.072 + 2.5 * 0.009) * w
    waves["T"] = Wave(_t_centre(anat.qtc_s, j, 0.045), 0.06, 0.045,
                      anat.t_gain * 0.52 * _unit(0.57, 0.64, 0.52), REPOL)
    e = anat.ectopic_dir
    e2 = _unit(*(e + np.array([0.3, 0.3, -0.3])))
    waves["E1"] = Wave(0.05, 0.028, 0.028, g * 1.3 * e, ECTOPIC_QRS)
    waves["E2"] = Wave(0.11, 0.03, 0.03, g * 0.8 * e2, ECTOPIC_QRS)
    waves["ET"] = Wave(0.17, 0.07, 0.05, -0.45 * anat.t_gain * e, ECTOPIC_REPOL)
    t = BeatTemplate(waves=waves, j_point_s=j, ectopic_j_point_s=0.11 + 2.5 * 0.03)
    _rotate_family(t, anat.rotation, (QRS, REPOL))
    set_frontal_axis(t, anat.axis_deg)
    return t


def refresh_j_point(t: BeatTemplate, anat: Anatomy, qtc: float | None = None) -> None:
    """Recompute J after QRS changes and keep QT = QTc (at 60 bpm) by moving the T wave."""
    _, end = t.qrs_extent_s()
    t.j_point_s = end
    tw = t.waves["T"]
    jt_extra = max(end - 0.095, 0.0) * 0.5          # wide QRS lengthens QT by part of its widening
    t.waves["T"] = replace(tw, offset_s=_t_centre((qtc or anat.qtc_s) + jt_extra, end, tw.sigma_r_s))
