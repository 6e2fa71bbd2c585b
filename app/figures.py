"""Thin wrappers over :mod:`protoecg.render.paper_ecg` for the page layouts (no signal maths here)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from protoecg.render.paper_ecg import (add_attribution_bands, add_counterfactual, add_matched_windows,
                                       attribution_overlays, paper_ecg_figure)


def is_global(evidence: Any, duration_s: float) -> bool:
    """A prototype matching (nearly) the whole record, e.g. a rhythm prototype: nothing to highlight."""
    return float(evidence.window_s[1]) - float(evidence.window_s[0]) >= 0.95 * duration_s


def case_figure(signal: np.ndarray, fs: float, layout: str, title: str, banner: str | None,
                evidence: Sequence[Any] = (), max_leads: int = 3) -> Any:
    """The case on paper with the matched windows (and leads) of the given evidence items."""
    fig = paper_ecg_figure(signal, fs, layout=layout, title=title, banner=banner)
    duration = signal.shape[1] / fs
    windows = []
    for e in evidence:
        if is_global(e, duration):
            continue
        for lead in tuple(e.leads)[:max_leads] or (None,):
            windows.append((lead, float(e.window_s[0]), float(e.window_s[1]), str(e.prototype_id)))
    if windows:
        add_matched_windows(fig, windows)
    return fig


def window_figure(segment: np.ndarray, fs: float, title: str, leads: Sequence[str], banner: str | None,
                  offset_s: float = 0.0) -> Any:
    """A short segment (12, Ts) on a stacked sheet with the matched leads highlighted."""
    fig = paper_ecg_figure(segment, fs, layout="stacked", title=title, banner=banner, px_per_mm=3.0)
    dur = segment.shape[1] / fs
    if leads and dur > 0:
        add_matched_windows(fig, [(lead, 0.0, dur, "") for lead in leads])
    return fig


def counterfactual_figure(signal: np.ndarray, fs: float, cf: Any, layout: str, title: str,
                          banner: str | None) -> Any:
    fig = paper_ecg_figure(signal, fs, layout=layout, title=title, banner=banner)
    cells = [(lead, float(s), float(e)) for lead, s, e in cf.cells]
    if cells:
        add_counterfactual(fig, cells, cf.signal, fs)
    return fig


def attribution_figure(signal: np.ndarray, fs: float, attr: np.ndarray, layout: str, title: str,
                       banner: str | None, top_fraction: float = 0.1) -> Any:
    fig = paper_ecg_figure(signal, fs, layout=layout, title=title, banner=banner)
    add_attribution_bands(fig, attribution_overlays(attr, fs, top_fraction=top_fraction))
    return fig
