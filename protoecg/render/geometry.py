"""Paper-ECG geometry in millimetres, shared by the Plotly and the matplotlib renderers.

Everything is laid out on a sheet measured in mm, as on clinical ECG paper: time runs at
``speed_mm_s`` (25 mm/s) and voltage at ``gain_mm_mv`` (10 mm/mV). The standard layout is the
3×4 grid (rows I/aVR/V1/V4, II/aVL/V2/V5, III/aVF/V3/V6; each column shows the next 2.5 s of the
simultaneous recording, so column ``c`` covers ``[2.5c, 2.5(c+1))`` s) plus a full-length rhythm strip
(lead II) underneath. Traces start at x = 0; the calibration pulse (1 mV × 0.2 s) sits in the left
margin at negative x. A panel's trace is drawn at ``x = x0_mm + (t - t_start_s) * speed``, so in the
standard layout ``x = t * speed`` for every lead.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from data_access.leads import CANONICAL_LEADS

SPEED_MM_S = 25.0
GAIN_MM_MV = 10.0
MINOR_MM = 1.0
MAJOR_MM = 5.0
CAL_WIDTH_S = 0.2
CAL_HEIGHT_MV = 1.0

# The clinical 3×4 arrangement: GRID_ROWS[row][col] is the lead drawn there.
GRID_ROWS: tuple[tuple[str, ...], ...] = (
    ("I", "aVR", "V1", "V4"),
    ("II", "aVL", "V2", "V5"),
    ("III", "aVF", "V3", "V6"),
)


@dataclass(frozen=True)
class Panel:
    """One lead drawn over one time span at one place on the sheet."""

    lead: str
    t_start_s: float
    t_end_s: float
    x0_mm: float          # x of the trace at t_start_s
    baseline_mm: float    # y of 0 mV
    row: int
    col: int

    @property
    def lead_index(self) -> int:
        return CANONICAL_LEADS.index(self.lead)


@dataclass(frozen=True)
class PaperLayout:
    """Panels on a sheet; all lengths in mm."""

    panels: tuple[Panel, ...]
    width_mm: float
    height_mm: float
    row_height_mm: float
    n_rows: int
    left_margin_mm: float
    speed_mm_s: float = SPEED_MM_S
    gain_mm_mv: float = GAIN_MM_MV

    def x_of(self, panel: Panel, t_s: np.ndarray | float) -> np.ndarray | float:
        """Sheet x (mm) of time ``t_s`` (s from the start of the recording) in ``panel``."""
        return panel.x0_mm + (np.asarray(t_s) - panel.t_start_s) * self.speed_mm_s

    def y_of(self, panel: Panel, mv: np.ndarray | float) -> np.ndarray | float:
        """Sheet y (mm) of a voltage ``mv`` (millivolts) in ``panel``."""
        return panel.baseline_mm + np.asarray(mv) * self.gain_mm_mv

    def panels_for(self, lead: str) -> list[Panel]:
        return [p for p in self.panels if p.lead == lead]

    def row_baselines(self) -> list[float]:
        return sorted({p.baseline_mm for p in self.panels}, reverse=True)


def _baseline(row: int, n_rows: int, row_height: float) -> float:
    # Row 0 at the top; y grows upwards as on paper.
    return (n_rows - row - 0.5) * row_height


def standard_layout(duration_s: float = 10.0, rhythm_lead: str | None = "II",
                    row_height_mm: float = 40.0, speed_mm_s: float = SPEED_MM_S,
                    gain_mm_mv: float = GAIN_MM_MV) -> PaperLayout:
    """The clinical 3×4 layout (each column ``duration_s / 4`` long) plus an optional rhythm strip."""
    col_s = duration_s / 4.0
    n_rows = 3 + (1 if rhythm_lead else 0)
    panels: list[Panel] = []
    for r, leads in enumerate(GRID_ROWS):
        for c, lead in enumerate(leads):
            t0 = c * col_s
            panels.append(Panel(lead, t0, t0 + col_s, t0 * speed_mm_s,
                                _baseline(r, n_rows, row_height_mm), r, c))
    if rhythm_lead:
        if rhythm_lead not in CANONICAL_LEADS:
            raise ValueError(f"unknown rhythm lead {rhythm_lead!r}")
        panels.append(Panel(rhythm_lead, 0.0, duration_s, 0.0, _baseline(3, n_rows, row_height_mm), 3, 0))
    return PaperLayout(tuple(panels), duration_s * speed_mm_s, n_rows * row_height_mm, row_height_mm,
                       n_rows, left_margin_mm=12.0, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv)


def stacked_layout(duration_s: float = 10.0, leads: Sequence[str] = CANONICAL_LEADS,
                   row_height_mm: float = 25.0, speed_mm_s: float = SPEED_MM_S,
                   gain_mm_mv: float = GAIN_MM_MV) -> PaperLayout:
    """Every lead over the whole recording, one row each (shows matches outside the 3×4 time slices)."""
    n = len(leads)
    panels = tuple(Panel(lead, 0.0, duration_s, 0.0, _baseline(r, n, row_height_mm), r, 0)
                   for r, lead in enumerate(leads))
    return PaperLayout(panels, duration_s * speed_mm_s, n * row_height_mm, row_height_mm, n,
                       left_margin_mm=12.0, speed_mm_s=speed_mm_s, gain_mm_mv=gain_mm_mv)


def panel_trace(layout: PaperLayout, panel: Panel, signal: np.ndarray, fs: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(x_mm, y_mm) of ``panel``'s lead over its time span; ``signal`` is (12, T) in mV."""
    sig = np.asarray(signal)
    i0 = int(round(panel.t_start_s * fs))
    i1 = min(int(round(panel.t_end_s * fs)), sig.shape[1])
    t = np.arange(i0, i1) / fs
    return (np.asarray(layout.x_of(panel, t), dtype=float),
            np.asarray(layout.y_of(panel, sig[panel.lead_index, i0:i1]), dtype=float))


