"""Paper-ECG geometry: 25 mm/s, 10 mm/mV, 1/5 mm grid, calibration pulse, 3×4 + rhythm placement."""
from __future__ import annotations

import numpy as np
import pytest

from data_access.leads import CANONICAL_LEADS
from protoecg.render import (add_counterfactual, add_matched_windows, attribution_overlays, paper_ecg_figure,
                             save_paper_ecg, stacked_layout, standard_layout)
from protoecg.render.geometry import calibration_pulse, overlay_rects, panel_trace, as_overlays
from protoecg.render.static import MM_PER_INCH, paper_ecg_matplotlib

FS = 100.0


def _ramp_signal(fs: float = FS, seconds: float = 10.0) -> np.ndarray:
    """Lead k carries a constant (k+1)*0.1 mV plus a 1 mV step at t >= 8 s in V4 only."""
    t = np.arange(int(seconds * fs)) / fs
    sig = np.tile(((np.arange(12) + 1) * 0.1)[:, None], (1, t.size)).astype(np.float32)
    sig[CANONICAL_LEADS.index("V4"), t >= 8.0] += 1.0
    return sig


def _segments(trace) -> list[tuple[np.ndarray, np.ndarray]]:
    xs, ys = list(trace.x), list(trace.y)
    out, cx, cy = [], [], []
    for x, y in zip(xs, ys):
        if x is None:
            out.append((np.array(cx), np.array(cy)))
            cx, cy = [], []
        else:
            cx.append(x)
            cy.append(y)
    return out


def test_standard_layout_places_leads_like_a_clinical_printout():
    lay = standard_layout(10.0)
    grid = {(p.row, p.col): p.lead for p in lay.panels}
    assert [grid[(0, c)] for c in range(4)] == ["I", "aVR", "V1", "V4"]
    assert [grid[(1, c)] for c in range(4)] == ["II", "aVL", "V2", "V5"]
    assert [grid[(2, c)] for c in range(4)] == ["III", "aVF", "V3", "V6"]
    rhythm = [p for p in lay.panels if p.row == 3]
    assert len(rhythm) == 1 and rhythm[0].lead == "II"
    assert (rhythm[0].t_start_s, rhythm[0].t_end_s) == (0.0, 10.0)
    assert lay.width_mm == pytest.approx(250.0)
    v4 = lay.panels_for("V4")[0]
    assert v4.t_start_s == pytest.approx(7.5) and v4.x0_mm == pytest.approx(7.5 * 25.0)
    # rows top to bottom: baselines strictly decreasing, equally spaced
    base = lay.row_baselines()
    assert len(base) == 4 and np.allclose(np.diff(base), -lay.row_height_mm)


def test_trace_scale_is_25_mm_per_s_and_10_mm_per_mv():
    lay = standard_layout(10.0)
    sig = _ramp_signal()
    v4 = lay.panels_for("V4")[0]
    x, y = panel_trace(lay, v4, sig, FS)
    assert x[0] == pytest.approx(187.5)
    assert np.allclose(np.diff(x), 25.0 / FS)
    assert x[-1] < 250.0
    k = CANONICAL_LEADS.index("V4")
    before, after = y[x < 8.0 * 25 - 1e-6], y[x >= 8.0 * 25 - 1e-6]
    assert np.allclose(before - v4.baseline_mm, (k + 1) * 0.1 * 10.0, atol=1e-4)
    assert np.allclose(after - before[0], 10.0, atol=1e-4)   # 1 mV spans 10 mm


def test_calibration_pulse_is_1_mv_by_200_ms_in_the_margin():
    lay = standard_layout(10.0)
    for b in lay.row_baselines():
        x, y = calibration_pulse(lay, b)
        assert (x <= 0).all() and x.min() >= -lay.left_margin_mm
        assert y.max() - y.min() == pytest.approx(10.0)
        top = x[np.isclose(y, y.max())]
        assert top.max() - top.min() == pytest.approx(5.0)   # 0.2 s × 25 mm/s


def test_plotly_figure_grid_and_trace_placement():
    sig = _ramp_signal()
    fig = paper_ecg_figure(sig, FS, title="test", banner="demo model trained on generated ECGs")
    xa, ya = fig.layout.xaxis, fig.layout.yaxis
    assert xa.dtick == 5 and xa.minor.dtick == 1 and xa.tick0 == 0
    assert ya.dtick == 5 and ya.minor.dtick == 1
    assert ya.scaleanchor == "x" and ya.scaleratio == 1
    assert "generated ECGs" in fig.layout.title.text
    segs = _segments(fig.data[0])
    lay = standard_layout(10.0)
    assert len(segs) == len(lay.panels) == 13
    for p, (x, y) in zip(lay.panels, segs):
        assert x[0] == pytest.approx(p.t_start_s * 25.0)
        k = p.lead_index
        assert y[0] - p.baseline_mm == pytest.approx((k + 1) * 0.1 * 10.0, abs=1e-3)
    cal = _segments(fig.data[1])
    assert len(cal) == 4


