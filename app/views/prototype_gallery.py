"""Prototype gallery: every prototype by branch and class, its source ECG, and the rating form."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import streamlit as st

from app.forms import prototype_rating_form
from app.ui import page_setup, require_prototypes, store_or_error
from protoecg.render.paper_ecg import add_matched_windows, paper_ecg_figure

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

with st.sidebar:
    branches = [b for b in ("rhythm", "morphology", "diffuse") if b in set(protos["branch"])]
    branch = st.selectbox("Branch", branches, key="g_branch",
                          index=branches.index("morphology") if "morphology" in branches else 0)
    in_branch = protos[protos["branch"] == branch]
    projected = in_branch["source_ecg_id"].astype(int) >= 0
    # classes whose prototypes were projected onto a training ECG first (they have a source to show)
    classes = sorted(in_branch["class"].unique(), key=lambda c: (not projected[in_branch["class"] == c].any(), c))
    cls = st.selectbox("Class", classes, key=f"g_class_{branch}")

sel = in_branch[in_branch["class"] == cls]
st.markdown(f"**{len(protos)} prototypes** in the model; {len(in_branch)} in the {branch} branch, "
            f"{len(sel)} for class {cls}. Distinct source ECGs: "
            f"{protos.loc[protos['source_ecg_id'].astype(int) >= 0, 'source_ecg_id'].nunique()}.")
show_cols = [c for c in ("prototype_id", "class", "source_ecg_id", "window_start_s", "window_end_s",
                         "leads", "projection_similarity", "ratings") if c in sel.columns]
st.dataframe(sel[show_cols], hide_index=True, width="stretch")

pid = st.selectbox("Prototype", sel["prototype_id"].tolist(), key=f"g_pid_{branch}_{cls}")
row = sel[sel["prototype_id"] == pid].iloc[0]
leads_raw = row.get("leads", ())
leads = [s.strip() for s in str(leads_raw).replace(";", ",").split(",")
         if s.strip() and s.strip().lower() != "all"]
st.markdown(f"#### Prototype {pid}: class {cls}, {branch} branch")
if int(row["source_ecg_id"]) < 0:
    st.info("This prototype was not projected: the training data held no ECG of its class, so it has "
            "no source ECG to show (it is a learned vector only).")
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

if store is not None:
    prototype_rating_form(store, ctx.model_id, str(pid), branch, cls, list(bundle.codes))
    st.divider()
    st.markdown("#### Export")
    st.caption(f"Ratings database: {store.display_url}")
    st.download_button("Download all ratings (CSV)", store.csv_text("all").encode(),
                       file_name="protoecg_ratings.csv", mime="text/csv", key="g_export")
