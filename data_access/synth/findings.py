"""Morphology and diffuse findings: how each PTB-XL code changes a patient's beat template.

Every ``_apply_*`` edits the waves of the template the way the finding changes activation or
repolarisation; :func:`build_template` applies the present codes in a physiological order, then measures
the clean beat (:mod:`.criteria`) and rescales until each present code meets its criterion and absent
voltage criteria (LVH, low voltage) are not met by chance. The shapes follow what real PTB-XL records with
each label look like at the distribution level (per-label medians of NeuroKit2-measured amplitudes in the
real ecg_id 1-300, ``bench/bench_synth_realism.py --by-label``); no real beat is copied.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .beats import QRS, REPOL, BeatTemplate, Wave
from .criteria import CHEST, LIMB, BeatMeasures, is_low_voltage, measure
from .geometry import frontal_axis_deg
from .morphology import (STD_DIRS, STD_LEADS, TERRITORY_DIRS, TERRITORY_LEADS, Anatomy, _qrs_net_vector,
                         _unit, normal_template, refresh_j_point, set_frontal_axis)


def _scale_qrs(t: BeatTemplate, f: float, names: list[str] | None = None) -> None:
    for k in names or t.qrs_waves():
        t.waves[k] = t.waves[k].scaled(f)


def _widen(t: BeatTemplate, f: float) -> None:
    """Stretch the QRS waves in time (slower conduction)."""
    for k in t.qrs_waves():
        w = t.waves[k]
        t.waves[k] = replace(w, offset_s=w.offset_s * f, sigma_l_s=w.sigma_l_s * f, sigma_r_s=w.sigma_r_s * f)


def _apply_crbbb(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Late right-ventricular activation: a slow rightward-anterior terminal wave (R' in V1, wide S in I/V6)."""
    g = anat.qrs_gain
    t.waves["Rp"] = Wave(rng.uniform(0.10, 0.11), 0.018, rng.uniform(0.022, 0.028),
                         g * rng.uniform(0.8, 1.0) * _unit(-0.6, -0.1, 0.8))
    tw = t.waves["T"]
    t.waves["T"] = replace(tw, vector=tw.vector + 0.22 * _unit(0.2, 0.1, -0.95))   # T down in V1-V2


