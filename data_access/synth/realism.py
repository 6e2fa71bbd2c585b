"""How close generated ECGs are to real ones: distribution-level metrics (in the spirit of FlowECG).

Everything here compares two *sets* of records, never one record with another:

- :func:`welch_log_psd` / :func:`psd_distance`: per-lead Welch power spectra, each normalised to unit
  power, averaged in log10 over the records of a set; the distance is the mean absolute log10 difference
  over leads and frequency bins (0 = same mean spectral shape), and :func:`psd_wasserstein` the
  Wasserstein-1 distance (Hz) between the two mean normalised spectra seen as distributions over frequency.
- :func:`record_features`: intervals (heart rate, PR, QRS, QT), frontal QRS axis and per-lead R, S and T
  amplitudes of one record, measured with NeuroKit2 (R peaks on lead II, DWT delineation), identically
  for generated and real records.
- :func:`mmd_rbf`: unbiased squared maximum mean discrepancy with an RBF kernel whose bandwidth is the
  median pairwise distance of the pooled sample (median heuristic).
- :func:`wasserstein_1d`: Wasserstein-1 distance of two 1-D samples (NaNs dropped).
"""
from __future__ import annotations

import warnings

import numpy as np

from ..errors import ECGDataError

LEAD_II, LEAD_I, LEAD_AVF = 1, 0, 5
INTERVALS = ("hr_bpm", "pr_ms", "qrs_ms", "qt_ms", "axis_deg")


class RealismError(ECGDataError):
    """The two sets cannot be compared (empty set, mismatched shapes)."""


def welch_log_psd(signals: np.ndarray, fs: float, nperseg: int = 256,
                  fmax: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(freqs, (12, F) mean over records of log10 of each lead's unit-power Welch PSD)."""
    from scipy.signal import welch

    x = np.asarray(signals, dtype=np.float64)
    if x.ndim != 3 or len(x) == 0:
        raise RealismError(f"expected a non-empty (N, leads, T) array, got shape {x.shape}")
    x = x - x.mean(axis=-1, keepdims=True)
    f, p = welch(x, fs=fs, nperseg=min(nperseg, x.shape[-1]), axis=-1)
    keep = (f > 0) & (f <= (fmax if fmax is not None else fs / 2))
    f, p = f[keep], p[..., keep]
    p = p / np.maximum(p.sum(axis=-1, keepdims=True), 1e-30)
    return f, np.log10(np.maximum(p, 1e-12)).mean(axis=0)


def psd_distance(log_psd_a: np.ndarray, log_psd_b: np.ndarray) -> np.ndarray:
    """Per lead, mean |log10 PSD_a - log10 PSD_b| over frequency bins (symmetric, 0 for equal spectra)."""
    if log_psd_a.shape != log_psd_b.shape:
        raise RealismError(f"PSD shapes differ: {log_psd_a.shape} vs {log_psd_b.shape}")
    return np.abs(log_psd_a - log_psd_b).mean(axis=-1)


def psd_wasserstein(freqs: np.ndarray, log_psd_a: np.ndarray, log_psd_b: np.ndarray) -> np.ndarray:
    """Per lead, Wasserstein-1 distance (Hz) between the two spectra normalised as distributions."""
    pa, pb = 10.0 ** log_psd_a, 10.0 ** log_psd_b
    pa = pa / pa.sum(axis=-1, keepdims=True)
    pb = pb / pb.sum(axis=-1, keepdims=True)
    df = np.diff(freqs, prepend=freqs[0] - (freqs[1] - freqs[0]) if len(freqs) > 1 else 0.0)
    return (np.abs(np.cumsum(pa, axis=-1) - np.cumsum(pb, axis=-1)) * df).sum(axis=-1)


def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """Wasserstein-1 distance between two samples (NaNs dropped; NaN if either is empty)."""
    from scipy.stats import wasserstein_distance

    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not len(a) or not len(b):
        return float("nan")
    return float(wasserstein_distance(a, b))


def median_bandwidth(z: np.ndarray) -> float:
    """Median pairwise Euclidean distance of the rows of ``z`` (the RBF bandwidth of the median heuristic)."""
    d2 = _sq_dists(z, z)
    iu = np.triu_indices(len(z), k=1)
    med = float(np.sqrt(np.median(d2[iu]))) if len(iu[0]) else 1.0
    return med if med > 0 else 1.0


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0.0)


def mmd_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased MMD^2 between samples ``x`` (n, d) and ``y`` (m, d), RBF kernel exp(-d^2 / (2 s^2)).

    ``bandwidth`` s defaults to the median heuristic on the pooled sample. The unbiased estimate can be
    slightly negative when the two samples come from the same distribution.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise RealismError(f"feature matrices must be (n, d) with the same d: {x.shape} vs {y.shape}")
    if len(x) < 2 or len(y) < 2:
        raise RealismError("MMD needs at least two samples on each side")
    s = bandwidth if bandwidth is not None else median_bandwidth(np.vstack([x, y]))
    g = 1.0 / (2.0 * s * s)
    kxx, kyy, kxy = (np.exp(-g * _sq_dists(a, b)) for a, b in ((x, x), (y, y), (x, y)))
    n, m = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2.0 * kxy.mean())


