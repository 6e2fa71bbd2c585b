"""The donor bank: real ECGs (with their model outputs and latents) that counterfactuals borrow from.

A bundle always carries its prototypes' source ECGs (training ECGs), which form the minimal bank. A
PTB-XL-layout directory adds training-fold ECGs with their reference labels, so donors can be restricted
to *correctly classified* ECGs (model decision = reference label). The latent of an ECG is the fusion
layer's input (branch-standardised prototype similarities); plausibility of a counterfactual is its
Euclidean distance to the nearest bank latent.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ExplainError
from .evidence import FusionView
from .scoring import is_positive, latent_of

if TYPE_CHECKING:  # pragma: no cover
    from ..bundle import Bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DonorBank:
    signals: np.ndarray            # (N, 12, T) float32 model input
    ids: tuple[str, ...]
    logits: np.ndarray             # (N, C) fused logits
    latents: np.ndarray            # (N, D) fusion-layer input
    labels: np.ndarray | None      # (N, C) bool reference labels, when known
    source: str                    # where the bank came from (for reports)

    def __len__(self) -> int:
        return len(self.ids)

    def nearest_distance(self, latents: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        """(B,) distance of each latent to its nearest bank latent (0 distances skipped if ``exclude_self``)."""
        q = np.atleast_2d(np.asarray(latents, dtype=np.float64))
        d = np.sqrt(np.maximum(((q[:, None, :] - self.latents[None]) ** 2).sum(-1), 0.0))
        if exclude_self:
            d = np.where(d < 1e-9, np.inf, d)
        return d.min(axis=1)

    def eligible(self, label_index: int, threshold_logit: float, direction: str) -> np.ndarray:
        """(N,) bool: bank ECGs on the target side (and, with labels, correctly classified)."""
        pos = is_positive(self.logits[:, label_index], threshold_logit)
        ok = pos if direction == "to_positive" else ~pos
        if self.labels is not None:
            ok &= self.labels[:, label_index] if direction == "to_positive" else ~self.labels[:, label_index]
        return ok

    def candidates(self, label_index: int, threshold_logit: float, direction: str, query_latent: np.ndarray,
                   k: int, thresholds_logit: np.ndarray | None = None) -> np.ndarray:
        """Indices of up to ``k`` donors on the target side of the threshold, nearest (latent) first.

        With reference labels, only correctly classified donors qualify (labelled and predicted positive
        for ``to_positive``; labelled and predicted negative for ``to_negative``). With
        ``thresholds_logit`` (one per label) the pick is *diverse*: the nearest donor of each kind first
        (a donor's kind is the other label the model is most sure of, e.g. the nearest AF ECG, the
        nearest LBBB ECG), then the nearest of the rest; the nearest donor overall is always included.
        """
        idx = np.flatnonzero(self.eligible(label_index, threshold_logit, direction))
        if idx.size == 0:
            return idx
        d = np.sqrt(((self.latents[idx] - np.asarray(query_latent, dtype=np.float64)[None]) ** 2).sum(-1))
        near = idx[np.argsort(d, kind="stable")]
        if thresholds_logit is None or k >= near.size:
            return near[:k]
        margin = self.logits[near] - np.asarray(thresholds_logit, dtype=np.float64)[None]
        margin[:, label_index] = -np.inf
        kind = np.argmax(margin, axis=1)
        _, first = np.unique(kind, return_index=True)        # the nearest donor of every kind
        pick = list(np.sort(first)[:k])
        taken = set(pick)
        rest = [i for i in range(near.size) if i not in taken]
        pick = sorted(pick + rest[: k - len(pick)])
        return near[pick]


def _outputs(bundle: Bundle, signals: np.ndarray, fusion: FusionView) -> tuple[np.ndarray, np.ndarray]:
    bundle._check(signals)   # shape / finiteness errors as the bundle words them
    return latent_of(bundle.model, fusion, signals)


def bank_from_bundle(bundle: Bundle, fusion: FusionView | None = None) -> DonorBank:
    """The prototypes' source ECGs (labels unknown; the model's decisions choose the side)."""
    fusion = fusion or FusionView.of(bundle)
    sig = np.asarray(bundle.source_signals, dtype=np.float32)
    if len(sig) == 0:
        raise ExplainError("the bundle holds no prototype source ECGs to borrow from; pass a PTB-XL "
                           "directory (--ptbxl) to build a donor bank")
    logits, lat = _outputs(bundle, sig, fusion)
    return DonorBank(sig, tuple(str(int(i)) for i in bundle.source_ids), logits, lat, None, "bundle sources")


def bank_from_arrays(bundle: Bundle, signals: np.ndarray, ids, labels: np.ndarray | None,
                     fusion: FusionView | None = None, source: str = "arrays") -> DonorBank:
    """A bank from preprocessed model-input signals (N, 12, T), e.g. a PTB-XL training split."""
    fusion = fusion or FusionView.of(bundle)
    sig = np.ascontiguousarray(signals, dtype=np.float32)
    logits, lat = _outputs(bundle, sig, fusion)
    lab = None if labels is None else np.asarray(labels).astype(bool)
    return DonorBank(sig, tuple(str(i) for i in ids), logits, lat, lab, source)


def bank_from_ptbxl(bundle: Bundle, root: str | Path, folds: tuple[int, ...] | None = None, max_n: int = 1500,
                    seed: int = 0, fusion: FusionView | None = None) -> DonorBank:
    """Training-fold ECGs of a PTB-XL-layout directory (at most ``max_n``, a fixed random subset)."""
    from data_access.ptbxl import load_ptbxl

    folds = folds or tuple(bundle.config.train_folds)
    data = load_ptbxl(root, fs=int(bundle.fs), folds=folds)
    if len(data.ecg_ids) == 0:
        raise ExplainError(f"no readable training-fold ECGs (folds {list(folds)}) in {root}")
    if len(data.ecg_ids) > max_n:
        keep = np.sort(np.random.default_rng(seed).choice(len(data.ecg_ids), max_n, replace=False))
        data = data.subset(np.isin(np.arange(len(data.ecg_ids)), keep))
    x = data.signals[..., : bundle.n_samples]
    if x.shape[-1] != bundle.n_samples:
        raise ExplainError(f"{root}: records are shorter than the model's {bundle.n_samples} samples")
    labels = _align_labels(data.labels, tuple(data.codes), tuple(bundle.codes))
    log.info("donor bank: %d training ECGs from %s", len(data.ecg_ids), root)
    return bank_from_arrays(bundle, x, data.ecg_ids, labels, fusion, source=f"PTB-XL folds {list(folds)}")


def _align_labels(y: np.ndarray, have: tuple[str, ...], want: tuple[str, ...]) -> np.ndarray:
    idx = {c: i for i, c in enumerate(have)}
    out = np.zeros((len(y), len(want)), dtype=bool)
    for j, c in enumerate(want):
        if c in idx:
            out[:, j] = y[:, idx[c]].astype(bool)
    return out


def merge_banks(a: DonorBank, b: DonorBank) -> DonorBank:
    """Concatenate two banks (labels become unknown for rows of a bank without labels: all-False is wrong,
    so a merged bank keeps labels only when both have them)."""
    labels = np.concatenate([a.labels, b.labels]) if a.labels is not None and b.labels is not None else None
    return DonorBank(np.concatenate([a.signals, b.signals]), a.ids + b.ids, np.concatenate([a.logits, b.logits]),
                     np.concatenate([a.latents, b.latents]), labels, f"{a.source} + {b.source}")


BANK_FILE = "donor_bank.npz"


def _model_hash(bundle: Bundle) -> str:
    import hashlib

    p = Path(bundle.path) / "model.pt"
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else ""


def save_bank(bank: DonorBank, bundle: Bundle, path: str | Path | None = None) -> Path:
    """Store a bank (signals as float16 to keep it small) beside the bundle, tagged with the model hash."""
    path = Path(path) if path else Path(bundle.path) / BANK_FILE
    labels = bank.labels if bank.labels is not None else np.zeros((0, 0), bool)
    np.savez_compressed(path, signals=bank.signals.astype(np.float16), ids=np.asarray(bank.ids, dtype=str),
                        logits=bank.logits.astype(np.float32), latents=bank.latents.astype(np.float32),
                        labels=labels, source=np.asarray(bank.source), model_sha256=np.asarray(_model_hash(bundle)))
    return path


def load_bank(bundle: Bundle, path: str | Path | None = None, fusion: FusionView | None = None) -> DonorBank | None:
    """A stored bank, or None if there is none; outputs are recomputed if the model changed since."""
    path = Path(path) if path else Path(bundle.path) / BANK_FILE
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        sig = z["signals"].astype(np.float32)
        ids = tuple(str(i) for i in z["ids"])
        labels = z["labels"].astype(bool) if z["labels"].size else None
        source = str(z["source"])
        same = str(z["model_sha256"]) == _model_hash(bundle)
        logits, lat = (z["logits"].astype(np.float64), z["latents"].astype(np.float64)) if same else (None, None)
    if logits is None:
        log.info("donor bank %s was built for another model; recomputing its outputs", path)
        return bank_from_arrays(bundle, sig, ids, labels, fusion, source)
    return DonorBank(sig, ids, logits, lat, labels, source)