def test_overlays_are_clipped_to_the_panels_showing_the_lead():
    lay = standard_layout(10.0)
    rects = overlay_rects(lay, as_overlays([("V1", 5.5, 6.5, "P3")]))
    assert len(rects) == 1
    assert (rects[0].x0, rects[0].x1) == pytest.approx((137.5, 162.5))
    assert len(overlay_rects(lay, as_overlays([("II", 1.0, 2.0)]))) == 2      # grid + rhythm strip
    assert overlay_rects(lay, as_overlays([("V1", 0.0, 1.0)])) == []          # outside V1's 5-7.5 s slice
    assert len(overlay_rects(stacked_layout(10.0), as_overlays([("V1", 0.0, 1.0)]))) == 1
    assert len(overlay_rects(lay, as_overlays([(None, 2.0, 3.0)]))) == 3 + 3 + 1   # straddles columns 0/1
    with pytest.raises(ValueError):
        as_overlays([("V7", 0, 1)])
    fig = paper_ecg_figure(_ramp_signal(), FS)
    n = add_matched_windows(fig, [("V1", 5.5, 6.5, "P3")])
    assert n == 1 and any(s.type == "rect" for s in fig.layout.shapes)
    cf = _ramp_signal() + 0.5
    assert add_counterfactual(fig, [("II", 1.0, 2.0)], cf, FS) == 2
    x, y = _segments(fig.data[-1])[0]
    assert x[0] == pytest.approx(25.0)


def test_attribution_bands_pick_the_strongest_cells():
    attr = np.zeros((12, 1000))
    attr[CANONICAL_LEADS.index("V2"), 300:320] = 5.0
    attr[CANONICAL_LEADS.index("I"), 0:20] = -1.0
    bands = attribution_overlays(attr, FS, unit_s=0.2, top_fraction=1 / 600)
    assert len(bands) == 1 and bands[0].lead == "V2"
    assert (bands[0].start_s, bands[0].end_s) == pytest.approx((3.0, 3.2))
    both = attribution_overlays(attr, FS, unit_s=0.2, top_fraction=2 / 600)
    assert {b.lead for b in both} == {"V2", "I"}
    assert {b.color for b in both} == {"rgba(220,40,40,1)", "rgba(40,80,220,1)"}


def test_static_export_is_true_scale_png_and_pdf(tmp_path):
    sig = _ramp_signal()
    fig = paper_ecg_matplotlib(sig, FS, banner="demo", overlays=[("V1", 5.5, 6.5)])
    ax = fig.axes[0]
    w_in = ax.get_position().width * fig.get_figwidth()
    lo, hi = ax.get_xlim()
    assert (hi - lo) / MM_PER_INCH == pytest.approx(w_in, rel=1e-6)   # 1 data mm == 1 printed mm
    h_in = ax.get_position().height * fig.get_figheight()
    ylo, yhi = ax.get_ylim()
    assert (yhi - ylo) / MM_PER_INCH == pytest.approx(h_in, rel=1e-6)
    png = save_paper_ecg(sig, FS, tmp_path / "ecg.png")
    pdf = save_paper_ecg(sig, FS, tmp_path / "ecg.pdf", layout="stacked")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_rejects_non_12_lead_input():
    with pytest.raises(ValueError):
        paper_ecg_figure(np.zeros((3, 1000)), FS)


def test_match_figure_puts_query_and_source_side_by_side_at_scale():
    from protoecg.render.paper_ecg import match_figure
    q = _ramp_signal()
    s = _ramp_signal() * 2
    fig = match_figure(q, s, FS, ["V4", "II"], (7.0, 8.0), (1.0, 1.5), title="t")
    (qx, qy), _ = _segments(fig.data[0])
    (sx, sy), _ = _segments(fig.data[1])
    assert qx[0] == pytest.approx(0.0) and qx[-1] == pytest.approx((0.99) * 25.0)
    assert sx[0] == pytest.approx(25.0 + 10.0)                      # 1 s of query + 10 mm gap
    assert sx[-1] - sx[0] == pytest.approx(0.49 * 25.0)
    k = CANONICAL_LEADS.index("V4")
    assert sy[0] - qy[0] == pytest.approx((k + 1) * 0.1 * 10.0)     # same baseline, twice the amplitude
