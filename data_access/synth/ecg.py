"""Synthesise one 12-lead ECG with chosen PTB-XL findings: :func:`synthesize_ecg`.

Model: each beat is a sum of Gaussian waves (P, q, R, S, T, plus finding-specific waves) along 3-D
cardiac dipoles, projected onto the 12 leads (see :mod:`.beats`, :mod:`.geometry`); beats are placed by a
rhythm model (:mod:`.rhythm`); noise is added per electrode (:mod:`.noise`). The signal is generated at
500 Hz (so 50 Hz mains is representable) and brought to other rates by anti-aliased polyphase
decimation (:func:`data_access.preprocess.resample`, which removes mains before it can alias).

Codes produced and the criterion each one implements (SUPPORTED_LABELS holds their branches):

======  ==========  ==========================================================================
code    branch      criterion implemented
======  ==========  ==========================================================================
SR      rhythm      sinus rhythm 60-95 bpm (around 70), P before every QRS, RR CV ~1-2 % (respiratory HRV)
SBRAD   rhythm      sinus rhythm 40-55 bpm
STACH   rhythm      sinus rhythm 105-145 bpm
SARRH   rhythm      sinus rhythm 50-90 bpm whose RR swings with respiration by 14-30 % (instead of SR)
AFLT    rhythm      sawtooth F waves 240-330/min (II, III, aVF, V1), no P, RR = 2, 4 or 2-4 flutter cycles
AFIB    rhythm      irregularly irregular RR (CV 0.17-0.3), no P waves, 4-8 Hz fibrillatory waves
1AVB    rhythm      PR interval 240-360 ms (sinus rhythm)
PVC     morphology  1-3 premature wide (>= 140 ms) beats without P, discordant T, compensatory pause
CLBBB   morphology  QRS >= 120 ms, no septal q, broad R in I/aVL/V5/V6, deep S in V1-V4, discordant ST-T
CRBBB   morphology  QRS >= 120 ms, terminal R' in V1 (rsR'), broad S in I/V6, T inverted in V1-V2
LAFB    morphology  frontal QRS axis -50..-75 degrees, qR in I/aVL, rS in II/III/aVF
IMI     morphology  inferior R lost, Q in III/aVF (II often keeps its R), axis turned left, flat inferior T
ASMI    morphology  poor R progression V1-V4 (QS in V1-V3 in half), weaker septal r, axis turned left
LVH     morphology  Sokolow-Lyon SV1 + max(RV5, RV6) = 3.5-4.8 mV from leftward-posterior forces, small R in
                    V1-V3, QRS slightly longer, axis turned left, lateral strain T in ~70 %
LVOLT   morphology  QRS peak-to-peak < 0.5 mV in every limb lead and < 1.0 mV in every chest lead
STE_    morphology  ST elevation >= 0.15 mV 60 ms after J in >= 2 leads of one territory (anterior V1-V4,
                    inferior II/III/aVF or lateral I/aVL/V5/V6; injury-current dipole, reciprocal depression)
STD_    morphology  horizontal ST depression <= -0.15 mV in >= 2 of I/II/V4-V6 (ST up in aVR) or of V1-V4,
                    T flat or inverted there
INVT    morphology  T wave <= -0.1 mV in >= 2 leads of one territory (lateral, inferior or anterior)
IRBBB   morphology  small terminal R' in V1 (rsr'), QRS < 120 ms (incomplete right bundle-branch block)
NDT     morphology  low, flat (not inverted) T waves in limb and left chest leads, most in one territory
NORM    diffuse     none of the abnormal findings; axis -25..85 deg, QRS < 110 ms, PR 125-195 ms, QTc 385-445 ms
DIG     diffuse     sagging ('scooped') ST-T depression dragging T down (II, V4-V6), QTc 340-380 ms
EL      diffuse     tall narrow symmetric ('tented') T waves (>= 0.9 mV in a chest lead), flat P
======  ==========  ==========================================================================

Combinations that cannot coexist raise :class:`SynthesisError` (e.g. NORM with any abnormal code,
AFIB with SR or 1AVB, CLBBB with CRBBB, LVH with LVOLT, two ST-segment findings among STE_/STD_/DIG).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import ECGDataError
from .beats import render
from ..preprocess import resample as decimate
from .findings import build_template
from .geometry import frontal_axis_deg, lead_matrix
from .morphology import Anatomy, _unit, draw_anatomy
from .noise import NoiseLevels, electrode_noise
from .rhythm import FLUTTER_HZ, beat_train, fibrillatory_waves, flutter_waves

SUPPORTED_LABELS: dict[str, str] = {
    "SR": "rhythm", "SBRAD": "rhythm", "STACH": "rhythm", "AFIB": "rhythm", "SARRH": "rhythm", "AFLT": "rhythm",
    "1AVB": "rhythm",
    "PVC": "morphology", "CLBBB": "morphology", "CRBBB": "morphology", "LAFB": "morphology",
    "IMI": "morphology", "ASMI": "morphology", "LVH": "morphology", "LVOLT": "morphology",
    "STE_": "morphology", "STD_": "morphology", "INVT": "morphology", "IRBBB": "morphology",
    "NDT": "morphology", "NORM": "diffuse", "DIG": "diffuse", "EL": "diffuse",
}
RHYTHMS = ("SR", "SBRAD", "STACH", "AFIB", "SARRH", "AFLT")
NORMAL_COMPATIBLE = frozenset({"NORM", "SR", "SBRAD", "STACH", "SARRH"})
CONFLICTS: tuple[frozenset[str], ...] = (
    frozenset({"AFIB", "1AVB"}), frozenset({"SARRH", "1AVB"}), frozenset({"AFLT", "1AVB"}), frozenset({"CLBBB", "CRBBB"}), frozenset({"CLBBB", "LAFB"}),
    frozenset({"LVH", "LVOLT"}), frozenset({"STE_", "STD_"}), frozenset({"STE_", "DIG"}),
    frozenset({"STD_", "DIG"}), frozenset({"IRBBB", "CRBBB"}), frozenset({"IRBBB", "CLBBB"}),
    frozenset({"NDT", "INVT"}), frozenset({"NDT", "CLBBB"}),
)
TERRITORY_CHOICES: dict[str, tuple[str, ...]] = {
    "STE_": ("anterior", "inferior", "lateral"),
    "STD_": ("lateral", "anterior"),
    "INVT": ("lateral", "inferior", "anterior"),
    "NDT": ("lateral", "inferior"),
}
FS_MODEL = 500.0
_ATRIAL_DIR = _unit(-0.25, 0.6, 0.75)    # f waves are best seen in V1 and the inferior leads
_FLUTTER_DIR = _unit(-0.2, 0.85, 0.5)    # F waves: largest in II, III, aVF (and V1)


class SynthesisError(ECGDataError):
    """The requested synthetic ECG cannot be produced (unknown code, contradictory codes, bad parameter)."""


def check_labels(labels: set[str] | frozenset[str]) -> None:
    """Raise :class:`SynthesisError` for unknown codes or combinations that cannot coexist."""
    unknown = sorted(set(labels) - set(SUPPORTED_LABELS))
    if unknown:
        raise SynthesisError(f"cannot synthesise code(s) {', '.join(unknown)}; supported: "
                             f"{', '.join(SUPPORTED_LABELS)}")
    rhythms = [r for r in RHYTHMS if r in labels]
    if len(rhythms) > 1:
        raise SynthesisError(f"more than one base rhythm requested: {', '.join(rhythms)}")
    if "NORM" in labels and not set(labels) <= NORMAL_COMPATIBLE:
        bad = sorted(set(labels) - NORMAL_COMPATIBLE)
        raise SynthesisError(f"NORM means no abnormal finding, but {', '.join(bad)} was also requested")
    for pair in CONFLICTS:
        if pair <= set(labels):
            raise SynthesisError(f"codes {' and '.join(sorted(pair))} cannot be synthesised together")


def choose_territories(labels: set[str], rng: np.random.Generator) -> dict[str, str]:
    """Territory of STE_/STD_/INVT; follows an infarct when there is one (acute MI, old MI with T inversion)."""
    out: dict[str, str] = {}
    for code, choices in TERRITORY_CHOICES.items():
        if code not in labels:
            continue
        if code in ("STE_", "INVT") and "IMI" in labels:
            out[code] = "inferior"
        elif code in ("STE_", "INVT") and "ASMI" in labels:
            out[code] = "anterior"
        else:
            opts = [c for c in choices if not (code == "INVT" and c == "anterior" and "CRBBB" in labels)]
            out[code] = opts[int(rng.integers(len(opts)))]
    return out


def synthesize_ecg_with_info(labels: set[str] | frozenset[str], rng: np.random.Generator,
                             fs: float = 500, duration_s: float = 10, age: float | None = None,
                             sex: int | None = None, *, anatomy: Anatomy | None = None,
                             noise: NoiseLevels | None = NoiseLevels(),
                             territories: dict[str, str] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Like :func:`synthesize_ecg`, also returning what was drawn (heart rate, PR, QRS, axis, noise...)."""
    labels = set(labels)
    check_labels(labels)
    if duration_s <= 0 or fs <= 0:
        raise SynthesisError(f"duration ({duration_s}) and sampling rate ({fs}) must be positive")
    rhythm = next((r for r in RHYTHMS if r in labels), "SR")
    anat = anatomy if anatomy is not None else draw_anatomy(rng, age, sex)
    if "1AVB" in labels:
        anat = replace(anat, pr_s=float(rng.uniform(0.24, 0.36)))
    lead_mat = lead_matrix()
    lead_mat[6:] *= anat.chest_gain[:, None]
    ter = territories if territories is not None else choose_territories(labels, rng)
    template = build_template(anat, labels, lead_mat, rng, ter)
    n_pvc = int(rng.integers(1, 4)) if "PVC" in labels else 0
    flutter_hz = float(rng.uniform(*FLUTTER_HZ)) if rhythm == "AFLT" else None
    train, hr = beat_train(rng, rhythm, duration_s, float(template.notes["qtc_s"]), n_pvc, flutter_hz=flutter_hz)
    n = int(round(duration_s * FS_MODEL))
    sig = render(template, train, lead_mat, FS_MODEL, n)
    if rhythm == "AFIB":
        t = np.arange(n) / FS_MODEL
        sig += np.outer(lead_mat @ _ATRIAL_DIR, fibrillatory_waves(rng, t))
    elif rhythm == "AFLT":
        t = np.arange(n) / FS_MODEL
        first_f = float(train.onsets_s[0]) - rng.uniform(0.2, 0.3)      # constant atrioventricular delay
        amp = rng.uniform(0.25, 0.45)
        sig += np.outer(lead_mat @ _FLUTTER_DIR, amp * flutter_waves(t, float(flutter_hz), first_f))
    noise_info: dict[str, Any] = {}
    if noise is not None:
        nz, noise_info = electrode_noise(rng, n, FS_MODEL, noise)
        sig += nz
    if fs != FS_MODEL:
        sig = decimate(sig, FS_MODEL, fs)
    start, end = template.qrs_extent_s()
    # Frontal axis of the QRS, leaving out the terminal right-bundle delay (axis is read before it).
    net = sum(w.vector * (w.sigma_l_s + w.sigma_r_s) for k, w in template.waves.items()
              if w.family == "qrs" and k != "Rp")
    info = {"rhythm": rhythm, "hr_bpm": hr, "pr_s": anat.pr_s if rhythm not in ("AFIB", "AFLT") else None,
            "qrs_s": end - start, "qtc_s": template.notes["qtc_s"], "axis_deg": frontal_axis_deg(net),
            "n_pvc": n_pvc, "territories": dict(template.notes["territories"]),
            "sokolow_lyon_mv": template.notes["sokolow_lyon_mv"], "noise": noise_info}
    return sig.astype(np.float32), info


def synthesize_ecg(labels: set[str], rng: np.random.Generator, fs: float = 500, duration_s: float = 10,
                   age: float | None = None, sex: int | None = None) -> np.ndarray:
    """A (12, fs * duration_s) float32 ECG in mV, canonical lead order, showing exactly ``labels``.

    ``labels`` are PTB-XL codes from :data:`SUPPORTED_LABELS` (no rhythm code means sinus rhythm);
    ``sex`` follows PTB-XL (0 male, 1 female). Deterministic for a given ``rng`` state. Raises
    :class:`SynthesisError` for unknown or contradictory codes.
    """
    return synthesize_ecg_with_info(labels, rng, fs, duration_s, age, sex)[0]
