"""Case review: choose a record, see predictions by branch, evidence, counterfactual, attributions."""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from app import figures
from app.config import EXAMPLES_DIR
from app.forms import case_feedback_form
from app.records import (SOURCE_DEMO, SOURCE_PTBXL, SOURCE_UPLOAD, demo_data_dir, load_entry,
                         safe_entries)
from app.resources import explain_cached, intervals_cached, pdf_cached
from app.ui import fmt_ms, page_setup, require_prototypes, store_or_error
from app.uploads import UPLOAD_TYPES, UploadedFilePart, read_uploaded_record, upload_key
from data_access.errors import ECGDataError
from protoecg.errors import ExplainError
from protoecg.provenance import DEMO_DISCLAIMER

log = logging.getLogger(__name__)
from data_access.ptbxl import BRANCHES  # noqa: E402

ctx = page_setup("Case review")
bundle, cfg = ctx.bundle, ctx.cfg
require_prototypes(bundle)
banner = (bundle.disclaimer or DEMO_DISCLAIMER) if bundle.is_demo else None


def _descriptions() -> dict[str, str]:
    from data_access.ptbxl import scp_statements

    return scp_statements()["description"].to_dict()


# ---- choose a record -------------------------------------------------------------------------
with st.sidebar:
    source = st.radio("Record source", (SOURCE_DEMO, SOURCE_PTBXL, SOURCE_UPLOAD), key="source")

record, record_key, reference, source_tag = None, None, (), "upload"
if source == SOURCE_UPLOAD:
    st.caption(f"Upload one ECG: a GE MUSE, Philips or HL7 aECG XML file, a DICOM ECG waveform (.dcm), an "
               f"EDF file, or a WFDB record (its .hea header and its .dat/.mat signal file together); at most "
               f"{cfg.max_upload_mb} MB each. The format is read from the content; nothing is executed.")
    files = st.file_uploader("ECG file(s)", type=list(UPLOAD_TYPES), accept_multiple_files=True,
                             key="upload")
    if not files:
        st.info("Choose one ECG file, or a WFDB .hea file and its .dat/.mat file together.")
        st.stop()
    parts = [UploadedFilePart(f.name, f.getvalue()) for f in files]
    try:
        record = read_uploaded_record(parts, cfg.max_upload_bytes)
    except ECGDataError as exc:
        st.error(f"This upload cannot be used: {exc}")
        st.stop()
    record_key = f"upload:{upload_key(parts)}"
else:
    if source == SOURCE_DEMO:
        entries, problem = safe_entries(demo_data_dir(cfg.data_dir, bundle),
                                        (10,), "demo")
        if not entries:
            st.info(problem or "No demo test set found. Run `make demo` (it generates the demo data and "
                    "starts the app with it) or start the app with PROTOECG_APP_DATA=<demo data dir>.")
            st.stop()
    else:
        entries, problem = safe_entries(EXAMPLES_DIR, None, "ptbxl")
        if not entries:
            st.error(problem or "The shipped PTB-XL examples are missing from this installation.")
            st.stop()
        st.caption("Real ECGs from PTB-XL v1.0.3 (Wagner et al., 2020; PhysioNet; CC BY 4.0).")
    with st.sidebar:
        idx = st.selectbox("Record", range(len(entries)), format_func=lambda i: entries[i].label,
                           key=f"record_{source}")
    entry = entries[idx]
    try:
        record = load_entry(entry)
    except ECGDataError as exc:
        st.error(f"This record cannot be read: {exc}")
        st.stop()
    record_key, reference, source_tag = entry.key, entry.reference_labels, entry.source

# ---- predictions -----------------------------------------------------------------------------
try:
    base = explain_cached(ctx.model_id, record_key, None, False, None, _bundle=bundle, _record=record)
except (ECGDataError, ExplainError) as exc:
    st.error(f"The model cannot use this record: {exc}")
    st.stop()
except Exception as exc:  # noqa: BLE001 - show a message, keep the server alive
    log.exception("prediction failed for %s", record_key)
    st.error(f"The model failed on this record ({type(exc).__name__}: {exc}).")
    st.stop()

desc = _descriptions()
st.subheader(f"Record {record.record_id}")
if bundle.is_demo and source_tag != "demo":
    st.caption("Real ECG, demo model: the predictions below come from a model "
               + ("pretrained on generated ECGs and fine-tuned on a few real ones (see the model card)."
                  if bundle.finetuned_from_demo else "trained on generated ECGs."))
