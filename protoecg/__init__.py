"""protoecg: interpretable 12-lead ECG analysis with a three-branch prototype network.

Public entry points are documented in the README and listed in ``__all__`` (imported on first use); the
command line is the separate ``protoecg_cli`` package (``protoecg --help``).
"""
from __future__ import annotations

from data_access.lazy import lazy_exports

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Bundle": "protoecg.bundle",
    "Prediction": "protoecg.bundle",
    "load_bundle": "protoecg.bundle",
    "save_bundle": "protoecg.bundle",
    "BundleError": "protoecg.errors",
    "ConfigError": "protoecg.errors",
    "ExplainError": "protoecg.errors",
    "ProtoECGError": "protoecg.errors",
    "RatingError": "protoecg.errors",
    "RatingsStoreError": "protoecg.errors",
    "RunConfig": "protoecg.config",
    "load_config": "protoecg.config",
    "save_config": "protoecg.config",
    "BackboneConfig": "protoecg.model.config",
    "ModelConfig": "protoecg.model.config",
    "build_model": "protoecg.model",
    "preset": "protoecg.training.config",
    "train": "protoecg.training.trainer",
    "CFConfig": "protoecg.explain",
    "Explainer": "protoecg.explain",
    "Explanation": "protoecg.explain",
    "explain_ecg": "protoecg.explain",
    "is_positive": "protoecg.decision",
    "prob_to_logit": "protoecg.decision",
    "sigmoid": "protoecg.decision",
    "DEMO_DATA_NOTE": "protoecg.provenance",
    "DEMO_DISCLAIMER": "protoecg.provenance",
    "git_commit": "protoecg.provenance",
    "measure_intervals": "protoecg.intervals",
    "paper_ecg_figure": "protoecg.render",
    "save_paper_ecg": "protoecg.render",
    "render_record_html": "protoecg.reports",
    "write_reports": "protoecg.reports",
    "RatingsStore": "protoecg.review.ratings",
}

__all__ = ["BackboneConfig", "Bundle", "BundleError", "CFConfig", "ConfigError", "DEMO_DATA_NOTE",
           "DEMO_DISCLAIMER", "ExplainError", "Explainer", "Explanation", "ModelConfig", "Prediction",
           "ProtoECGError", "RatingError", "RatingsStore", "RatingsStoreError", "RunConfig", "build_model",
           "explain_ecg", "git_commit", "is_positive", "load_bundle", "load_config", "measure_intervals",
           "paper_ecg_figure", "preset", "prob_to_logit", "render_record_html", "save_bundle", "save_config",
           "save_paper_ecg", "sigmoid", "train", "write_reports"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
