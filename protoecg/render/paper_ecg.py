"""Interactive paper-ECG figures (Plotly) with overlays for evidence, counterfactuals and attributions.

Axes are in millimetres of ECG paper (see :mod:`protoecg.render.geometry`): the x axis carries the
5 mm major grid with 1 mm minor lines, the y axis is locked to the same scale (``scaleanchor``), so
25 mm/s and 10 mm/mV hold at any zoom. Overlays are rectangles clipped to the panels showing their lead.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from data_access.signal_checks import check_model_input

from .geometry import (MAJOR_MM, MINOR_MM, SPEED_MM_S, Overlay, PaperLayout, as_overlays, calibration_pulse,
                       overlay_rects, panel_trace, stacked_layout, standard_layout)

PAPER_BG = "#fffafa"
MINOR_COLOR = "#f6caca"
MAJOR_COLOR = "#e48a8a"
TRACE_COLOR = "#111111"
PX_PER_MM = 4.0

MATCH_COLOR = "rgba(30,110,255,1)"
CF_COLOR = "rgba(0,160,80,1)"
ATTR_POS_COLOR = "rgba(220,40,40,1)"
ATTR_NEG_COLOR = "rgba(40,80,220,1)"


def _layout_for(kind: str, duration_s: float) -> PaperLayout:
    if kind == "standard":
        return standard_layout(duration_s)
    if kind == "stacked":
        return stacked_layout(duration_s)
    raise ValueError(f"unknown layout {kind!r} (use 'standard' or 'stacked')")


def paper_ecg_figure(signal: np.ndarray, fs: float, *, layout: Literal["standard", "stacked"] = "standard",
                     title: str | None = None, banner: str | None = None,
                     px_per_mm: float = PX_PER_MM):
    """Draw a (12, T) mV signal on ECG paper. Returns a ``plotly.graph_objects.Figure``.

    ``banner`` is printed in red above the sheet (e.g. "demo model trained on generated ECGs").
    The figure keeps its :class:`PaperLayout` in ``fig.layout.meta['paper']`` for overlays.
    """
    import plotly.graph_objects as go

    sig = check_model_input(signal, finite=False, dtype=float)  # LeadError (a ValueError) unless (12, T)
    duration = sig.shape[1] / float(fs)
    lay = _layout_for(layout, duration)
    fig = go.Figure()
    xs: list[float | None] = []
    ys: list[float | None] = []
    for p in lay.panels:
        x, y = panel_trace(lay, p, sig, fs)
        xs += [*x.round(3).tolist(), None]
        ys += [*y.round(3).tolist(), None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=TRACE_COLOR, width=1.1),
                               name="ECG", hoverinfo="skip", showlegend=False))
    cx: list[float | None] = []
    cy: list[float | None] = []
    for b in lay.row_baselines():
        x, y = calibration_pulse(lay, b)
        cx += [*x.tolist(), None]
        cy += [*y.tolist(), None]
    fig.add_trace(go.Scatter(x=cx, y=cy, mode="lines", line=dict(color=TRACE_COLOR, width=1.4),
                             name="1 mV calibration", hoverinfo="name", showlegend=False))
    sep = [p for p in lay.panels if p.col > 0]
    for p in sep:  # short separator bars between the 2.5 s columns, as printed by ECG carts
        fig.add_shape(type="line", x0=p.x0_mm, x1=p.x0_mm, y0=p.baseline_mm - 3, y1=p.baseline_mm + 3,
                      line=dict(color=TRACE_COLOR, width=1.2))
    for p in lay.panels:
        fig.add_annotation(x=p.x0_mm + 1.0, y=p.baseline_mm + lay.row_height_mm * 0.38, text=f"<b>{p.lead}</b>",
                           showarrow=False, xanchor="left", font=dict(size=12, color=TRACE_COLOR))
    x_lo = -lay.left_margin_mm
    width_mm = lay.width_mm + lay.left_margin_mm + 2
    axis_common = dict(showgrid=True, gridcolor=MAJOR_COLOR, gridwidth=1, zeroline=False,
                       tick0=0.0, dtick=MAJOR_MM, showticklabels=False, ticks="",
                       minor=dict(showgrid=True, gridcolor=MINOR_COLOR, gridwidth=0.5, tick0=0.0, dtick=MINOR_MM))
    top = 40 if (title or banner) else 10
    fig.update_layout(
        xaxis=dict(range=[x_lo, lay.width_mm + 2], **axis_common, fixedrange=False),
        yaxis=dict(range=[0, lay.height_mm], scaleanchor="x", scaleratio=1.0, **axis_common),
        plot_bgcolor=PAPER_BG, paper_bgcolor="white",
        width=int(width_mm * px_per_mm) + 20, height=int(lay.height_mm * px_per_mm) + top + 40,
        margin=dict(l=10, r=10, t=top, b=30),
        title=dict(text=_title_html(title, banner), x=0.01, xanchor="left", font=dict(size=14)) if (title or banner) else None,
        meta={"paper": {"layout": layout, "duration_s": duration, "fs": float(fs),
                        "speed_mm_s": lay.speed_mm_s, "gain_mm_mv": lay.gain_mm_mv}},
        dragmode="pan",
    )
    fig.add_annotation(x=lay.width_mm, y=0, yshift=-14, xanchor="right", showarrow=False,
                       text=f"{lay.speed_mm_s:g} mm/s · {lay.gain_mm_mv:g} mm/mV · grid 1 mm / 5 mm",
                       font=dict(size=10, color="#555"))
    return fig


def _title_html(title: str | None, banner: str | None) -> str:
    parts = []
    if title:
        parts.append(title)
    if banner:
        parts.append(f"<span style='color:#b00000'>{banner}</span>")
    return " — ".join(parts)


def paper_layout_of(fig) -> PaperLayout:
    """Rebuild the :class:`PaperLayout` a figure was drawn with (from its ``meta``)."""
    meta = fig.layout.meta["paper"]
    return _layout_for(meta["layout"], meta["duration_s"])


def add_overlays(fig, overlays: Iterable[Overlay | Sequence], *, color: str | None = None,
                 legend: str | None = None, show_labels: bool = True) -> int:
    """Shade (lead, start_s, end_s[, label[, color[, opacity]]]) spans on the panels showing them.

    Returns the number of rectangles drawn (an overlay outside a lead's 2.5 s slice draws nothing in the
    3×4 grid; use ``layout='stacked'`` to see every lead over the full record).
    """
    lay = paper_layout_of(fig)
    rects = overlay_rects(lay, as_overlays(overlays, color))
    labelled: set[tuple[str, float]] = set()
    for r in rects:
        ov = r.overlay
        fig.add_shape(type="rect", x0=r.x0, x1=r.x1, y0=r.y0, y1=r.y1, layer="below",
                      fillcolor=ov.color, opacity=ov.opacity, line=dict(width=0))
        key = (ov.label, r.panel.baseline_mm)
        if show_labels and ov.label and key not in labelled:
            labelled.add(key)
            fig.add_annotation(x=r.x0, y=r.y1, text=ov.label, showarrow=False, xanchor="left",
                               yanchor="bottom", font=dict(size=9, color=ov.color))
    if legend and rects:
        import plotly.graph_objects as go
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=legend,
                                 marker=dict(symbol="square", size=12, color=rects[0].overlay.color)))
        fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.02, x=0.3))
    return len(rects)


def add_matched_windows(fig, windows: Iterable[Overlay | Sequence]) -> int:
    """Overlay prototype-matched windows of the query (blue)."""
    return add_overlays(fig, windows, color=MATCH_COLOR, legend="prototype match")


def add_counterfactual(fig, segments: Iterable[Overlay | Sequence], cf_signal: np.ndarray | None = None,
                       fs: float | None = None) -> int:
    """Shade substituted (lead, window) cells (green) and, if given, draw the counterfactual trace there."""
    segs = as_overlays(segments, CF_COLOR)
    n = add_overlays(fig, segs, color=CF_COLOR, legend="counterfactual change", show_labels=False)
    if cf_signal is not None:
        if fs is None:
            raise ValueError("fs is needed to draw the counterfactual signal")
        import plotly.graph_objects as go
        lay = paper_layout_of(fig)
        sig = np.asarray(cf_signal, dtype=float)
        xs: list[float | None] = []
        ys: list[float | None] = []
        for r in overlay_rects(lay, segs):
            p = r.panel
            i0 = int(round(max(r.overlay.start_s, p.t_start_s) * fs))
            i1 = int(round(min(r.overlay.end_s, p.t_end_s) * fs))
            t = np.arange(i0, min(i1 + 1, sig.shape[1])) / fs
            xs += [*np.asarray(lay.x_of(p, t)).round(3).tolist(), None]
            ys += [*np.asarray(lay.y_of(p, sig[p.lead_index, i0:i0 + len(t)])).round(3).tolist(), None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=CF_COLOR, width=1.3),
                                 name="counterfactual signal", hoverinfo="skip"))
    return n


def attribution_overlays(attr: np.ndarray, fs: float, unit_s: float = 0.2, top_fraction: float = 0.1
                         ) -> list[Overlay]:
    """Turn a (12, T) attribution map into bands: the top ``top_fraction`` (lead, unit) cells by |sum|.

    Red = pushes the logit up, blue = pushes it down; opacity scales with magnitude.
    """
    from data_access.leads import CANONICAL_LEADS

    a = np.asarray(attr, dtype=float)
    step = max(1, int(round(unit_s * fs)))
    n_units = int(np.ceil(a.shape[1] / step))
    pad = n_units * step - a.shape[1]
    cells = np.pad(a, ((0, 0), (0, pad))).reshape(12, n_units, step).sum(-1)
    mag = np.abs(cells)
    if not mag.any():
        return []
    k = max(1, int(round(top_fraction * mag.size)))
    thresh = np.sort(mag.ravel())[-k]
    top = mag.max()
    out = []
    for li, ui in zip(*np.nonzero(mag >= thresh)):
        v = cells[li, ui]
        out.append(Overlay(CANONICAL_LEADS[li], ui * step / fs, min((ui + 1) * step, a.shape[1]) / fs,
                           "", ATTR_POS_COLOR if v > 0 else ATTR_NEG_COLOR,
                           float(0.15 + 0.45 * abs(v) / top)))
    return out


def add_attribution_bands(fig, bands: Iterable[Overlay | Sequence]) -> int:
    """Overlay attribution bands (use :func:`attribution_overlays` to build them from a map)."""
    return add_overlays(fig, bands, show_labels=False)


def match_figure(query: np.ndarray, source: np.ndarray, fs: float, leads: Sequence[str],
                 query_window: tuple[float, float], source_window: tuple[float, float], *,
                 title: str = "", px_per_mm: float = PX_PER_MM):
    """"This looks like that": the query's matched window beside the prototype's source window.

    Both (12, T) signals are full records; each row shows one of ``leads`` (at most 4) on ECG paper at
    25 mm/s and 10 mm/mV, query on the left, prototype source on the right.
    """
    import plotly.graph_objects as go

    from .geometry import Panel

    leads = [lead for lead in leads][:4] or ["II"]
    row_h = 30.0
    wq = (query_window[1] - query_window[0]) * SPEED_MM_S
    ws = (source_window[1] - source_window[0]) * SPEED_MM_S
    gap = 10.0
    n = len(leads)
    base = [(n - r - 0.5) * row_h for r in range(n)]
    lay = PaperLayout((), wq + gap + ws, n * row_h, row_h, n, 2.0)
    fig = go.Figure()
    for sig, win, x0, name, color in ((query, query_window, 0.0, "query", TRACE_COLOR),
                                      (source, source_window, wq + gap, "prototype source", MATCH_COLOR)):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for r, lead in enumerate(leads):
            p = Panel(lead, win[0], win[1], x0, base[r], r, 0)
            x, y = panel_trace(lay, p, np.asarray(sig, dtype=float), fs)
            xs += [*x.round(3).tolist(), None]
            ys += [*y.round(3).tolist(), None]
            fig.add_annotation(x=x0 + 1, y=base[r] + row_h * 0.38, text=f"<b>{lead}</b>", showarrow=False,
                               xanchor="left", font=dict(size=11))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=color, width=1.1),
                                 hoverinfo="skip"))
    axis = dict(showgrid=True, gridcolor=MAJOR_COLOR, zeroline=False, tick0=0.0, dtick=MAJOR_MM,
                showticklabels=False, ticks="", minor=dict(showgrid=True, gridcolor=MINOR_COLOR, tick0=0.0,
                                                           dtick=MINOR_MM))
    fig.update_layout(xaxis=dict(range=[-2, lay.width_mm + 2], **axis),
                      yaxis=dict(range=[0, lay.height_mm], scaleanchor="x", scaleratio=1.0, **axis),
                      plot_bgcolor=PAPER_BG, paper_bgcolor="white", title=dict(text=title, font=dict(size=12)),
                      width=int((lay.width_mm + 4) * px_per_mm) + 40, height=int(lay.height_mm * px_per_mm) + 90,
                      margin=dict(l=10, r=10, t=40, b=10), showlegend=True,
                      legend=dict(orientation="h", y=-0.02))
    return fig


def snippet_figure(signal: np.ndarray, fs: float, leads: Sequence[str], *, title: str = "",
                   px_per_mm: float = 2.0):
    """A short (12, n) window on ECG paper (25 mm/s, 10 mm/mV), one row per lead of ``leads`` (at most 4);
    small enough to sit in a row of columns (the gallery's nearest training windows)."""
    import plotly.graph_objects as go

    from data_access.leads import CANONICAL_LEADS

    from .geometry import Panel

    leads = [ld for ld in leads if ld in CANONICAL_LEADS][:4] or ["II"]
    sig = np.asarray(signal, dtype=float)
    dur = sig.shape[1] / fs
    row_h = 30.0
    n = len(leads)
    base = [(n - r - 0.5) * row_h for r in range(n)]
    lay = PaperLayout((), dur * SPEED_MM_S, n * row_h, row_h, n, 2.0)
    xs: list[float | None] = []
    ys: list[float | None] = []
    fig = go.Figure()
    for r, lead in enumerate(leads):
        x, y = panel_trace(lay, Panel(lead, 0.0, dur, 0.0, base[r], r, 0), sig, fs)
        xs += [*x.round(3).tolist(), None]
        ys += [*y.round(3).tolist(), None]
        fig.add_annotation(x=1, y=base[r] + row_h * 0.38, text=f"<b>{lead}</b>", showarrow=False,
                           xanchor="left", font=dict(size=10))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line=dict(color=TRACE_COLOR, width=1.0), hoverinfo="skip"))
    axis = dict(showgrid=True, gridcolor=MAJOR_COLOR, zeroline=False, tick0=0.0, dtick=MAJOR_MM,
                showticklabels=False, ticks="", minor=dict(showgrid=True, gridcolor=MINOR_COLOR, tick0=0.0,
                                                           dtick=MINOR_MM))
    fig.update_layout(xaxis=dict(range=[0, lay.width_mm], **axis),
                      yaxis=dict(range=[0, lay.height_mm], scaleanchor="x", scaleratio=1.0, **axis),
                      plot_bgcolor=PAPER_BG, paper_bgcolor="white", title=dict(text=title, font=dict(size=11)),
                      height=int(lay.height_mm * px_per_mm) + 50, margin=dict(l=4, r=4, t=30, b=4),
                      showlegend=False)
    return fig