meta_cols = st.columns(3)
meta_cols[0].markdown(f"**Source:** {source}")
meta_cols[1].markdown(f"**Sampling:** {record.fs:g} Hz, {record.duration_s:.1f} s")
meta_cols[2].markdown("**Reference labels:** " + (", ".join(reference) if reference else "not known"))
_m = record.metadata
if _m.get("format") and _m.get("format") != "WFDB":
    facts = [f"**Format:** {_m['format']}"] + [f"**{k}:** {_m[m]}" for k, m in
                                               (("Age", "age"), ("Sex", "sex"), ("Acquired", "acquisition_time"))
                                               if _m.get(m) not in (None, "")]
    st.markdown(" · ".join(facts))
    if record.derived_leads:
        st.caption(f"Leads {', '.join(record.derived_leads)} were not in the file; they were computed from "
                   "I and II (Einthoven/Goldberger).")
    if _m.get("statements"):
        st.markdown("**Machine statements:** " + "; ".join(map(str, _m["statements"])))

st.markdown("#### Predicted labels by branch")
pred_df = pd.DataFrame([{"label": p.label, "probability": p.probability, "threshold": p.threshold,
                         "predicted": "yes" if p.positive else "", "description": desc.get(p.label, ""),
                         "branch": p.branch} for p in base.predictions])
cols = st.columns(len(BRANCHES))
for col, br in zip(cols, BRANCHES):
    sub = pred_df[pred_df["branch"] == br].sort_values(["predicted", "probability"],
                                                       ascending=[False, False])
    with col:
        st.markdown(f"**{br.capitalize()}** — {int((sub['predicted'] == 'yes').sum())} predicted")
        st.dataframe(sub.drop(columns="branch").head(8), hide_index=True, width="stretch",
                     column_config={
                         "label": st.column_config.TextColumn(width="small"),
                         "probability": st.column_config.ProgressColumn(
                             "probability", min_value=0.0, max_value=1.0, format="%.3f", width="small"),
                         "threshold": st.column_config.NumberColumn(format="%.3f", width="small"),
                         "predicted": st.column_config.TextColumn(width="small")})

order = pred_df.sort_values(["predicted", "probability"], ascending=[False, False])["label"].tolist()
label = st.selectbox("Explain label", order, key=f"label_{record_key}",
                     format_func=lambda c: f"{c} — {desc.get(c, '')}"
                     + (" (predicted)" if c in base.positive_labels else ""))
layout = st.radio("Sheet layout", ("standard", "stacked"), horizontal=True, key="layout",
                  help="standard: 3×4 leads of 2.5 s + lead II rhythm strip; stacked: all 12 leads, 10 s")

try:
    expl = explain_cached(ctx.model_id, record_key, label, True, None, _bundle=bundle, _record=record)
except Exception as exc:  # noqa: BLE001
    log.exception("explanation failed for %s / %s", record_key, label)
    st.error(f"The explanation failed ({type(exc).__name__}: {exc}).")
    st.stop()

try:
    st.download_button("Download PDF (one page, true scale 25 mm/s, 10 mm/mV)",
                       data=pdf_cached(ctx.model_id, record_key, label, _expl=expl, _record=record),
                       file_name=f"{record.record_id}_{label}.pdf", mime="application/pdf", key="pdf")
except Exception as exc:  # noqa: BLE001 - the page stays usable without its PDF
    log.exception("PDF failed for %s", record_key)
    st.warning(f"The PDF could not be written ({type(exc).__name__}: {exc}).")

t_ev, t_cf, t_attr, t_int = st.tabs(["Prototype evidence", "Counterfactual", "Attributions",
                                     "Measured intervals"])
fs = expl.fs
with t_ev:
    evidence = tuple(expl.evidence.get(label, ()))[:3]
    if not evidence:
        st.info(f"No prototype evidence for {label}.")
    else:
        st.plotly_chart(figures.case_figure(expl.signal, fs, layout, f"{record.record_id}: matched windows "
                                            f"for {label}", banner, evidence), key="ev_case")
        n_global = sum(figures.is_global(e, expl.signal.shape[1] / fs) for e in evidence)
        if n_global:
            st.caption(f"{n_global} of these prototypes compare the whole 10 s record (rhythm/diffuse "
                       "prototypes), so no window is highlighted for them; the blue boxes mark the "
                       "windows and strongest leads of the local (morphology) matches.")
        other = sorted({e.class_code for e in evidence if e.class_code != label})
        if other:
            st.caption(f"Prototypes of other classes ({', '.join(other)}) are listed because the fusion layer "
                       f"weighs every prototype for every label: their similarity moves {label}'s score too "
                       f"(contribution = weight × similarity; a negative weight means that looking like that "
                       f"prototype counts against {label}).")
        for e in evidence:
            projected = str(e.source_ecg_id).isdigit()  # "not projected" otherwise
            source = (f"source ECG {e.source_ecg_id} [{', '.join(e.source_labels) or 'labels unknown'}]"
                      if projected else "not projected onto a training ECG")
            st.markdown(f"**Prototype {e.prototype_id}** ({e.branch}, class {e.class_code}) — similarity "
                        f"{e.similarity:.3f}, weight {e.weight:.3f}, contribution {e.contribution:.3f}; "
                        f"matched {e.window_s[0]:.2f}–{e.window_s[1]:.2f} s in leads "
                        f"{', '.join(e.leads) or 'all'} ({', '.join(e.lead_groups) or 'all groups'}); "
                        f"{source}")
            left, right = st.columns(2)
            i0, i1 = int(round(e.window_s[0] * fs)), int(round(e.window_s[1] * fs))
            with left:
                st.plotly_chart(figures.window_figure(expl.signal[:, i0:max(i1, i0 + 1)], fs,
                                                      "this case (matched window)", e.leads, None),
                                key=f"ev_q_{e.prototype_id}")
            with right:
                seg = e.source_segment
                if seg is None and projected:
                    try:
                        seg = bundle.prototype_signal(str(e.prototype_id))
                    except (KeyError, IndexError) as exc:
                        log.warning("no source segment for %s: %s", e.prototype_id, exc)
                if seg is not None and seg.shape[1] > 0:
                    st.plotly_chart(figures.window_figure(seg, fs, f"prototype {e.prototype_id} "
                                                          f"(source ECG {e.source_ecg_id})", e.leads, None),
                                    key=f"ev_p_{e.prototype_id}")
                else:
                    st.info("This prototype has no source ECG segment to show.")
