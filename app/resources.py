"""Everything loaded once per server process and shared by sessions (``st.cache_resource``)."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import streamlit as st

from protoecg.errors import ProtoECGError
from protoecg.review.ratings import RatingsStore

log = logging.getLogger(__name__)


class ModelUnavailable(ProtoECGError, RuntimeError):
    """The model run cannot be loaded (message says why and what to do)."""


@st.cache_resource(show_spinner="Loading the model…")
def load_bundle_cached(model_dir: str) -> Any:
    """The model bundle, loaded once per process (weights read with ``weights_only=True``)."""
    try:
        from protoecg.bundle import load_bundle
    except ImportError as exc:
        raise ModelUnavailable(f"this installation has no model bundle loader ({exc})") from exc
    if not Path(model_dir).is_dir():
        raise ModelUnavailable(f"model run {model_dir} does not exist: train one or run `make demo`")
    try:
        return load_bundle(model_dir)
    except Exception as exc:  # a broken run directory must not crash the page
        raise ModelUnavailable(f"cannot load the model in {model_dir}: {exc}") from exc


@st.cache_resource
def ratings_store(db_url: str) -> RatingsStore:
    """One engine (connection pool) per database URL and process."""
    return RatingsStore(db_url)


@st.cache_resource(max_entries=64, show_spinner="Explaining the ECG…")
def explain_cached(model_dir: str, record_key: str, label: str | None, counterfactual: bool,
                   attribution_method: str | None, _bundle: Any, _record: Any) -> Any:
    """One explanation per (model, record, label, options); the record key identifies its content."""
    from protoecg.explain import explain_ecg

    labels = [label] if label else None
    methods = [attribution_method] if attribution_method else False
    return explain_ecg(_bundle, _record, labels=labels, counterfactual=counterfactual,
                       attributions=methods)


@st.cache_data(max_entries=256, show_spinner=False)
def intervals_cached(record_key: str, _signal: Any, fs: float) -> dict:
    from protoecg.intervals import measure_intervals

    return measure_intervals(_signal, fs).as_dict()


@st.cache_data(max_entries=32, show_spinner="Writing the PDF…")
def pdf_cached(model_dir: str, record_key: str, label: str | None, _expl: Any, _record: Any) -> bytes:
    """The one-page clinical PDF of an explanation (the record's own signal, at its own rate)."""
    from protoecg.reports import clinical_pdf_bytes

    return clinical_pdf_bytes(_expl, signal=_record.signal, fs=_record.fs, record_meta=_record.metadata)
