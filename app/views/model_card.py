"""Model card: training data, metrics with confidence intervals, prototype uniqueness, intended use."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from app.ui import page_setup

ctx = page_setup("Model card")
b = ctx.bundle
metrics: dict = dict(getattr(b, "metrics", {}) or {})
fp: dict = dict(getattr(b, "fingerprint", {}) or {})
manifest: dict = dict(getattr(b, "manifest", {}) or {})


def _num(v: object, digits: int = 3) -> str:
    return "—" if not isinstance(v, (int, float)) or v != v else f"{v:.{digits}f}"


def _ci(value: object, ci: object) -> str:
    if isinstance(ci, (list, tuple)) and len(ci) == 2:
        return f"{_num(value)} (95% CI {_num(ci[0])}–{_num(ci[1])})"
    return _num(value)


st.markdown("### Training data")
pre = b.pretrained_from
if pre and pre.get("is_demo"):
    st.warning(f"This model was **pretrained on {pre.get('n_records', '?')} generated demo ECGs** "
               f"(`{pre.get('dataset') or pre.get('path')}`) and then **fine-tuned on "
               f"{fp.get('n_records', '?')} real PTB-XL ECGs** (the dataset below). That is far too little "
               "real data for clinical use: a demonstration of the software on real signals, not a "
               "diagnostic. Its real-data figures below come from the real held-out folds.")
elif b.is_demo:
    st.warning("This model was trained on **generated demo ECGs** (synthetic signals written in the "
               "PTB-XL file format), not on patients. Its metrics describe how well it learned the "
               "generator's patterns and say nothing about clinical accuracy.")
else:
    st.markdown("Trained on the PTB-XL-format dataset described below.")
st.table(pd.DataFrame({"item": ["dataset", "training records", "folds", "sampling rate", "samples per record",
                                "records skipped as unreadable", "content hash (sha256)"],
                       "value": [str(fp.get("dataset") or "—"), str(fp.get("n_records", "—")),
                                 ", ".join(map(str, fp.get("folds", []))) or "—",
                                 f"{fp.get('fs', b.fs)} Hz", str(fp.get("n_samples", b.n_samples)),
                                 str(fp.get("n_bad_records", "—")),
                                 str(fp.get("sha256", "—"))[:16] + "…"]}).set_index("item"))

st.markdown("### Model")
protos = b.prototypes
per_branch = protos.groupby("branch").size().to_dict() if len(protos) else {}
st.table(pd.DataFrame({"item": ["architecture", "preset", "input", "prototypes (rhythm / morphology / diffuse)",
                                "code version (git)", "created (UTC)", "bundle"],
                       "value": [str(b.arch), str(manifest.get("preset", "—")),
                                 f"12 leads × {b.n_samples} samples at {b.fs} Hz (0.5 Hz high-pass)",
                                 " / ".join(str(per_branch.get(k, 0)) for k in ("rhythm", "morphology",
                                                                                 "diffuse")),
                                 str(b.git_commit or "—"), str(manifest.get("created_utc", "—")),
                                 str(getattr(b, "path", ctx.cfg.model_dir))]}).set_index("item"))

st.markdown("### Metrics")
splits = [(name, metrics[name]) for name in ("validation", "test") if isinstance(metrics.get(name), dict)]
if not splits:
    st.info("This model run holds no evaluation metrics.")
for name, m in splits:
    folds = m.get("folds")
    st.markdown(f"**{name.capitalize()}**" + (f" (fold{'s' if len(folds) > 1 else ''} "
                                              f"{', '.join(map(str, folds))})" if folds else "")
                + f" — {m.get('n_test', '?')} ECGs, {m.get('n_classes_evaluated', '?')} labels evaluated "
                "(labels without positives are excluded). CIs: bootstrap over ECGs.")
    c = st.columns(3)
    c[0].metric("Macro AUROC", _num(m.get("macro_auroc")))
    c[1].metric("Weighted AUROC", _num(m.get("weighted_auroc")))
    c[2].metric("Macro F1 (tuned thresholds)", _num(m.get("macro_f1")))
    st.caption(f"Macro AUROC {_ci(m.get('macro_auroc'), m.get('macro_auroc_ci'))}; weighted AUROC "
               f"{_ci(m.get('weighted_auroc'), m.get('weighted_auroc_ci'))}.")
    pb = m.get("per_branch") or {}
    if pb:
        st.dataframe(pd.DataFrame([{"branch": k, "labels": v.get("n_classes"),
                                    "labels evaluated": v.get("n_classes_evaluated"),
                                    "branch classifier macro AUROC": v.get("macro_auroc"),
                                    "fused model macro AUROC (same labels)": v.get("fused_macro_auroc")}
                                   for k, v in pb.items()]), hide_index=True, width="stretch")
    pc = m.get("per_class") or {}
    if pc:
        with st.expander(f"Per-label metrics ({name})"):
            st.dataframe(pd.DataFrame([{"label": k, "branch": b.branch_of.get(k, ""), **v}
                                       for k, v in pc.items()]), hide_index=True, width="stretch")

cv = b.crossval
if pre and pre.get("test_macro_auroc") is not None:
    st.markdown(f"**Before fine-tuning** — the pretrained model on its own held-out generated ECGs (folds "
                f"{', '.join(map(str, pre.get('test_folds') or []))}): macro AUROC "
                f"{_num(pre.get('test_macro_auroc'))}. Generated ECGs are easier than real ones; this figure "
                "shows the pipeline works, not clinical accuracy.")
if isinstance(cv, dict) and cv.get("summary"):
    s = cv["summary"]
    st.markdown("### Cross-validated on real data")
    st.markdown(f"The recipe that made this model ({cv.get('preset')} preset"
                + (", fine-tuned from the pretrained model" if cv.get("init_from") else "")
                + f"), cross-validated on the {cv.get('n_records')} records of `{cv.get('dataset')}`: "
                f"{cv.get('k')} patient-wise folds, seeds {', '.join(map(str, cv.get('seeds', [])))}; every "
                "record predicted by a model that never saw its patient; "
                f"{cv.get('n_classes')} statements with at least {cv.get('min_pos')} positives. These "
                "figures describe the recipe on that dataset (computed by `protoecg crossval`), not only "
                "this one model's split.")
    c = st.columns(3)
    c[0].metric("Macro AUROC (pooled)", _num((s.get("macro") or {}).get("mean")))
    c[1].metric("Macro AUROC (mean of folds)", _num((s.get("fold_macro_mean") or {}).get("mean")))
    c[2].metric("NORM AUROC", _num((s.get("NORM") or {}).get("mean")))
    st.dataframe(pd.DataFrame([{"figure": k, "mean": v.get("mean"), "sd over seeds": v.get("sd")}
                               for k, v in s.items()]), hide_index=True, width="stretch")

st.markdown("### Prototype uniqueness")
u = metrics.get("prototypes")
if isinstance(u, dict):
    st.markdown(f"{u.get('n_projected', '?')} of {u.get('n_prototypes', '?')} prototypes were projected "
                f"onto training ECGs; they landed on **{u.get('n_distinct_sources', '?')} distinct source "
                "ECGs** (fewer distinct sources means prototypes share, and repeat, the same examples). "
                f"Repeats of a class's (source ECG, window) avoided at projection: "
                f"{u.get('n_duplicates_avoided', '—')}; pruned for want of a free window: "
                f"{u.get('n_pruned_duplicates', '—')}.")
    rows = [{"branch": k, **v} for k, v in (u.get("per_branch") or {}).items()]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
else:
    st.info("No prototype projection figures in this run (a baseline model has no prototypes).")

st.markdown("### Prototype quality")
q = metrics.get("prototype_quality")
if isinstance(q, dict):
    k = q.get("n_purity_neighbours", "k")
    c = st.columns(4)
    c[0].metric("Purity (mean)", _num(q.get("purity")))
    c[1].metric("Redundancy (nearest sibling cosine)", _num(q.get("redundancy_nn")))
    c[2].metric("Distinct source ECGs", str(q.get("n_distinct_sources", "—")))
    c[3].metric("Prototypes with non-zero fusion weight", _num(q.get("share_nonzero_fusion"), 2))
    rep = (u or {}).get("n_repeated_windows") if isinstance(u, dict) else None
    st.caption(f"Purity: share of each prototype's {k} nearest training ECGs (the model's own similarity, "
               "best window of each ECG, the prototype's source excluded) that carry its class — in the "
               "spirit of PIP-Net. Redundancy: cosine between prototypes of one class (1 = the same "
               "picture twice). Fusion weight: the fused layer's weight to the prototype's own class, "
               f"non-zero when |w| ≥ {q.get('zero_tol', 1e-3):g}. Computed over projected prototypes only."
               + (f" Repeated (class, source ECG, window): {rep}." if rep is not None else ""))
    pc = q.get("per_class") or {}
    rows = [{"class": cl, "branch": v.get("branch"), "prototypes": v.get("n_prototypes"),
             "projected": v.get("n_projected"), "distinct sources": v.get("n_distinct_sources"),
             "purity": v.get("purity"), "redundancy (mean pairwise cosine)": v.get("redundancy"),
             "non-zero fusion weight": v.get("share_nonzero_fusion")}
            for cl, v in pc.items() if not v.get("absent_from_training")]
    if rows:
        st.dataframe(pd.DataFrame(rows).sort_values(["branch", "class"]), hide_index=True, width="stretch",
                     key="mc_quality")
    absent = sorted(cl for cl, v in pc.items() if v.get("absent_from_training"))
    if absent:
        st.caption(f"Not shown: {len(absent)} classes absent from the training data ({', '.join(absent)}); "
                   "their prototypes were never projected onto an ECG, so they have no source and no "
                   "meaningful quality figures.")
else:
    st.info("This bundle has no prototype quality report (baseline model, or trained before the report "
            "existed).")

st.markdown("### Intended use and limits")
st.markdown(
    "- **Intended use:** research and teaching — exploring how a prototype network explains 12-lead ECG "
    "statements, and collecting clinicians' ratings of its prototypes. Not a medical device; not for "
    "diagnosis or treatment decisions.\n"
    "- **Input:** 10 s, 12-lead resting ECGs; other lengths and rates are resampled/cropped by the "
    "library, which may lose information. Paced rhythms, paediatric ECGs and non-standard lead "
    "placements were not studied.\n"
    "- **Labels:** the 71 PTB-XL statements; thresholds were tuned for F1 on the validation fold and "
    "are not calibrated for any clinical operating point.\n"
    "- **Explanations** show what the model compared, not why a finding is present: a similar-looking "
    "prototype is evidence about the model, not about the patient.\n"
    + ("- **Demo model:** trained on generated ECGs — its behaviour on real recordings is not "
       "meaningful.\n" if b.is_demo else ""))