def standardise(reference: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Z-score columns by the reference set's median and IQR/1.349 (robust), NaNs set to 0 (= median)."""
    med = np.nanmedian(reference, axis=0)
    q1, q3 = np.nanpercentile(reference, [25, 75], axis=0)
    scale = np.where((q3 - q1) > 1e-9, (q3 - q1) / 1.349, 1.0)
    out = []
    for a in (reference, *others):
        z = (a - med) / scale
        out.append(np.where(np.isfinite(z), z, 0.0))
    return out


def record_features(x: np.ndarray, fs: float) -> dict[str, float]:
    """Intervals, axis and per-lead amplitudes of one (12, T) record (mV); NaN where not measurable.

    R peaks by NeuroKit2 on lead II; per beat, baseline = median of R-90..R-60 ms (PR segment), Q = -min
    of R-50..R-10 ms (the initial deflection before lead II's R peak), R = max
    and S = -min of R-60..R+60 ms, T = the signed extreme of R+160..R+400 ms, all per lead and relative
    to the baseline, median over beats. Axis = atan2 of the baseline-corrected QRS area in aVF and I
    (R-60..R+60 ms). PR, QRS, QT from the DWT delineation of lead II (medians over beats).
    """
    import neurokit2 as nk

    x = np.asarray(x, dtype=np.float64)
    out: dict[str, float] = {k: float("nan") for k in INTERVALS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            clean = nk.ecg_clean(x[LEAD_II], sampling_rate=int(fs))
            _, info = nk.ecg_peaks(clean, sampling_rate=int(fs))
            rp = np.asarray(info["ECG_R_Peaks"], dtype=int)
        except Exception:  # NeuroKit2 raises assorted errors on flat or very noisy leads
            rp = np.zeros(0, dtype=int)
        if len(rp) >= 3:
            out["hr_bpm"] = float(60.0 / np.median(np.diff(rp) / fs))
            try:
                _, w = nk.ecg_delineate(clean, rp, sampling_rate=int(fs), method="dwt")
                g = {k: np.asarray(w[k], float) for k in
                     ("ECG_P_Onsets", "ECG_R_Onsets", "ECG_R_Offsets", "ECG_T_Offsets")}
                out["pr_ms"] = float(np.nanmedian(g["ECG_R_Onsets"] - g["ECG_P_Onsets"]) / fs * 1000)
                out["qrs_ms"] = float(np.nanmedian(g["ECG_R_Offsets"] - g["ECG_R_Onsets"]) / fs * 1000)
                out["qt_ms"] = float(np.nanmedian(g["ECG_T_Offsets"] - g["ECG_R_Onsets"]) / fs * 1000)
            except Exception:  # the DWT delineator fails on some records; those intervals stay NaN
                pass
    amps = _amplitudes(x, rp, fs)
    out.update(amps)
    return out


def _amplitudes(x: np.ndarray, rp: np.ndarray, fs: float) -> dict[str, float]:
    n = x.shape[1]
    ms = lambda v: int(round(v * fs / 1000.0))  # noqa: E731
    rp = rp[(rp - ms(200) >= 0) & (rp + ms(400) < n)]
    res: dict[str, float] = {}
    names = [f"{k}_{i}" for k in ("q", "r", "s", "t") for i in range(x.shape[0])]
    if len(rp) < 2:
        return {k: float("nan") for k in names} | {"axis_deg": float("nan")}
    win = lambda a, b: rp[:, None] + np.arange(ms(a), ms(b) + 1)[None]  # noqa: E731
    base = np.median(x[:, win(-90, -60)], axis=2)                         # (12, beats), PR segment
    qrs = x[:, win(-60, 60)] - base[..., None]
    tw = x[:, win(160, 400)] - base[..., None]
    q = np.median(-x[:, win(-50, -10)].min(axis=2) + base, axis=1)
    r = np.median(qrs.max(axis=2), axis=1)
    s = np.median(-qrs.min(axis=2), axis=1)
    t = np.median(np.take_along_axis(tw, np.abs(tw).argmax(axis=2)[..., None], axis=2)[..., 0], axis=1)
    area = np.median(qrs.sum(axis=2), axis=1)
    for i in range(x.shape[0]):
        res[f"q_{i}"], res[f"r_{i}"] = float(q[i]), float(r[i])
        res[f"s_{i}"], res[f"t_{i}"] = float(s[i]), float(t[i])
    res["axis_deg"] = float(np.degrees(np.arctan2(area[LEAD_AVF], area[LEAD_I])))
    return res


def feature_matrix(signals: np.ndarray, fs: float) -> tuple[list[str], np.ndarray]:
    """(names, (N, F) features) of a set of records (see :func:`record_features`)."""
    rows = [record_features(x, fs) for x in signals]
    if not rows:
        raise RealismError("no records to measure")
    names = list(rows[0])
    return names, np.array([[r[k] for k in names] for r in rows], dtype=float)


def mmd_features(names: list[str], feats: np.ndarray) -> np.ndarray:
    """The feature matrix used for the MMD: axis as (cos, sin) so -179 and +179 degrees are close."""
    i = names.index("axis_deg")
    ax = np.radians(feats[:, i])
    rest = np.delete(feats, i, axis=1)
    return np.column_stack([rest, np.cos(ax), np.sin(ax)])
