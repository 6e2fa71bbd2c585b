"""Lead geometry of the synthetic heart: 3-D lead vectors and electrode-to-lead mixing.

Coordinates (patient frame): ``x`` points to the patient's left, ``y`` downwards (inferior), ``z`` forwards
(anterior). A cardiac dipole ``d`` (mV) is seen by lead ``l`` as ``L[l] @ d``. The limb leads are built
from Einthoven's triangle so that ``III = II - I`` and ``aVR + aVL + aVF = 0`` hold exactly; the chest
leads lie in the transverse plane at their textbook angles; the limb leads have a gain < 1 relative to the
chest leads because their electrodes sit far from the heart.
"""
from __future__ import annotations

import numpy as np

from ..leads import CANONICAL_LEADS


def _unit_frontal(deg: float) -> np.ndarray:
    r = np.deg2rad(deg)
    return np.array([np.cos(r), np.sin(r), 0.0])


# Transverse-plane angle (degrees from the patient's left towards anterior) and gain of V1..V6.
PRECORDIAL_ANGLES_DEG: tuple[float, ...] = (120.0, 95.0, 75.0, 55.0, 30.0, 5.0)
# Gains fitted (least squares, one typical beat) to the median R, S and T amplitudes per lead of the real
# PTB-XL NORM records (ecg_id 1-300; distribution-level statistics only): the chest electrodes see the
# heart from close by, the limb leads from far (LIMB_GAIN), and V2 shows the deepest S and tallest T.
PRECORDIAL_GAINS: tuple[float, ...] = (0.93, 1.93, 1.49, 1.54, 1.27, 0.94)
LIMB_GAIN = 0.59


def lead_matrix() -> np.ndarray:
    """(12, 3) lead vectors in canonical lead order."""
    lead_i = LIMB_GAIN * _unit_frontal(0.0)
    lead_ii = LIMB_GAIN * _unit_frontal(60.0)
    lead_iii = lead_ii - lead_i
    avr = -(lead_i + lead_ii) / 2
    avl = (lead_i - lead_iii) / 2
    avf = (lead_ii + lead_iii) / 2
    chest = []
    for ang, gain in zip(PRECORDIAL_ANGLES_DEG, PRECORDIAL_GAINS):
        r = np.deg2rad(ang)
        chest.append(gain * np.array([np.cos(r), 0.0, np.sin(r)]))
    mat = np.vstack([lead_i, lead_ii, lead_iii, avr, avl, avf, *chest])
    assert mat.shape == (len(CANONICAL_LEADS), 3)
    return mat


# Electrodes: RA, LA, LL, then the six chest electrodes.
ELECTRODES: tuple[str, ...] = ("RA", "LA", "LL", "C1", "C2", "C3", "C4", "C5", "C6")


def electrode_mixing() -> np.ndarray:
    """(12, 9) matrix turning electrode potentials into the 12 leads (Wilson terminal for V1-V6).

    Noise is generated per electrode and mixed with this matrix, so that it obeys the same lead
    algebra as real recordings (e.g. a noisy LA electrode shows in I, III, aVL and, through the Wilson
    terminal, faintly in every chest lead).
    """
    m = np.zeros((12, 9))
    ra, la, ll = 0, 1, 2
    m[0, la], m[0, ra] = 1, -1                    # I = LA - RA
    m[1, ll], m[1, ra] = 1, -1                    # II = LL - RA
    m[2, ll], m[2, la] = 1, -1                    # III = LL - LA
    m[3, ra], m[3, la], m[3, ll] = 1, -0.5, -0.5  # aVR
    m[4, la], m[4, ra], m[4, ll] = 1, -0.5, -0.5  # aVL
    m[5, ll], m[5, ra], m[5, la] = 1, -0.5, -0.5  # aVF
    for i in range(6):
        m[6 + i, 3 + i] = 1
        m[6 + i, :3] = -1 / 3                     # minus the Wilson central terminal
    return m


def rotation(about_x_deg: float, about_y_deg: float, about_z_deg: float) -> np.ndarray:
    """3x3 rotation matrix (z, then y, then x). A rotation about z turns the frontal axis clockwise."""
    ax, ay, az = np.deg2rad([about_x_deg, about_y_deg, about_z_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rx @ ry @ rz


def frontal_axis_deg(vec: np.ndarray) -> float:
    """Frontal-plane angle of a dipole (0 = lead I, +90 = aVF), in (-180, 180]."""
    return float(np.degrees(np.arctan2(vec[1], vec[0])))
