"""The one explanation entry point used by the CLI, the app and the batch reports.

``explain_ecg(bundle, signal_or_record, ...)`` returns an :class:`~protoecg.explain.types.Explanation`:
predictions for all labels, prototype evidence for each positive (or requested) label, optionally a
counterfactual and Captum attributions. An :class:`Explainer` holds the per-bundle tables (fusion
weights, donor bank) so repeated calls do no set-up work; ``explain_ecg`` keeps one per bundle.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import logging
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from data_access.errors import ECGDataError
from data_access.record import ECGRecord
from data_access.signal_checks import check_model_input

from .counterfactual import CFConfig
from .errors import ExplainError
from .evidence import EvidenceBuilder
from .types import AttributionResult, Explanation, LabelPrediction

if TYPE_CHECKING:  # pragma: no cover
    from ..bundle import Bundle
    from .donors import DonorBank

# What every entry point accepts: a WFDB record path, a record already read, or preprocessed model input.
SignalOrRecord = str | Path | ECGRecord | np.ndarray

log = logging.getLogger(__name__)

FAST_ATTRIBUTIONS = ("integrated_gradients", "grad_cam")


def to_input(bundle: Bundle, signal_or_record: SignalOrRecord) -> tuple[str, np.ndarray, tuple[str, ...]]:
    """(record id, model input (12, n_samples), reference labels) from a path (any format
    :func:`data_access.formats.read_any` reads), an ECGRecord or an array.

    Arrays are taken as already preprocessed model input at ``bundle.fs``; records are resampled,
    high-passed and cropped with :func:`data_access.preprocess.to_model_input`.
    """
    from data_access.formats import read_any
    from data_access.preprocess import to_model_input

    if isinstance(signal_or_record, (str, Path)):
        signal_or_record = read_any(signal_or_record)
    if isinstance(signal_or_record, ECGRecord):
        rec = signal_or_record
        x = to_model_input(rec, fs=bundle.fs, n_samples=bundle.n_samples)
        return rec.record_id, x, tuple(f"SNOMED {c}" for c in rec.dx_snomed)
    try:
        x = check_model_input(signal_or_record, bundle.n_samples, fs=bundle.fs)
    except ECGDataError as exc:  # an array is the caller's input to the explainer, not a record read
        raise ExplainError(f"{exc.reason}; pass a record path or ECGRecord to preprocess it") from exc
    return "array", x, ()


class Explainer:
    """Explanations for one bundle; builds the evidence tables now and the donor bank on first use.

    The donor bank is, in order: the one given, ``donor_bank.npz`` in the bundle directory (written by
    ``protoecg explain-eval/report --ptbxl``), or the bundle's prototype source ECGs.
    """

    def __init__(self, bundle: Bundle, bank: DonorBank | None = None, source_labels: Mapping[int, Sequence[str]] | None = None,
                 cf_config: CFConfig = CFConfig()) -> None:
        self.bundle = bundle
        self.builder = EvidenceBuilder(bundle, source_labels)
        self._bank = bank
        self.cf_config = cf_config

    @property
    def bank(self):
        if self._bank is None:
            from .donors import bank_from_bundle, load_bank
            self._bank = (load_bank(self.bundle, fusion=self.builder.fusion)
                          or bank_from_bundle(self.bundle, self.builder.fusion))
        return self._bank

    def use_bank(self, bank) -> None:
        """Replace the donor bank (e.g. with one built from a PTB-XL directory)."""
        self._bank = bank

    def warm_up(self) -> float:
        """Build the donor bank and plan every batch shape once; returns the seconds it took.

        Call it before timing anything: the first forward pass of each input shape is slow on CPU.
        """
        from .scoring import warm_up

        t = time.perf_counter()
        self.bank
        warm_up(self.bundle.model, self.bundle.n_samples)
        self.bundle.predict(np.zeros((1, 12, self.bundle.n_samples), np.float32), with_leads=True)
        return time.perf_counter() - t

    def predictions(self, pred, n: int = 0) -> tuple[LabelPrediction, ...]:
        b = self.bundle
        return tuple(LabelPrediction(code, b.branch_of.get(code, ""), float(pred.probs[n, j]),
                                     float(b.thresholds[j]), bool(pred.predicted[n, j]), float(pred.logits[n, j]))
                     for j, code in enumerate(b.codes))

    def default_cf_label(self, preds: Sequence[LabelPrediction]) -> str:
        """The most probable positive label (to be made negative) or, with none positive, the label
        closest to its threshold (to be made positive) — each preferring labels for which the donor
        bank holds a real ECG on the target side."""
        from .scoring import prob_to_logit

        pos = [p for p in preds if p.positive]
        direction = "to_negative" if pos else "to_positive"
        bank = self.bank
        has_donor = {c for j, c in enumerate(self.bundle.codes)
                     if bank.eligible(j, prob_to_logit(self.bundle.thresholds[j]), direction).any()}
        if pos:
            pool = [p for p in pos if p.label in has_donor] or pos
            return max(pool, key=lambda p: p.probability).label
        pool = [p for p in preds if p.label in has_donor] or list(preds)
        return max(pool, key=lambda p: p.logit - prob_to_logit(p.threshold)).label

    def explain(self, signal_or_record: SignalOrRecord, labels: Sequence[str] | None = None,
                counterfactual: bool = True, attributions: bool | Sequence[str] = False,
                cf_label: str | None = None, direction: str | None = None, top_k: int = 5,
                record_id: str | None = None, reference_labels: Sequence[str] = ()) -> Explanation:
        """Explain one ECG with this explainer's bundle.

        ``signal_or_record``: a WFDB record path or :class:`ECGRecord` (resampled, high-passed and cropped
        like training data) or a preprocessed ``(12, bundle.n_samples)`` array at ``bundle.fs``.
        ``labels``: codes to gather prototype evidence for (default: every positive prediction), the
        ``top_k`` prototypes each. ``counterfactual``: also search a substitution counterfactual for
        ``cf_label`` (default: the first of ``labels``, else :meth:`default_cf_label`) in ``direction``
        (``"to_positive"``/``"to_negative"``; default: flip the current decision). ``attributions``:
        ``True`` for Integrated Gradients + Grad-CAM, or a list of method names. ``record_id`` and
        ``reference_labels`` override what is read from the record.

        Returns an :class:`Explanation` with ``timings_ms`` per step. Raises
        :class:`~data_access.errors.ECGDataError` subclasses for a record that cannot be read, and
        :class:`ExplainError` for an unusable array or request (unknown label, no donor).
        """
        t_all = time.perf_counter()
        timings: dict[str, float] = {}
        t = time.perf_counter()
        rid, x, ref = to_input(self.bundle, signal_or_record)
        timings["input_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        pred = self.bundle.predict(x[None], with_leads=True)
        preds = self.predictions(pred)
        codes = set(self.bundle.codes)
        wanted = list(labels) if labels else [p.label for p in preds if p.positive]
        unknown = [c for c in wanted if c not in codes]
        if unknown:
            raise ExplainError(f"unknown label(s) {', '.join(unknown)}; the model predicts the 71 PTB-XL codes")
        evidence = {lab: self.builder.evidence(pred, 0, lab, top_k) for lab in wanted}
        timings["evidence_ms"] = (time.perf_counter() - t) * 1000
        cf = None
        if counterfactual:
            from .cf_model import counterfactual_for_label
            label = cf_label or (wanted[0] if labels else self.default_cf_label(preds))
            bank = self.bank   # built on first use; its set-up is timed apart from the search
            t = time.perf_counter()
            cf = counterfactual_for_label(self.bundle, self.builder.fusion, bank, x, label, direction,
                                          self.cf_config)
            timings["counterfactual_ms"] = (time.perf_counter() - t) * 1000
        attrs: list[AttributionResult] = []
        if attributions:
            from .attributions import attribute
            methods = FAST_ATTRIBUTIONS if attributions is True else tuple(attributions)
            label = (cf.label if cf else None) or (wanted[0] if wanted else self.default_cf_label(preds))
            j = self.bundle.codes.index(label)
            t = time.perf_counter()
            attrs = [attribute(self.bundle.model, x, j, label, m, float(self.bundle.fs)) for m in methods]
            timings["attributions_ms"] = (time.perf_counter() - t) * 1000
        timings["total_ms"] = (time.perf_counter() - t_all) * 1000
        return Explanation(record_id=record_id or rid, fs=float(self.bundle.fs), signal=x, predictions=preds,
                           evidence=evidence, counterfactual=cf, attributions=tuple(attrs), timings_ms=timings,
                           is_demo=bool(self.bundle.is_demo), source_labels=tuple(reference_labels or ref),
                           disclaimer=getattr(self.bundle, "disclaimer", None))


_EXPLAINERS: dict[int, tuple[weakref.ref, Explainer]] = {}


def get_explainer(bundle: Bundle) -> Explainer:
    """The cached :class:`Explainer` of ``bundle`` (created on first use)."""
    hit = _EXPLAINERS.get(id(bundle))
    if hit is not None and hit[0]() is bundle:
        return hit[1]
    ex = Explainer(bundle)
    _EXPLAINERS[id(bundle)] = (weakref.ref(bundle), ex)
    return ex


def explain_ecg(bundle: Bundle, signal_or_record: SignalOrRecord, labels: Sequence[str] | None = None,
                counterfactual: bool = True, attributions: bool | Sequence[str] = False, *,
                explainer: Explainer | None = None, **kwargs: Any) -> Explanation:
    """Explain one ECG (a WFDB path, an :class:`ECGRecord`, or a preprocessed (12, n_samples) array).

    ``labels``: evidence for these codes (default: every positive prediction). ``counterfactual``: also
    search one for ``cf_label`` (default: the most probable positive label, made negative; with none
    positive, the label closest to its threshold, made positive). ``attributions``: ``True`` for
    Integrated Gradients + Grad-CAM, or a list of methods (add ``"occlusion"``; slower).
    ``explainer``: reuse this one (default: the bundle's cached :class:`Explainer`); ``kwargs`` go to
    :meth:`Explainer.explain` (``cf_label``, ``direction``, ``top_k``, ``record_id``, ``reference_labels``).
    Raises :class:`~data_access.errors.ECGDataError` subclasses for bad records and
    :class:`ExplainError` for unusable requests.
    """
    ex = explainer or get_explainer(bundle)
    return ex.explain(signal_or_record, labels, counterfactual, attributions, **kwargs)
