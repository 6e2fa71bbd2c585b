"""Gaussian-wave beat model: each wave of a beat is an (asymmetric) Gaussian bump along a 3-D dipole.

A beat is a set of :class:`Wave` s (P, septal q, apical R, lateral R, basal S, T, ...) placed relative to
the beat's QRS onset. Repolarisation waves (ST deviations, T, U) are placed relative to the J point and
stretched with the beat's QT scale, so they follow the heart rate like a real QT interval does. All beats
of a record are rendered at once: every (beat, wave) pair contributes a short window of samples, which
is accumulated with one ``np.bincount`` into a (waves, samples) matrix and projected onto the 12 leads
with one matrix product. This is the ECGSYN idea (sum of Gaussians per beat) made vectorised and 3-D.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

# Wave families: which beats a wave belongs to and how it is timed.
ATRIAL = "atrial"          # sinus beats that have a P wave; offset relative to QRS onset (negative)
QRS = "qrs"                # conducted beats; offset relative to QRS onset
REPOL = "repol"            # conducted beats; offset relative to the J point, stretched with QT
ECTOPIC_QRS = "ectopic_qrs"
ECTOPIC_REPOL = "ectopic_repol"
FAMILIES = (ATRIAL, QRS, REPOL, ECTOPIC_QRS, ECTOPIC_REPOL)


@dataclass
class Wave:
    """One Gaussian wave: centre ``offset_s`` (see family), widths left/right of the centre, dipole (mV)."""

    offset_s: float
    sigma_l_s: float
    sigma_r_s: float
    vector: np.ndarray
    family: str = QRS

    def scaled(self, factor: float) -> "Wave":
        return replace(self, vector=self.vector * factor)


@dataclass
class BeatTemplate:
    """The waves of a conducted beat and of an ectopic beat, plus the J point of each (s after onset)."""

    waves: dict[str, Wave]
    j_point_s: float
    ectopic_j_point_s: float = 0.16
    notes: dict[str, object] = field(default_factory=dict)

    def qrs_waves(self) -> list[str]:
        return [k for k, w in self.waves.items() if w.family == QRS]

    def qrs_extent_s(self, n_sigma: float = 2.5) -> tuple[float, float]:
        """(onset, offset) of the QRS complex: earliest/latest QRS wave centre -/+ ``n_sigma`` widths."""
        ws = [self.waves[k] for k in self.qrs_waves()]
        start = min(w.offset_s - n_sigma * w.sigma_l_s for w in ws)
        end = max(w.offset_s + n_sigma * w.sigma_r_s for w in ws)
        return start, end


@dataclass
class BeatTrain:
    """Timing of the beats of one record."""

    onsets_s: np.ndarray        # (K,) QRS onset of each beat
    ectopic: np.ndarray         # (K,) bool: ventricular ectopic beat
    has_p: np.ndarray           # (K,) bool: a P wave precedes this beat
    qt_scale: np.ndarray        # (K,) stretch of repolarisation timing (QT / reference QT)
    amp_mod: np.ndarray         # (K,) beat-to-beat amplitude modulation (respiration)


def render(template: BeatTemplate, train: BeatTrain, lead_mat: np.ndarray, fs: float,
           n_samples: int) -> np.ndarray:
    """Render every (beat, wave) pair into a (n_leads, n_samples) float64 signal in mV."""
    names = list(template.waves)
    waves = [template.waves[n] for n in names]
    n_w = len(waves)
    fam = np.array([w.family for w in waves])
    off = np.array([w.offset_s for w in waves])
    sl = np.array([w.sigma_l_s for w in waves])
    sr = np.array([w.sigma_r_s for w in waves])
    vec = np.stack([w.vector for w in waves])                       # (W, 3)

    k = len(train.onsets_s)
    ect = train.ectopic[:, None]
    active = np.zeros((k, n_w), dtype=bool)
    active |= (fam == ATRIAL)[None] & train.has_p[:, None] & ~ect
    active |= (fam == QRS)[None] & ~ect
    active |= (fam == REPOL)[None] & ~ect
    active |= (fam == ECTOPIC_QRS)[None] & ect
    active |= (fam == ECTOPIC_REPOL)[None] & ect

    scale = np.ones((k, n_w))
    repol = np.isin(fam, (REPOL, ECTOPIC_REPOL))[None]
    scale = np.where(repol, train.qt_scale[:, None], scale)
    base = np.where(fam == REPOL, template.j_point_s, 0.0)
    base = np.where(fam == ECTOPIC_REPOL, template.ectopic_j_point_s, base)
    centre = train.onsets_s[:, None] + base[None] + off[None] * scale
    sig_l = sl[None] * scale
    sig_r = sr[None] * scale
    amp = np.broadcast_to(train.amp_mod[:, None], (k, n_w))

    bi, wi = np.nonzero(active)
    c = centre[bi, wi]
    s_l, s_r, a = sig_l[bi, wi], sig_r[bi, wi], amp[bi, wi]
    half = int(np.ceil(4.0 * max(float(sig_l.max(initial=0.01)), float(sig_r.max(initial=0.01))) * fs))
    idx = np.round(c * fs).astype(np.int64)[:, None] + np.arange(-half, half + 1)[None]
    dt = idx / fs - c[:, None]
    sig = np.where(dt < 0, s_l[:, None], s_r[:, None])
    val = a[:, None] * np.exp(-0.5 * (dt / sig) ** 2)
    ok = (idx >= 0) & (idx < n_samples)
    flat = (wi[:, None] * n_samples + idx)[ok]
    g = np.bincount(flat, weights=val[ok], minlength=n_w * n_samples).reshape(n_w, n_samples)
    return (lead_mat @ vec.T) @ g


def render_single_beat(template: BeatTemplate, lead_mat: np.ndarray, fs: float = 500.0,
                       ectopic: bool = False) -> tuple[np.ndarray, float]:
    """A noiseless single beat (leads, samples) with QRS onset at 0.3 s; returns (beat, onset_s)."""
    onset = 0.3
    train = BeatTrain(onsets_s=np.array([onset]), ectopic=np.array([ectopic]),
                      has_p=np.array([True]), qt_scale=np.ones(1), amp_mod=np.ones(1))
    return render(template, train, lead_mat, fs, int(1.1 * fs)), onset
