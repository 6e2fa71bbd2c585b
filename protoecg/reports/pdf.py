"""The one-page clinical document: a true-scale 12-lead ECG (25 mm/s, 10 mm/mV, 1 mm / 5 mm grid) on A4
landscape with the predictions, the strongest prototype evidence and the research-use disclaimer.

The ECG axes are placed in millimetres on the page, so the sheet prints at true scale when the PDF is
printed at 100 % ("actual size"). The same explanation object feeds the HTML report, the CLI
(``protoecg explain --pdf``) and the app's download button.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..render.geometry import Overlay, standard_layout
from ..render.static import MM_PER_INCH, draw_sheet, sheet_extent

PAGE_W_MM, PAGE_H_MM = 297.0, 210.0          # A4 landscape
ROW_MM = 30.0                                # 3 mV per row: the 3×4 grid + rhythm strip fit the page
SHEET_LEFT_MM, SHEET_BOTTOM_MM = 16.0, 62.0
DISCLAIMER = ("For research and demonstration use only. Not a medical device; not for diagnosis or treatment "
              "decisions. Predictions and prototype evidence are model outputs that a qualified clinician must review.")


def _page_signal(expl, signal: np.ndarray | None, fs: float | None) -> tuple[np.ndarray, float]:
    sig = np.asarray(expl.signal if signal is None else signal, dtype=float)
    rate = float(expl.fs if fs is None else fs)
    n = int(round(10.0 * rate))
    return (sig[:, :n], rate) if sig.shape[1] >= n else (sig, rate)


def _overlays(expl, n: int = 3) -> list[Overlay]:
    """Matched windows of the strongest windowed (morphology) evidence of the most probable positive labels.

    Rhythm and diffuse prototypes match the whole record: shading all of it would hide the grid."""
    out = []
    colours = ("rgba(30,110,255,1)", "rgba(0,150,80,1)", "rgba(200,120,0,1)")
    ranked = sorted((p for p in expl.predictions if p.positive), key=lambda p: -p.probability)
    for k, p in enumerate(ranked[:n]):
        items = expl.evidence.get(p.label) or ()
        if not items:
            continue
        e = next((it for it in items if it.branch == "morphology"), None)
        if e is None:
            continue
        s, t = float(e.window_s[0]), float(e.window_s[1])
        if t <= s:
            continue
        for lead in (e.leads[:3] or (None,)):
            out.append(Overlay(lead, s, t, label=p.label, color=colours[k % 3], opacity=0.22))
    return out


def _text_lines(expl, meta: Mapping[str, Any], n_labels: int) -> tuple[list[str], list[str]]:
    preds = sorted(expl.predictions, key=lambda p: -p.probability)
    pos = [p for p in preds if p.positive][:n_labels]
    left = ["Predictions (probability / threshold):"]
    left += [f"  {p.label:<7} {p.probability:.2f} / {p.threshold:.2f}   {p.branch}" for p in pos] or ["  no label above its threshold"]
    near = [p for p in preds if not p.positive][:2]
    left += [f"  (below threshold: {', '.join(f'{p.label} {p.probability:.2f} / {p.threshold:.2f}' for p in near)})"] \
        if near else []
    right = ["Top prototype evidence (this looks like that):"]
    for p in pos[:4]:
        for e in (expl.evidence.get(p.label) or ())[:1]:
            leads = ",".join(e.leads[:4]) or "all leads"
            right.append(f"  {p.label}: {e.prototype_id} ({e.branch}) contribution {e.contribution:+.2f}, "
                         f"window {e.window_s[0]:.1f}-{e.window_s[1]:.1f} s, {leads}; source ECG {e.source_ecg_id}")
    if len(right) == 1:
        right.append("  none (no positive label)")
    return left, right


def clinical_pdf_figure(expl, *, signal: np.ndarray | None = None, fs: float | None = None,
                        record_meta: Mapping[str, Any] | None = None, n_labels: int = 6):
    """The page as a matplotlib Figure (Agg); ``signal``/``fs`` default to the explanation's model input."""
    from matplotlib.figure import Figure

    sig, rate = _page_signal(expl, signal, fs)
    lay = standard_layout(sig.shape[1] / rate, row_height_mm=ROW_MM)
    x_lo, x_hi, y_lo, y_hi = sheet_extent(lay)
    fig = Figure(figsize=(PAGE_W_MM / MM_PER_INCH, PAGE_H_MM / MM_PER_INCH), dpi=150)
    ax = fig.add_axes((SHEET_LEFT_MM / PAGE_W_MM, SHEET_BOTTOM_MM / PAGE_H_MM,
                       (x_hi - x_lo) / PAGE_W_MM, (y_hi - y_lo) / PAGE_H_MM))
    draw_sheet(ax, lay, sig, rate, _overlays(expl))
    meta = dict(record_meta or {})

    def at(x_mm: float, y_mm: float, s: str, **kw) -> None:
        fig.text(x_mm / PAGE_W_MM, 1 - y_mm / PAGE_H_MM, s, va="top", **kw)

    at(SHEET_LEFT_MM, 8, f"protoecg — ECG {expl.record_id}", fontsize=12, fontweight="bold")
    facts = [f"{k} {meta[m]}" for k, m in (("age", "age"), ("sex", "sex"), ("acquired", "acquisition_time"),
                                           ("format", "format")) if meta.get(m) not in (None, "")]
    if meta.get("derived_leads"):
        facts.append("derived leads " + " ".join(meta["derived_leads"]))
    facts.append(f"{rate:g} Hz, {sig.shape[1] / rate:.1f} s shown")
    at(SHEET_LEFT_MM, 15, "   ".join(facts), fontsize=7.5)
    if meta.get("statements"):
        at(SHEET_LEFT_MM, 20, "Machine statements: " + "; ".join(map(str, meta["statements"]))[:170], fontsize=7.5)
    if getattr(expl, "is_demo", False):
        at(PAGE_W_MM - 10, 8, "DEMO MODEL — trained on generated ECGs, not a diagnostic", fontsize=9,
           ha="right", color="#b00000", fontweight="bold")
    left, right = _text_lines(expl, meta, n_labels)
    top = PAGE_H_MM - SHEET_BOTTOM_MM + 8
    at(SHEET_LEFT_MM, top, "\n".join(left), fontsize=7, family="monospace")
    at(SHEET_LEFT_MM + 80, top, "\n".join(right), fontsize=7)
    at(SHEET_LEFT_MM, PAGE_H_MM - 12, DISCLAIMER, fontsize=7, color="#b00000", wrap=True)
    at(PAGE_W_MM - 10, PAGE_H_MM - 6, "print at 100 % (actual size): 25 mm/s, 10 mm/mV", fontsize=6,
       ha="right", color="#555555")
    return fig


def clinical_pdf_bytes(expl, **kwargs) -> bytes:
    """The one-page PDF as bytes (for a download button)."""
    buf = io.BytesIO()
    clinical_pdf_figure(expl, **kwargs).savefig(buf, format="pdf")
    return buf.getvalue()


def write_clinical_pdf(expl, path: str | Path, **kwargs) -> Path:
    """Write the one-page PDF to ``path``; see :func:`clinical_pdf_figure` for the options."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(clinical_pdf_bytes(expl, **kwargs))
    return path
