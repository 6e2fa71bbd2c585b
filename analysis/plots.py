"""Plotly figures for PheWAS and survival results (returned as figures; :func:`save_html` writes them).

Every figure's title can carry a ``note`` (e.g. "demo data: generated ECGs, not patients").
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.fdr import is_hit


def _title(text: str, note: str | None) -> str:
    return f"{text}<br><sup>{note}</sup>" if note else text


def _neglog10p(results: pd.DataFrame) -> np.ndarray:
    return -results["log10_p"].to_numpy(dtype=float)


def manhattan(results: pd.DataFrame, alpha: float = 0.05, feature_kinds: list[str] | None = None,
              note: str | None = None, max_points: int = 50_000) -> go.Figure:
    """-log10 p of every test, phecodes on the x-axis grouped by category; hits ringed, Bonferroni line.

    With very many tests only the strongest ``max_points`` (plus a thinned sample of the rest) are drawn.
    """
    r = results if feature_kinds is None else results[results["feature_kind"].isin(feature_kinds)]
    r = r[np.isfinite(r["log10_p"])].copy()
    if len(r) > max_points:
        top = r.nsmallest(max_points // 2, "log10_p")
        rest = r.drop(top.index).sample(max_points // 2, random_state=0)
        r = pd.concat([top, rest])
    r["category"] = r["category"].replace("", "uncategorised").fillna("uncategorised")
    order = (r[["category", "phecode"]].drop_duplicates()
             .assign(num=lambda d: pd.to_numeric(d["phecode"].str.extract(r"([\d.]+)")[0], errors="coerce"))
             .sort_values(["category", "num", "phecode"]))
    pos = {c: i for i, c in enumerate(order["phecode"])}
    r["x"] = r["phecode"].map(pos)
    fig = go.Figure()
    for cat, grp in r.groupby("category", sort=True):
        fig.add_trace(go.Scattergl(
            x=grp["x"], y=_neglog10p(grp), mode="markers", name=str(cat), marker={"size": 5},
            text=[f"{f} / {p} {d}<br>OR/SD {o:.2f}, q={q:.2g}" for f, p, d, o, q in
                  zip(grp["feature"], grp["phecode"], grp["description"], grp["odds_ratio"], grp["q"])],
            hoverinfo="text"))
    n_tests = int(results["log10_p"].notna().sum())
    fig.add_hline(y=-np.log10(alpha / max(n_tests, 1)), line_dash="dash", line_color="red",
                  annotation_text="Bonferroni")
    if "hit" in r.columns:
        # Two-stage hits have no single p-value line (a phecode must be selected first): ring them instead.
        hit = r[r["hit"].astype(bool)]
        if len(hit):
            fig.add_trace(go.Scattergl(
                x=hit["x"], y=_neglog10p(hit), mode="markers", name=f"hit ({_rule(r, alpha)})",
                marker={"size": 9, "color": "rgba(0,0,0,0)", "line": {"color": "black", "width": 1.2}},
                hoverinfo="skip"))
    else:
        sig = results[is_hit(results, alpha)]
        if len(sig):
            fig.add_hline(y=float(-sig["log10_p"].max()), line_dash="dot", line_color="orange",
                          annotation_text=f"BH q<{alpha}")
    fig.update_layout(title=_title("PheWAS Manhattan plot", note), xaxis_title="phecode (by category)",
                      yaxis_title="-log10 p", xaxis={"showticklabels": False}, legend_title="category")
    return fig


def _rule(results: pd.DataFrame, alpha: float) -> str:
    return f"hierarchical FDR < {alpha:g}" if "hit" in results.columns else f"BH q < {alpha:g}"


def volcano(results: pd.DataFrame, alpha: float = 0.05, note: str | None = None,
            max_points: int = 50_000) -> go.Figure:
    """log odds ratio per SD against -log10 p, hits (the ``hit`` column, else BH q < alpha) highlighted."""
    r = results[np.isfinite(results["log10_p"]) & np.isfinite(results["beta"])]
    if len(r) > max_points:
        r = pd.concat([r.nsmallest(max_points // 2, "log10_p"),
                       r.sample(max_points // 2, random_state=0)]).drop_duplicates()
    fig = go.Figure()
    hit = is_hit(r, alpha)
    for label, grp, color in (("not a hit", r[~hit], "lightgray"),
                              (f"hit ({_rule(r, alpha)})", r[hit], "crimson")):
        fig.add_trace(go.Scattergl(x=grp["beta"], y=_neglog10p(grp), mode="markers", name=label,
                                   marker={"color": color, "size": 5},
                                   text=[f"{f} / {p} {d}" for f, p, d in
                                         zip(grp["feature"], grp["phecode"], grp["description"])],
                                   hoverinfo="text+x+y"))
    fig.update_layout(title=_title("Volcano plot", note), xaxis_title="log odds ratio per SD",
                      yaxis_title="-log10 p")
    return fig


def forest(results: pd.DataFrame, alpha: float = 0.05, top: int = 25, note: str | None = None,
           estimate: str = "odds_ratio", low: str = "or_ci_low", high: str = "or_ci_high",
           label_cols: tuple[str, ...] = ("feature", "phecode", "description"),
           xlabel: str = "odds ratio per SD (95% CI)") -> go.Figure:
    """Estimates with 95% CIs for the ``top`` strongest rows (works for Cox HRs with other column names)."""
    r = results.dropna(subset=[estimate, low, high])
    if "log10_p" in r:
        r = r.nsmallest(top, "log10_p")
    elif "p" in r:
        r = r.nsmallest(top, "p")
    else:
        r = r.head(top)
    labels = [" / ".join(str(row[c]) for c in label_cols if c in r.columns and str(row[c]))
              for _, row in r.iterrows()]
    est = r[estimate].to_numpy(float)
    fig = go.Figure(go.Scatter(
        x=est, y=labels, mode="markers", marker={"size": 8, "color": "navy"},
        error_x={"type": "data", "symmetric": False, "array": r[high].to_numpy(float) - est,
                 "arrayminus": est - r[low].to_numpy(float)}))
    fig.add_vline(x=1.0, line_dash="dash", line_color="gray")
    fig.update_layout(title=_title(f"Top {len(r)} associations", note), xaxis_title=xlabel,
                      xaxis_type="log", yaxis={"autorange": "reversed"}, height=200 + 25 * len(r))
    return fig


def kaplan_meier(km, note: str | None = None) -> go.Figure:
    """Step curves per quartile (an :class:`analysis.survival.KMResult`) with an at-risk table below."""
    fig = go.Figure()
    for g in km.groups:
        c = km.curves[km.curves["group"] == g]
        fig.add_trace(go.Scatter(x=c["time"], y=c["survival"], mode="lines", line_shape="hv", name=g))
    header = "at risk  " + "  ".join(f"{t:g}d" for t in km.at_risk.columns)
    lines = [header] + [f"{g}: " + "  ".join(str(v) for v in km.at_risk.loc[g]) for g in km.at_risk.index]
    fig.add_annotation(text="<br>".join(lines), xref="paper", yref="paper", x=0, y=-0.35,
                       showarrow=False, align="left", font={"family": "monospace", "size": 11})
    fig.update_layout(title=_title(f"Kaplan-Meier by quartile of {km.feature} "
                                   f"(log-rank p = {km.logrank_p:.2g})", note),
                      xaxis_title="days since ECG", yaxis_title="survival", yaxis_range=[0, 1.02],
                      margin={"b": 170})
    return fig


def save_html(fig: go.Figure, path: str | Path) -> Path:
    """Write a self-contained HTML file (plotly.js embedded, so it opens offline)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path
