"""Phenotype explorer: prototype-phecode associations (Manhattan, volcano, per-prototype, Kaplan-Meier)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from app.phenotype import ResultsError, find_results
from app.ui import page_setup
from protoecg.provenance import DEMO_DATA_NOTE, as_sentence

ctx = page_setup("Phenotype explorer", need_model=False)
rdir, sdir = ctx.cfg.results_dir, ctx.cfg.survival_dir


def _mtime(path: Path | None) -> float:
    try:
        return max((p.stat().st_mtime for p in path.iterdir()), default=0.0) if path else 0.0
    except OSError:
        return 0.0


@st.cache_data(show_spinner="Loading association results…")
def _load(results: str, survival: str, stamp: tuple[float, float]):  # stamp: reload on change
    return find_results(Path(results) if results else None, Path(survival) if survival else None)


try:
    res = _load(str(rdir or ""), str(sdir or ""), (_mtime(rdir), _mtime(sdir)))
except ResultsError as exc:
    st.error(f"The association results cannot be shown: {exc}")
    st.stop()

if res is None:
    where = f"`{rdir}`" if rdir else "(no results directory configured)"
    st.info(
        f"No phenotype association results yet in {where}.\n\n"
        "They come from ECGs linked to MIMIC-IV admissions. To produce them:\n\n"
        "```\nprotoecg infer --model RUN --mimic-ecg MIMIC --out RUN/features.parquet\n"
        "protoecg phewas --features RUN/features.parquet --mimic MIMIC --model RUN --out RUN/phewas\n"
        "protoecg survival --features RUN/features.parquet --mimic MIMIC --out RUN/survival\n```\n\n"
        "(`make demo` runs the first two on the generated MIMIC-IV demo data), then start the app with "
        "`protoecg app --model RUN --phewas RUN/phewas`.")
    st.stop()

from analysis import plots  # noqa: E402 - only needed once there is something to draw

t = res.table
demo = ctx.bundle is not None and ctx.bundle.is_demo
note = DEMO_DATA_NOTE if demo else None
st.caption(f"{len(t):,} tests from `{res.source}`." + (f" {as_sentence(note)}" if note else ""))
n_sig = int(t["bonferroni"].sum()) if "bonferroni" in t.columns else None
if "hit" in t.columns:
    n_q, q_label = int(t["hit"].sum()), "Hits (hierarchical FDR < 0.05)"
else:
    n_q, q_label = (int((t["q"] < 0.05).sum()) if "q" in t.columns else None), "q < 0.05 (BH)"
c = st.columns(4)
c[0].metric("Tests", f"{len(t):,}")
c[1].metric("Phecodes", f"{t['phecode'].nunique():,}")
c[2].metric(q_label, "—" if n_q is None else f"{n_q:,}")
c[3].metric("Bonferroni-significant", "—" if n_sig is None else f"{n_sig:,}")

tab_m, tab_v, tab_p, tab_km = st.tabs(["Manhattan", "Volcano", "Per prototype", "Kaplan–Meier"])
with tab_m:
    st.plotly_chart(plots.manhattan(t, note=note), key="ph_manhattan")
with tab_v:
    st.plotly_chart(plots.volcano(t, note=note), key="ph_volcano")
with tab_p:
    best_p = t.groupby("feature")["p"].min().sort_values()  # strongest association first
    protos = [f for f in best_p.index if str(f).startswith("sim_")] or list(best_p.index)
    feat = st.selectbox("Feature (prototype similarity, strongest association first)", protos,
                        key="ph_feature")
    sub = t[t["feature"] == feat].sort_values("p")
    if ctx.bundle is not None and str(feat).startswith("sim_"):
        ptable = ctx.bundle.prototypes
        row = ptable[ptable["prototype_id"].astype(str) == str(feat)[4:]]
        if len(row):
            r = row.iloc[0]
            st.caption(f"Prototype {r['prototype_id']}: class {r['class']} ({r['branch']} branch), source "
                       f"ECG {r['source_ecg_id']}; see it in the prototype gallery.")
    cols = [col for col in ("phecode", "description", "category", "n_cases", "n_controls", "odds_ratio",
                            "or_ci_low", "or_ci_high", "p", "q", "q_hier", "hit", "bonferroni", "converged", "note")
            if col in sub.columns]
    st.dataframe(sub[cols], hide_index=True, width="stretch")
    if len(sub):
        st.plotly_chart(plots.forest(sub, top=15, note=note), key="ph_forest")
with tab_km:
    if res.survival is not None:
        st.markdown("**Cox models** (hazard ratio per SD, adjusted for age and sex)")
        st.dataframe(res.survival, hide_index=True, width="stretch")
    if res.km_html:
        import streamlit.components.v1 as components

        which = st.selectbox("Feature", list(res.km_html), key="ph_km")
        components.html(res.km_html[which].read_text(encoding="utf-8"), height=650, scrolling=True)
    else:
        st.info("No Kaplan–Meier curves yet: `protoecg survival --features F --mimic MIMIC --out DIR` "
                "writes them (km_<feature>.html); start the app with `--survival DIR`.")