def calibration_pulse(layout: PaperLayout, baseline_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The 1 mV × 0.2 s square pulse drawn in the left margin of a row (x < 0)."""
    w = CAL_WIDTH_S * layout.speed_mm_s
    h = CAL_HEIGHT_MV * layout.gain_mm_mv
    x_end = -2.0
    x_start = x_end - w - 5.0
    xs = np.array([x_start, x_start + 2.5, x_start + 2.5, x_start + 2.5 + w, x_start + 2.5 + w, x_end])
    ys = baseline_mm + np.array([0.0, 0.0, h, h, 0.0, 0.0])
    return xs, ys


@dataclass(frozen=True)
class Overlay:
    """A highlighted (lead, time span); ``lead=None`` highlights the span on every panel."""

    lead: str | None
    start_s: float
    end_s: float
    label: str = ""
    color: str = "rgba(30,110,255,1)"
    opacity: float = 0.25


@dataclass(frozen=True)
class Rect:
    """A rectangle on the sheet (mm) produced by clipping an overlay to a panel."""

    x0: float
    x1: float
    y0: float
    y1: float
    overlay: Overlay
    panel: Panel


def as_overlays(items: Iterable[Overlay | Sequence], color: str | None = None) -> list[Overlay]:
    """Accept :class:`Overlay` objects or ``(lead, start_s, end_s[, label[, color[, opacity]]])`` tuples."""
    out = []
    for it in items:
        if isinstance(it, Overlay):
            out.append(it)
            continue
        lead, s, e, *rest = it
        kw = {}
        if rest:
            kw["label"] = str(rest[0])
        if len(rest) > 1 and rest[1]:
            kw["color"] = str(rest[1])
        elif color:
            kw["color"] = color
        if len(rest) > 2:
            kw["opacity"] = float(rest[2])
        if lead is not None and lead not in CANONICAL_LEADS:
            raise ValueError(f"overlay lead {lead!r} is not one of {CANONICAL_LEADS}")
        if float(e) <= float(s):
            raise ValueError(f"overlay end {e} must be after start {s}")
        out.append(Overlay(lead, float(s), float(e), **kw))
    return out


def overlay_rects(layout: PaperLayout, overlays: Iterable[Overlay]) -> list[Rect]:
    """Clip each overlay to every panel showing its lead (or every panel for ``lead=None``).

    An overlay whose span falls outside a lead's 2.5 s slice yields no rectangle in that panel
    (the stacked layout shows every lead over the full record).
    """
    rects: list[Rect] = []
    half = layout.row_height_mm / 2.0
    for ov in overlays:
        for p in layout.panels:
            if ov.lead is not None and p.lead != ov.lead:
                continue
            s, e = max(ov.start_s, p.t_start_s), min(ov.end_s, p.t_end_s)
            if e <= s:
                continue
            rects.append(Rect(float(layout.x_of(p, s)), float(layout.x_of(p, e)),
                              p.baseline_mm - half * 0.9, p.baseline_mm + half * 0.9, ov, p))
    return rects
