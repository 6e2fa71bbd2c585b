"""Prototype gallery: every prototype by branch and class, its source ECG, and the rating form."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import streamlit as st

from app.forms import prototype_rating_form
from app.ui import page_setup, require_prototypes, store_or_error
from protoecg.render.paper_ecg import add_matched_windows, paper_ecg_figure, snippet_figure

log = logging.getLogger(__name__)

ctx = page_setup("Prototype gallery")
bundle, cfg = ctx.bundle, ctx.cfg
require_prototypes(bundle)
protos: pd.DataFrame = bundle.prototypes.copy()
store = store_or_error(cfg)

counts = pd.Series(dtype=int)
if store is not None:
    rated = store.prototype_ratings(model_id=ctx.model_id)
    if not rated.empty:
        counts = rated.groupby("prototype_id").size()
protos["ratings"] = protos["prototype_id"].astype(str).map(counts).fillna(0).astype(int)
quality = getattr(bundle, "quality", None)
if quality is not None:
    protos = protos.merge(quality[["prototype_id", "purity", "redundancy_nn", "fusion_weight",
                                   "fusion_weight_share", "fusion_nonzero"]], on="prototype_id", how="left")
if "status" not in protos:
    protos["status"] = np.where(protos["source_ecg_id"].astype(int) >= 0, "projected", "absent_class")
SORTS = {"class": ("class", True), "purity (low first)": ("purity", True), "purity (high first)": ("purity", False),
         "redundancy (high first)": ("redundancy_nn", False), "fusion weight share (low first)":
         ("fusion_weight_share", True), "ratings (fewest first)": ("ratings", True)}
ALL = "(all classes)"

with st.sidebar:
    branches = [b for b in ("rhythm", "morphology", "diffuse") if b in set(protos["branch"])]
    branch = st.selectbox("Branch", branches, key="g_branch",
                          index=branches.index("morphology") if "morphology" in branches else 0)
    all_branch = protos[protos["branch"] == branch]
    show_hidden = st.checkbox("Show prototypes that were not projected", value=False, key="g_hidden",
                              help="Prototypes of classes absent from the training data, and pruned duplicates, "
                                   "are learned vectors with no source ECG: they illustrate nothing.")
    in_branch = all_branch if show_hidden else all_branch[all_branch["status"] == "projected"]
    if in_branch.empty:
        in_branch = all_branch
    projected = in_branch["source_ecg_id"].astype(int) >= 0
    # classes whose prototypes were projected onto a training ECG first (they have a source to show)
    classes = sorted(in_branch["class"].unique(), key=lambda c: (not projected[in_branch["class"] == c].any(), c))
    cls = st.selectbox("Class", [ALL, *classes], index=1 if classes else 0, key=f"g_class_{branch}")
    sorts = [k for k, (col, _) in SORTS.items() if col in protos.columns]
    sort_by = st.selectbox("Sort by", sorts, key="g_sort")



def _neighbours(pid: str, row: pd.Series, leads: list[str]) -> None:
    """The prototype's window beside its nearest training windows (stored in the bundle)."""
    nb = getattr(bundle, "neighbours", None)
    if nb is None:
        return
    mine = nb[nb["prototype_id"] == pid].sort_values("rank")
    if mine.empty:
        return
    if "purity" in row and row["purity"] == row["purity"]:
        def fmt(v: object, d: int) -> str:
            return "—" if not isinstance(v, (int, float)) or v != v else f"{v:.{d}f}"

        st.markdown(f"#### Nearest training windows — purity {fmt(row['purity'], 2)}, redundancy "
                    f"{fmt(row.get('redundancy_nn'), 3)}, fusion weight share "
                    f"{fmt(row.get('fusion_weight_share'), 2)}")
    st.caption(f"Purity: share of the prototype's {ctx_k} nearest training ECGs (model similarity, best window "
               f"of each ECG, own source excluded) that carry {row['class']}. The nearest ones are drawn on the "
               "right of the prototype's own window.")
    show_leads = (leads or ["II", "V2", "V5"])[:3]
    cols = st.columns(1 + len(mine))
    own = bundle.prototype_signal(pid)
    with cols[0]:
        st.markdown(f"**prototype** · ECG {row['source_ecg_id']}")
        st.plotly_chart(snippet_figure(own, float(bundle.fs), show_leads,
                                       title=f"{row['window_start_s']:.2f}–{row['window_end_s']:.2f} s"),
                        key=f"g_nb_{pid}_0")
    for c, (_, r) in zip(cols[1:], mine.iterrows()):
        with c:
            mark = "✓" if r["has_class"] else "✗"
            st.markdown(f"**#{int(r['rank'])}** · ECG {int(r['ecg_id'])} · sim {r['similarity']:.3f} {mark}")
            st.caption(f"labels: {r['labels'] or '—'}")
            st.plotly_chart(snippet_figure(bundle.neighbour_signal(pid, int(r["rank"])), float(bundle.fs),
                                           show_leads, title=f"{r['window_start_s']:.2f}–{r['window_end_s']:.2f} s"),
                            key=f"g_nb_{pid}_{int(r['rank'])}")


