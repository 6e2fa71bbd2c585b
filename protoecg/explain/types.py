"""Plain result types of the explanation API (what the CLI, the app and the reports consume).

Arrays (signals, attribution maps) travel on the objects for rendering but are left out of
:meth:`Explanation.to_json`, whose top-level keys are exactly ``predictions``, ``evidence``,
``counterfactual`` and ``timings_ms``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..provenance import DEMO_DISCLAIMER as DEMO_BANNER


@dataclass(frozen=True)
class LabelPrediction:
    """One label's probability and thresholded decision."""

    label: str
    branch: str
    probability: float
    threshold: float
    positive: bool
    logit: float

    def to_json(self) -> dict[str, Any]:
        return {"probability": round(self.probability, 6), "threshold": round(self.threshold, 6),
                "positive": bool(self.positive), "branch": self.branch}


@dataclass(frozen=True)
class PrototypeEvidence:
    """One prototype's contribution (weight × similarity) to one label's logit, with where it matched."""

    prototype_id: str
    branch: str
    class_code: str
    similarity: float
    weight: float
    contribution: float
    window_s: tuple[float, float]          # matched window of the query (receptive field), seconds
    leads: tuple[str, ...]                 # leads that drove the match, strongest first
    lead_groups: tuple[str, ...]           # anatomical groups of those leads
    source_ecg_id: str
    source_labels: tuple[str, ...] = ()
    source_window_s: tuple[float, float] = (0.0, 0.0)
    source_segment: np.ndarray | None = field(default=None, repr=False, compare=False)  # (12, Ts) mV

    def to_json(self) -> dict[str, Any]:
        return {"prototype_id": str(self.prototype_id), "branch": self.branch, "class": self.class_code,
                "similarity": round(float(self.similarity), 6),
                "contribution": round(float(self.contribution), 6),
                "window_s": [round(float(self.window_s[0]), 3), round(float(self.window_s[1]), 3)],
                "leads": list(self.leads), "source_ecg_id": str(self.source_ecg_id),
                "weight": round(float(self.weight), 6), "lead_groups": list(self.lead_groups),
                "source_labels": list(self.source_labels),
                "source_window_s": [round(float(v), 3) for v in self.source_window_s]}


@dataclass(frozen=True)
class CounterfactualResult:
    """A (lead × window) substitution counterfactual for one label and its quality figures."""

    label: str
    direction: str                         # "to_positive" or "to_negative"
    valid: bool
    cells: tuple[tuple[str, float, float], ...]   # (lead, start_s, end_s) substituted
    leads_changed: tuple[str, ...]
    seconds_changed: float                 # length of the union of changed time spans (any lead)
    fraction_changed: float                # changed (lead, sample) entries / all entries
    l1: float                              # mean absolute change per sample (mV)
    l2: float                              # Euclidean norm of the change (mV)
    plausibility: float                    # latent distance of the counterfactual to its nearest training ECG
    plausibility_original: float           # same for the unchanged query
    score_before: float                    # label logit before
    score_after: float                     # label logit after
    threshold_logit: float
    donor_id: str
    model_calls: int                       # batched forward passes
    n_scored: int                          # ECGs scored across those passes
    seconds: float
    signal: np.ndarray | None = field(default=None, repr=False, compare=False)  # counterfactual (12, T)

    def to_json(self) -> dict[str, Any]:
        return {"label": self.label, "direction": self.direction, "valid": bool(self.valid),
                "leads_changed": list(self.leads_changed), "seconds_changed": round(self.seconds_changed, 3),
                "fraction_changed": round(self.fraction_changed, 5), "l2": round(self.l2, 5),
                "plausibility": round(self.plausibility, 5), "model_calls": int(self.model_calls),
                "seconds": round(self.seconds, 4), "l1": round(self.l1, 6),
                "plausibility_original": round(self.plausibility_original, 5),
                "score_before": round(self.score_before, 4), "score_after": round(self.score_after, 4),
                "threshold_logit": round(self.threshold_logit, 4) if np.isfinite(self.threshold_logit) else None, "donor_id": self.donor_id,
                "n_scored": int(self.n_scored),
                "cells": [[c[0], round(c[1], 3), round(c[2], 3)] for c in self.cells]}


@dataclass(frozen=True)
class AttributionResult:
    """A Captum attribution map (12, T) for one label's logit."""

    label: str
    method: str                            # "integrated_gradients" | "occlusion" | "grad_cam"
    attributions: np.ndarray = field(repr=False, compare=False)
    baseline: str = ""
    convergence_delta: float | None = None
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        a = np.asarray(self.attributions)
        return {"label": self.label, "method": self.method, "baseline": self.baseline,
                "convergence_delta": None if self.convergence_delta is None else float(self.convergence_delta),
                "seconds": round(self.seconds, 4), "abs_sum": float(np.abs(a).sum())}


@dataclass(frozen=True)
class Explanation:
    """Everything explained about one ECG."""

    record_id: str
    fs: float
    signal: np.ndarray = field(repr=False, compare=False)     # model input (12, T), mV
    predictions: tuple[LabelPrediction, ...]
    evidence: dict[str, tuple[PrototypeEvidence, ...]]
    counterfactual: CounterfactualResult | None = None
    attributions: tuple[AttributionResult, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    is_demo: bool = False
    source_labels: tuple[str, ...] = ()    # reference labels of the record, when known
    disclaimer: str | None = None          # the model's own banner text (``ModelBundle.disclaimer``)

    @property
    def banner(self) -> str | None:
        if self.disclaimer:
            return self.disclaimer
        return DEMO_BANNER if self.is_demo else None

    @property
    def positive_labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.predictions if p.positive)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with exactly the keys predictions, evidence, counterfactual, timings_ms."""
        return {
            "predictions": {p.label: p.to_json() for p in self.predictions},
            "evidence": {lab: [e.to_json() for e in ev] for lab, ev in self.evidence.items()},
            "counterfactual": self.counterfactual.to_json() if self.counterfactual else None,
            "timings_ms": {k: round(float(v), 3) for k, v in self.timings_ms.items()},
        }