def _apply_irbbb(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Incomplete RBBB: a small, early terminal rightward-anterior wave (rsr' in V1), QRS still < 120 ms."""
    t.waves["Rp"] = Wave(rng.uniform(0.07, 0.082), 0.011, rng.uniform(0.010, 0.013),
                         anat.qrs_gain * rng.uniform(0.45, 0.75) * _unit(-0.6, -0.1, 0.8))


def _apply_ndt(t: BeatTemplate, territory: str, rng: np.random.Generator) -> None:
    """Non-diagnostic T abnormality: low, flat (not inverted) T waves in the limb and left chest leads
    (real PTB-XL NDT records: T ~0.0-0.1 mV in II, aVF, V4-V6, V2 kept), most of all in ``territory``."""
    u = _unit(*TERRITORY_DIRS[territory])
    tw = t.waves["T"]
    f = rng.uniform(0.2, 0.5)
    vec = tw.vector * np.array([f, f, 0.5 + 0.5 * f])
    vec = vec - max(float(vec @ u), 0.0) * rng.uniform(0.1, 0.5) * u
    t.waves["T"] = replace(tw, vector=vec)


def _apply_clbbb(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Septum activated right-to-left (no septal q), slow left-ventricular activation (broad notched R)."""
    g = anat.qrs_gain
    for k in ("q", "S", "Ra", "Rl"):
        t.waves.pop(k, None)
    # Main forces leftward and strongly posterior (real PTB-XL CLBBB: S 2-3 mV in V2-V4, axis ~ -25 deg).
    t.waves["Ra"] = Wave(0.045, 0.018, 0.018, g * rng.uniform(0.8, 1.0) * _unit(0.75, 0.1, -0.3))
    t.waves["Rl"] = Wave(rng.uniform(0.105, 0.12), 0.02, 0.022,
                         g * rng.uniform(1.4, 1.9) * _unit(0.55, rng.uniform(-0.35, 0.05), -0.8))
    # Secondary (discordant) ST-T: ST up and T up in V1-V3, ST down and T inverted in I, aVL, V5, V6.
    t.waves["STsec"] = Wave(0.03, 0.03, 0.09, 0.3 * _unit(-0.65, -0.15, 0.75), REPOL)
    tw = t.waves["T"]
    t.waves["T"] = replace(tw, vector=anat.t_gain * 0.5 * _unit(-0.65, -0.15, 0.7))


def _apply_lafb(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Left anterior fascicular block: axis -45..-80 degrees, initial forces inferior (qR in I/aVL, rS in II/III/aVF)."""
    set_frontal_axis(t, float(rng.uniform(-75, -50)), with_t=False)
    if "q" in t.waves:
        t.waves["q"] = replace(t.waves["q"], vector=anat.qrs_gain * 0.18 * _unit(-0.25, 0.9, 0.2))
    _widen(t, 1.08)


def _apply_imi(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Old inferior MI: the necrotic inferior wall no longer pulls the early QRS downwards.

    As in real PTB-XL IMI records: inferior R waves are small (R in III/aVF ~0.05 mV against ~0.3-0.5 in
    NORM), III and aVF open with a Q wave (QS/Qr, deepest in III; II often keeps its R), the axis turns
    left, and the inferior T waves are flat or inverted.
    """
    g = anat.qrs_gain
    t.waves["Qinf"] = Wave(0.016, 0.010, 0.013, g * rng.uniform(0.2, 0.4) * _unit(0.45, -1.0, 0.05))
    for k, f in (("Ra", rng.uniform(0.2, 0.6)), ("Rl", rng.uniform(0.05, 0.4))):
        if k in t.waves:
            w = t.waves[k]
            t.waves[k] = replace(w, offset_s=w.offset_s + 0.006, vector=w.vector * np.array([1.0, f, 1.0]))
    tw = t.waves["T"]
    t.waves["T"] = replace(tw, vector=tw.vector * np.array([1.0, rng.uniform(-0.5, 0.5), 1.0]))


def _apply_asmi(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Old anteroseptal MI: anterior forces lost, so R is small in V1-V4 (poor R progression) with Q/QS in
    V1-V3, as in real PTB-XL ASMI records (R V2-V3 ~0.1 mV, Q V2 ~0.4 mV), often with a left-turned axis
    and flat lateral T waves."""
    g = anat.qrs_gain
    if "q" in t.waves:        # the septum is part of the scar: a weaker septal r in V1-V2
        t.waves["q"] = t.waves["q"].scaled(rng.uniform(0.3, 0.8))
    if rng.random() < 0.5:    # QS complexes in V1-V3; otherwise poor R progression alone
        t.waves["Qant"] = Wave(0.018, 0.011, 0.014, g * rng.uniform(0.1, 0.25) * _unit(0.15, 0.05, -1.0))
    ra = t.waves["Ra"]
    t.waves["Ra"] = replace(ra, offset_s=ra.offset_s + 0.008,
                            vector=ra.vector * np.array([rng.uniform(0.4, 0.7), 1.0, rng.uniform(0.45, 0.75)]))
    set_frontal_axis(t, frontal_axis_deg(_qrs_net_vector(t)) - rng.uniform(10, 60), with_t=False)
    tw = t.waves["T"]
    t.waves["T"] = replace(tw, vector=tw.vector * np.array([rng.uniform(0.0, 0.8), 1.0, 1.0]))


def _apply_lvh(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """LV hypertrophy: strong leftward-posterior forces (deep S in V1-V2, tall R in V5-V6, aVL, I) rather
    than a larger copy of the whole beat (real PTB-XL LVH records keep small R in V1-V3), slightly wider
    QRS, a left-turned axis and, in most, lateral 'strain' (T inverted in I, aVL, V5-V6)."""
    g = anat.qrs_gain
    ra = t.waves["Ra"]
    t.waves["Ra"] = replace(ra, vector=ra.vector * np.array([1.0, 1.0, 0.5]))
    t.waves["LV"] = Wave(0.05, 0.012, 0.012, g * rng.uniform(0.8, 1.2) * _unit(0.9, 0.1, -0.4))
    _widen(t, 1.06)
    set_frontal_axis(t, frontal_axis_deg(_qrs_net_vector(t)) - rng.uniform(0, 30), with_t=False)
    if rng.random() < 0.7:
        tw = t.waves["T"]
        t.waves["T"] = replace(tw, vector=tw.vector - anat.t_gain * rng.uniform(0.25, 0.45) * _unit(0.8, 0.4, -0.3))


def _apply_st(t: BeatTemplate, direction: np.ndarray, amp: float, sigma_r: float = 0.10) -> None:
    t.waves["ST"] = Wave(0.035, 0.03, sigma_r, amp * direction, REPOL)


def _apply_invt(t: BeatTemplate, territory: str, rng: np.random.Generator) -> None:
    """Reflect the T vector across the territory's plane and push it further away: T inverted there."""
    u = _unit(*TERRITORY_DIRS[territory])
    tw = t.waves["T"]
    proj = float(tw.vector @ u)
    vec = tw.vector - 2 * max(proj, 0.0) * u - rng.uniform(0.18, 0.3) * u
    t.waves["T"] = replace(tw, vector=vec)


def _apply_dig(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> float:
    """Digitalis effect: sagging ('scooped') ST-T depression opposite the QRS that drags the T wave down
    (real PTB-XL DIG records: T negative in II, V4-V6), QT at the short end of normal. Returns the QTc."""
    net = sum(w.vector for w in t.waves.values() if w.family == QRS)
    t.waves["ST"] = Wave(0.07, 0.05, 0.07, -rng.uniform(0.25, 0.4) * _unit(*net), REPOL)
    tw = t.waves["T"]
    t.waves["T"] = replace(tw, vector=tw.vector * rng.uniform(0.2, 0.5), sigma_l_s=0.045, sigma_r_s=0.04)
    return float(rng.uniform(0.34, 0.38))


def _apply_el(t: BeatTemplate, anat: Anatomy, rng: np.random.Generator) -> None:
    """Electrolyte disturbance (hyperkalaemia pattern): tall, narrow, symmetric ('tented') T, flat P."""
    tw = t.waves["T"]
    s = rng.uniform(0.026, 0.032)
    t.waves["T"] = replace(tw, vector=tw.vector * rng.uniform(2.4, 3.2), sigma_l_s=s, sigma_r_s=s)
    t.waves["P"] = t.waves["P"].scaled(0.5)


def _tune_voltage(t: BeatTemplate, lead_mat: np.ndarray, labels: set[str], rng: np.random.Generator) -> BeatMeasures:
    """Make LVH / LVOLT criteria hold exactly when the label is present."""
    m = measure(t, lead_mat)
    if "LVH" in labels:
        target = rng.uniform(3.5, 4.8)
        for _ in range(3):
            names = [k for k in ("LV", "S", "Rl") if k in t.waves]
            _scale_qrs(t, target / max(m.sokolow_lyon, 0.3), names)
            m = measure(t, lead_mat)
    elif m.sokolow_lyon > 3.2:
        _scale_qrs(t, 3.0 / m.sokolow_lyon)
        m = measure(t, lead_mat)
    if "LVOLT" in labels:
        f = min(rng.uniform(0.28, 0.42) / m.qrs_pp[LIMB].max(), rng.uniform(0.55, 0.85) / m.qrs_pp[CHEST].max())
        _scale_qrs(t, f)
        t.waves["T"] = t.waves["T"].scaled(max(f, 0.3))      # damping (effusion, obesity) lowers T too
        t.waves["P"] = t.waves["P"].scaled(0.7)
        m = measure(t, lead_mat)
    elif m.qrs_pp[LIMB].max() < 0.6 or m.qrs_pp[CHEST].max() < 1.2:
        f = max(0.6 / m.qrs_pp[LIMB].max(), 1.2 / m.qrs_pp[CHEST].max())
        _scale_qrs(t, f)
        m = measure(t, lead_mat)
    return m


def build_template(anat: Anatomy, labels: set[str], lead_mat: np.ndarray,
                   rng: np.random.Generator, territories: dict[str, str] | None = None) -> BeatTemplate:
    """The beat template of this patient with the given findings, each meeting its criterion."""
    territories = dict(territories or {})
    t = normal_template(anat)
    qtc = anat.qtc_s
    if "CLBBB" in labels:
        _apply_clbbb(t, anat, rng)
    if "LAFB" in labels:
        _apply_lafb(t, anat, rng)
    if "IMI" in labels:
        _apply_imi(t, anat, rng)
    if "ASMI" in labels:
        _apply_asmi(t, anat, rng)
    if "CRBBB" in labels:
        _apply_crbbb(t, anat, rng)
    if "IRBBB" in labels:
        _apply_irbbb(t, anat, rng)
    if "LVH" in labels:
        _apply_lvh(t, anat, rng)
    refresh_j_point(t, anat, qtc)
    m = _tune_voltage(t, lead_mat, labels, rng)
    if "DIG" in labels:
        qtc = _apply_dig(t, anat, rng)
    if "EL" in labels:
        _apply_el(t, anat, rng)
    if "NDT" in labels:
        _apply_ndt(t, territories.setdefault("NDT", "lateral"), rng)
    if "INVT" in labels:
        ter = territories.setdefault("INVT", "lateral")
        _apply_invt(t, ter, rng)
    if "STE_" in labels:
        ter = territories.setdefault("STE_", "anterior")
        _apply_st(t, _unit(*TERRITORY_DIRS[ter]), rng.uniform(0.28, 0.45))
        tw = t.waves["T"]
        t.waves["T"] = replace(tw, vector=tw.vector + 0.15 * _unit(*TERRITORY_DIRS[ter]))
    if "STD_" in labels:
        ter = territories.setdefault("STD_", "lateral")
        _apply_st(t, -_unit(*STD_DIRS[ter]), rng.uniform(0.2, 0.32), sigma_r=0.12)
        # real PTB-XL STD_ records: the T waves of the depressed leads are flat or inverted too
        tw = t.waves["T"]
        t.waves["T"] = replace(tw, vector=tw.vector - anat.t_gain * rng.uniform(0.1, 0.3) * _unit(*STD_DIRS[ter]))
    refresh_j_point(t, anat, qtc)
    if "EL" in labels:
        _ensure_peaked_t(t, lead_mat)
    _ensure_st_t_criteria(t, lead_mat, labels, territories)
    t.notes.update({"territories": territories, "qtc_s": qtc, "sokolow_lyon_mv": m.sokolow_lyon,
                    "low_voltage": is_low_voltage(m)})
    return t


def _ensure_peaked_t(t: BeatTemplate, lead_mat: np.ndarray) -> None:
    """Hyperkalaemic T: at least 0.9 mV in the tallest chest lead."""
    m = measure(t, lead_mat)
    top = float(m.t_peak[CHEST].max())
    if top < 0.9:   # capped: with T inversion in a chest territory the tallest chest T can be tiny
        t.waves["T"] = t.waves["T"].scaled(min(0.9 / max(top, 0.1) * 1.1, 3.0))




def _ensure_st_t_criteria(t: BeatTemplate, lead_mat: np.ndarray, labels: set[str],
                          territories: dict[str, str]) -> None:
    """ST deviation >= 0.15 mV (60 ms after J) / T <= -0.1 mV in at least two leads of the territory."""
    for _ in range(4):
        m = measure(t, lead_mat)
        ok = True
        if "STE_" in labels and np.sum(m.st60[TERRITORY_LEADS[territories["STE_"]]] >= 0.15) < 2:
            t.waves["ST"] = t.waves["ST"].scaled(1.4)
            ok = False
        if "STD_" in labels and np.sum(m.st60[STD_LEADS[territories["STD_"]]] <= -0.15) < 2:
            t.waves["ST"] = t.waves["ST"].scaled(1.4)
            ok = False
        if "INVT" in labels and np.sum(m.t_peak[TERRITORY_LEADS[territories["INVT"]]] <= -0.1) < 2:
            u = _unit(*TERRITORY_DIRS[territories["INVT"]])
            t.waves["T"] = replace(t.waves["T"], vector=t.waves["T"].vector - 0.12 * u)
            ok = False
        if ok:
            return