ctx_k = (bundle.metrics.get("prototype_quality") or {}).get("n_purity_neighbours", "k")
sel = in_branch if cls == ALL else in_branch[in_branch["class"] == cls]
col, asc = SORTS[sort_by]
sel = sel.sort_values([col, "prototype_id"], ascending=[asc, True], na_position="last", kind="stable")
n_hidden = int((all_branch["status"] != "projected").sum())
st.markdown(f"**{len(protos)} prototypes** in the model; {len(all_branch)} in the {branch} branch, "
            f"{len(sel)} shown{'' if cls == ALL else f' for class {cls}'}. Distinct source ECGs: "
            f"{protos.loc[protos['source_ecg_id'].astype(int) >= 0, 'source_ecg_id'].nunique()}.")
if n_hidden and not show_hidden:
    st.caption(f"{n_hidden} prototypes of this branch are hidden: not projected (their class is absent from "
               "the training data, or no free window of their class was left), so they have no source ECG "
               "and their figures mean nothing.")
if quality is None:
    st.caption("This bundle has no prototype quality report (trained before it existed); retrain to get "
               "purity, redundancy and the nearest training windows.")
show_cols = [c for c in ("prototype_id", "class", "status", "source_ecg_id", "window_start_s", "window_end_s",
                         "purity", "redundancy_nn", "fusion_weight_share", "leads", "projection_similarity",
                         "ratings") if c in sel.columns]
st.dataframe(sel[show_cols], hide_index=True, width="stretch", key="g_table")

pid = st.selectbox("Prototype", sel["prototype_id"].tolist(), key=f"g_pid_{branch}_{cls}_{sort_by}")
cls = str(sel.loc[sel["prototype_id"] == pid, "class"].iloc[0])
row = sel[sel["prototype_id"] == pid].iloc[0]
leads_raw = row.get("leads", ())
leads = [s.strip() for s in str(leads_raw).replace(";", ",").split(",")
         if s.strip() and s.strip().lower() != "all"]
st.markdown(f"#### Prototype {pid}: class {cls}, {branch} branch")
if int(row["source_ecg_id"]) < 0:
    why = ("no free window of its class was left (it would have repeated another prototype's source window)"
           if row.get("status") == "pruned_duplicate" else "the training data held no ECG of its class")
    st.info(f"This prototype was not projected: {why}, so it has no source ECG to show (it is a learned "
            "vector only).")
else:
    st.markdown(f"Source ECG **{row['source_ecg_id']}**, window {row['window_start_s']:.2f}–"
                f"{row['window_end_s']:.2f} s, leads {', '.join(leads) or 'all'}, projection similarity "
                f"{row.get('projection_similarity', float('nan')):.3f}.")
    try:
        sig, start_s, end_s = bundle.prototype_source(pid)
    except Exception as exc:  # noqa: BLE001 - a missing source must not break the gallery
        log.warning("no source signal for prototype %s: %s", pid, exc)
        st.info(f"The source ECG of this prototype is not available ({exc}).")
    else:
        banner = "source ECG from the demo (generated) training data" if bundle.is_demo else None
        layout = st.radio("Sheet layout", ("standard", "stacked"), horizontal=True, key="g_layout")
        fig = paper_ecg_figure(np.asarray(sig), float(bundle.fs), layout=layout,
                               title=f"prototype {pid} — source ECG {row['source_ecg_id']}", banner=banner)
        if 0 < end_s - start_s < 0.95 * np.asarray(sig).shape[1] / float(bundle.fs):  # not a whole-record prototype
            add_matched_windows(fig, [(ld, float(start_s), float(end_s), "prototype")
                                      for ld in (leads or [None])])
        st.plotly_chart(fig, key=f"g_fig_{pid}")
        _neighbours(pid, row, leads)

if store is not None:
    prototype_rating_form(store, ctx.model_id, str(pid), branch, cls, list(bundle.codes))
    st.divider()
    st.markdown("#### Export")
    st.caption(f"Ratings database: {store.display_url}")
    st.download_button("Download all ratings (CSV)", store.csv_text("all").encode(),
                       file_name="protoecg_ratings.csv", mime="text/csv", key="g_export")
