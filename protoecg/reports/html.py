"""One self-contained HTML page per explained ECG (Plotly JS embedded once, opens offline)."""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

from ..render.paper_ecg import (add_attribution_bands, add_counterfactual, add_matched_windows,
                                attribution_overlays, match_figure, paper_ecg_figure)

if TYPE_CHECKING:
    from ..explain.types import Explanation

_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:18px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 6px} h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ddd}
.banner{background:#fff0f0;border:1px solid #e0a0a0;color:#900;padding:6px 10px;margin:8px 0;font-weight:600}
table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f5f5f5} .pos{color:#0a6b2a;font-weight:600} .muted{color:#777;font-size:12px}
"""


def _esc(x: object) -> str:
    return html.escape(str(x))


def _figure_html(fig, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=bool(first), config={"displaylogo": False,
                                                                           "scrollZoom": True})


def _predictions_table(expl: "Explanation", max_rows: int = 12) -> str:
    preds = sorted(expl.predictions, key=lambda p: -p.probability)
    rows = []
    for p in preds[:max(max_rows, len(expl.positive_labels))]:
        cls = ' class="pos"' if p.positive else ""
        rows.append(f"<tr><td{cls}>{_esc(p.label)}</td><td>{_esc(p.branch)}</td><td>{p.probability:.3f}</td>"
                    f"<td>{p.threshold:.3f}</td><td{cls}>{'positive' if p.positive else 'negative'}</td></tr>")
    return ("<table><tr><th>label</th><th>branch</th><th>probability</th><th>threshold</th><th>decision</th></tr>"
            + "".join(rows) + "</table>")


def _evidence_table(expl: "Explanation") -> str:
    if not expl.evidence:
        return "<p class='muted'>No label is positive, and none was requested.</p>"
    parts = []
    for label, items in expl.evidence.items():
        rows = "".join(
            f"<tr><td>{_esc(e.prototype_id)}</td><td>{_esc(e.branch)}</td><td>{_esc(e.class_code)}</td>"
            f"<td>{e.similarity:.3f}</td><td>{e.contribution:+.3f}</td>"
            f"<td>{e.window_s[0]:.2f}–{e.window_s[1]:.2f} s</td><td>{_esc(', '.join(e.leads))}</td>"
            f"<td>{_esc(', '.join(e.lead_groups))}</td><td>{_esc(e.source_ecg_id)} "
            f"({e.source_window_s[0]:.2f}–{e.source_window_s[1]:.2f} s; {_esc(', '.join(e.source_labels))})</td></tr>"
            for e in items)
        parts.append(f"<h3>{_esc(label)}</h3><table><tr><th>prototype</th><th>branch</th><th>class</th>"
                     f"<th>similarity</th><th>contribution</th><th>matched window</th><th>leads</th>"
                     f"<th>lead groups</th><th>source ECG (window; labels)</th></tr>{rows}</table>")
    return "".join(parts)


def _cf_table(expl: "Explanation") -> str:
    cf = expl.counterfactual
    if cf is None:
        return "<p class='muted'>No counterfactual was requested.</p>"
    d = cf.to_json()
    keys = ["label", "direction", "valid", "leads_changed", "seconds_changed", "fraction_changed", "l1", "l2",
            "plausibility", "plausibility_original", "score_before", "score_after", "threshold_logit",
            "donor_id", "model_calls", "n_scored", "seconds"]
    def show(v) -> str:
        return ", ".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)

    rows = "".join(f"<tr><th>{k}</th><td>{_esc(show(d[k]))}</td></tr>" for k in keys)
    return f"<table>{rows}</table>"


def _match_figures(expl: "Explanation", max_figs: int = 3) -> str:
    """Query window beside the prototype's source window for the top windowed matches."""
    from ..render.paper_ecg import MATCH_COLOR  # noqa: F401  (colour legend is in the figure)

    out, seen = [], set()
    for label, items in expl.evidence.items():
        for e in items:
            if len(out) >= max_figs:
                break
            if e.branch != "morphology" or e.source_segment is None or e.prototype_id in seen:
                continue
            seen.add(e.prototype_id)
            src = np.zeros((12, int(round(e.source_window_s[0] * expl.fs)) + e.source_segment.shape[1]), np.float32)
            src[:, src.shape[1] - e.source_segment.shape[1]:] = e.source_segment
            fig = match_figure(expl.signal, src, expl.fs, e.leads, e.window_s, e.source_window_s,
                               title=f"{label}: query {e.window_s[0]:.2f}–{e.window_s[1]:.2f} s looks like "
                                     f"{e.prototype_id} (source ECG {e.source_ecg_id}, "
                                     f"{e.source_window_s[0]:.2f}–{e.source_window_s[1]:.2f} s)")
            out.append(_figure_html(fig, first=False))
    return ("<h3>This looks like that: matched windows beside the prototypes' source windows</h3>" + "".join(out)
            if out else "")


def render_record_html(expl: "Explanation", title: str | None = None, pdf_href: str | None = None) -> str:
    """The full HTML page for one explanation (plotly.js embedded in the first figure only); ``pdf_href``
    links the record's one-page clinical PDF."""
    title = title or f"ECG {expl.record_id}"
    banner = expl.banner
    figs_html: list[str] = []
    # Windowed (morphology) matches only: rhythm and diffuse prototypes match the whole record.
    windows = [(lead, e.window_s[0], e.window_s[1], f"{e.prototype_id} → {lab}")
               for lab, items in expl.evidence.items() for e in items[:3] if e.branch == "morphology"
               for lead in e.leads[:3]]
    for layout in ("standard", "stacked"):
        fig = paper_ecg_figure(expl.signal, expl.fs, layout=layout, banner=banner,
                               title=f"{title} — {'3×4 + rhythm strip' if layout == 'standard' else 'all leads, 10 s'}"
                                     " with prototype-matched windows")
        add_matched_windows(fig, windows)
        figs_html.append(_figure_html(fig, first=not figs_html))
    match_html = _match_figures(expl)
    cf = expl.counterfactual
    if cf is not None and cf.signal is not None and cf.cells:
        fig = paper_ecg_figure(expl.signal, expl.fs, layout="stacked", banner=banner,
                               title=f"Counterfactual for {cf.label} ({cf.direction.replace('_', ' ')}): "
                                     "changed cells in green")
        add_counterfactual(fig, list(cf.cells), cf.signal, expl.fs)
        figs_html.append(_figure_html(fig, first=False))
    for a in expl.attributions:
        fig = paper_ecg_figure(expl.signal, expl.fs, layout="stacked", banner=banner,
                               title=f"{a.method.replace('_', ' ')} for {a.label} (red raises, blue lowers the logit)")
        add_attribution_bands(fig, attribution_overlays(np.asarray(a.attributions), expl.fs))
        figs_html.append(_figure_html(fig, first=False))
    attr_rows = "".join(
        f"<tr><td>{_esc(a.label)}</td><td>{_esc(a.method)}</td><td>{_esc(a.baseline)}</td>"
        f"<td>{'' if a.convergence_delta is None else f'{a.convergence_delta:.3g}'}</td><td>{a.seconds:.2f}</td></tr>"
        for a in expl.attributions)
    timings = ", ".join(f"{k}: {v:.1f} ms" for k, v in expl.timings_ms.items())
    ref = f"<p>Reference labels: {_esc(', '.join(expl.source_labels))}</p>" if expl.source_labels else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_esc(title)}</h1>
{f'<div class="banner">{_esc(banner)}</div>' if banner else ''}
{ref}
{f'<p><a class="pdf" href="{_esc(pdf_href)}">One-page clinical PDF (true scale, 25 mm/s, 10 mm/mV)</a></p>' if pdf_href else ''}
<h2>Predictions</h2>{_predictions_table(expl)}
<h2>ECG</h2>{figs_html[0]}{figs_html[1]}
<h2>Prototype evidence (weight × similarity)</h2>{_evidence_table(expl)}
{match_html}
<h2>Counterfactual</h2>{_cf_table(expl)}{''.join(figs_html[2:3]) if cf is not None and cf.cells else ''}
{'<h2>Attributions (Captum)</h2><table><tr><th>label</th><th>method</th><th>baseline</th><th>IG convergence delta</th><th>seconds</th></tr>' + attr_rows + '</table>' + ''.join(figs_html[3 if (cf is not None and cf.cells) else 2:]) if expl.attributions else ''}
<p class="muted">Timings: {_esc(timings)}. Paper: 25 mm/s, 10 mm/mV, 1 mm / 5 mm grid.</p>
</body></html>
"""
