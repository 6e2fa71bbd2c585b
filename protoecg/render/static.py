"""Static paper-ECG export (matplotlib → PNG/PDF) at true scale, for printed reports.

The figure is sized in inches from the sheet's millimetres, so printed at 100 % it measures
25 mm per second and 10 mm per millivolt. Uses the same geometry as the interactive figure.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from data_access.signal_checks import check_model_input

from .geometry import (MAJOR_MM, MINOR_MM, Overlay, PaperLayout, as_overlays, calibration_pulse, overlay_rects,
                       panel_trace, stacked_layout, standard_layout)

MM_PER_INCH = 25.4
MAJOR_GRID_COLOR = "#e48a8a"


def paper_ecg_matplotlib(signal: np.ndarray, fs: float, *, layout: Literal["standard", "stacked"] = "standard",
                         title: str | None = None, banner: str | None = None,
                         overlays: Iterable[Overlay | Sequence] = ()):
    """Return a matplotlib ``Figure`` of the signal on ECG paper (Agg backend; no display needed)."""
    from matplotlib.figure import Figure

    sig = check_model_input(signal, finite=False, dtype=float)  # LeadError (a ValueError) unless (12, T)
    duration = sig.shape[1] / float(fs)
    lay = standard_layout(duration) if layout == "standard" else stacked_layout(duration)
    x_lo, x_hi, y_lo, y_hi = sheet_extent(lay)
    head_mm = 12.0 if (title or banner) else 4.0
    w_in = (x_hi - x_lo + 10) / MM_PER_INCH
    h_in = (y_hi - y_lo + head_mm + 8) / MM_PER_INCH
    fig = Figure(figsize=(w_in, h_in), dpi=150)
    # Axes occupy exactly the sheet area so 1 data mm == 1 printed mm.
    ax = fig.add_axes(((5 / MM_PER_INCH) / w_in, (6 / MM_PER_INCH) / h_in,
                       ((x_hi - x_lo) / MM_PER_INCH) / w_in, ((y_hi - y_lo) / MM_PER_INCH) / h_in))
    draw_sheet(ax, lay, sig, fs, overlays)
    if title:
        fig.text(5 / MM_PER_INCH / w_in, 1 - 5 / MM_PER_INCH / h_in, title, fontsize=9, va="top")
    if banner:
        fig.text(1 - 5 / MM_PER_INCH / w_in, 1 - 5 / MM_PER_INCH / h_in, banner, fontsize=9, va="top",
                 ha="right", color="#b00000")
    return fig


def _check(signal: np.ndarray) -> np.ndarray:
    sig = np.asarray(signal, dtype=float)
    if sig.ndim != 2 or sig.shape[0] != 12:
        raise ValueError(f"expected a (12, T) signal, got shape {sig.shape}")
    return sig


def sheet_extent(lay: PaperLayout) -> tuple[float, float, float, float]:
    """(x_lo, x_hi, y_lo, y_hi) of the sheet in mm: the calibration margin, the traces, 2 mm spare."""
    return -lay.left_margin_mm, lay.width_mm + 2, 0.0, lay.height_mm


def draw_sheet(ax, lay: PaperLayout, signal: np.ndarray, fs: float,
               overlays: Iterable[Overlay | Sequence] = ()) -> None:
    """Draw grid, overlays, traces, lead labels and calibration pulses of ``lay`` on ``ax`` (data = mm).

    The caller sizes ``ax`` so that one data unit is one millimetre on the page.
    """
    from matplotlib.patches import Rectangle

    sig = _check(signal)
    x_lo, x_hi, y_lo, y_hi = sheet_extent(lay)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_facecolor("#fffafa")
    minor_x = np.arange(np.ceil(x_lo / MINOR_MM) * MINOR_MM, x_hi + 1e-9, MINOR_MM)
    minor_y = np.arange(0.0, y_hi + 1e-9, MINOR_MM)
    ax.vlines(minor_x, y_lo, y_hi, colors="#f6caca", linewidths=0.25, zorder=0)
    ax.hlines(minor_y, x_lo, x_hi, colors="#f6caca", linewidths=0.25, zorder=0)
    major_x = minor_x[np.isclose(np.mod(minor_x, MAJOR_MM), 0) | np.isclose(np.mod(minor_x, MAJOR_MM), MAJOR_MM)]
    major_y = minor_y[np.isclose(np.mod(minor_y, MAJOR_MM), 0) | np.isclose(np.mod(minor_y, MAJOR_MM), MAJOR_MM)]
    ax.vlines(major_x, y_lo, y_hi, colors=MAJOR_GRID_COLOR, linewidths=0.6, zorder=0)
    ax.hlines(major_y, x_lo, x_hi, colors=MAJOR_GRID_COLOR, linewidths=0.6, zorder=0)
    for r in overlay_rects(lay, as_overlays(overlays)):
        ax.add_patch(Rectangle((r.x0, r.y0), r.x1 - r.x0, r.y1 - r.y0, facecolor=_mpl_color(r.overlay.color),
                               alpha=r.overlay.opacity, edgecolor="none", zorder=1))
    for p in lay.panels:
        x, y = panel_trace(lay, p, sig, fs)
        ax.plot(x, y, color="#111111", linewidth=0.6, zorder=3)
        ax.text(p.x0_mm + 1.0, p.baseline_mm + lay.row_height_mm * 0.33, p.lead, fontsize=7,
                fontweight="bold", zorder=4)
        if p.col > 0:
            ax.plot([p.x0_mm, p.x0_mm], [p.baseline_mm - 3, p.baseline_mm + 3], color="#111111", lw=0.8)
    for b in lay.row_baselines():
        cx, cy = calibration_pulse(lay, b)
        ax.plot(cx, cy, color="#111111", linewidth=0.8, zorder=3)
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(False)
    ax.text(x_hi, -4.5, f"{lay.speed_mm_s:g} mm/s   {lay.gain_mm_mv:g} mm/mV   grid 1 mm / 5 mm",
            ha="right", fontsize=6, color="#555555", clip_on=False)


def _mpl_color(c: str):
    """Plotly-style 'rgba(r,g,b,a)' → matplotlib RGB tuple; other strings pass through."""
    s = c.strip()
    if s.startswith("rgb"):
        vals = [float(v) for v in s[s.index("(") + 1:s.index(")")].split(",")]
        return tuple(v / 255 for v in vals[:3])
    return s


def save_paper_ecg(signal: np.ndarray, fs: float, path: str | Path, **kwargs) -> Path:
    """Write the paper ECG to ``path``; the format follows the suffix (.png, .pdf, .svg)."""
    path = Path(path)
    fig = paper_ecg_matplotlib(signal, fs, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