with t_cf:
    cf = expl.counterfactual
    if cf is None:
        st.info(f"No counterfactual was computed for {label}.")
    else:
        verdict = "flips" if cf.valid else "does not flip"
        st.markdown(f"Counterfactual ({cf.direction.replace('_', ' ')}): the substitution **{verdict}** "
                    f"{label} (logit {cf.score_before:.4f} → {cf.score_after:.4f}, threshold "
                    f"{cf.threshold_logit:.4f}); donor ECG {cf.donor_id}.")
        m = st.columns(6)
        m[0].metric("Valid", "yes" if cf.valid else "no")
        m[1].metric("Leads changed", len(cf.leads_changed))
        m[2].metric("Seconds changed", f"{cf.seconds_changed:.2f}")
        m[3].metric("Signal changed", f"{100 * cf.fraction_changed:.1f}%")
        m[4].metric("Model calls", cf.model_calls)
        m[5].metric("Time", f"{cf.seconds * 1000:.0f} ms")
        st.caption(f"L1 {cf.l1:.4f} mV/sample · L2 {cf.l2:.3f} mV · plausibility (latent distance to "
                   f"training data) {cf.plausibility:.3f} vs {cf.plausibility_original:.3f} for the "
                   f"original · leads: {', '.join(cf.leads_changed) or 'none'}")
        st.plotly_chart(figures.counterfactual_figure(expl.signal, fs, cf, layout,
                                                      f"counterfactual for {label}", banner),
                        key="cf_fig")
with t_attr:
    methods = {"Integrated Gradients": "integrated_gradients", "Occlusion": "occlusion",
               "Grad-CAM": "grad_cam"}
    choice = st.radio("Method", list(methods), horizontal=True, key="attr_method")
    if st.toggle("Compute attributions (a few seconds; Occlusion is slower)",
                 key=f"attr_on_{record_key}_{label}"):
        try:
            ax = explain_cached(ctx.model_id, record_key, label, False, methods[choice],
                                _bundle=bundle, _record=record)
        except Exception as exc:  # noqa: BLE001
            log.exception("attributions failed")
            st.error(f"Attributions failed ({type(exc).__name__}: {exc}).")
        else:
            found = [a for a in ax.attributions if a.method == methods[choice] and a.label == label]
            if not found:
                st.info(f"{choice} is not available for this model.")
            else:
                a = found[0]
                delta = "" if a.convergence_delta is None else f", convergence delta {a.convergence_delta:.3g}"
                st.caption(f"{choice} of the {label} logit; baseline: {a.baseline or 'n/a'}{delta}. "
                           "Red raises the logit, blue lowers it; the top 10% (lead × 200 ms) cells shown.")
                st.plotly_chart(figures.attribution_figure(ax.signal, fs, a.attributions, layout,
                                                           f"{choice} for {label}", banner),
                                key="attr_fig")
with t_int:
    iv = intervals_cached(record_key, record.signal, record.fs)
    c = st.columns(5)
    c[0].metric("Heart rate", "—" if iv["hr_bpm"] != iv["hr_bpm"] else f"{iv['hr_bpm']:.0f} bpm")
    c[1].metric("PR", fmt_ms(iv["pr_ms"]))
    c[2].metric("QRS", fmt_ms(iv["qrs_ms"]))
    c[3].metric("QT", fmt_ms(iv["qt_ms"]))
    c[4].metric("QTc (Bazett)", fmt_ms(iv["qtc_ms"]))
    st.caption(f"Measured from the signal (not by the model): median of {iv['n_beats']} beats, rhythm "
               f"lead {iv['lead']}; QRS boundaries from all 12 leads. {iv['note']}")

st.divider()
store = store_or_error(cfg)
if store is not None:
    case_feedback_form(store, ctx.model_id, record.record_id, source_tag, label,
                       [p.label for p in base.predictions])
