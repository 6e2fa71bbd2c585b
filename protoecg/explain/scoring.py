"""Scoring a batch of model inputs for the explainers: fused logits and similarities, one label's score
and its gradient, the fusion latent, and a warm-up of the fixed batch shapes.

The decision rules (sigmoid, threshold as a logit, which side of it) are :mod:`protoecg.decision`'s,
re-exported here for the explainers.
"""
from __future__ import annotations

import numpy as np
import torch

from ..decision import is_positive, prob_to_logit, reaches, sigmoid  # noqa: F401  (re-exported)
from .evidence import FusionView

__all__ = ["BUCKETS", "LabelScorer", "forward", "is_positive", "latent_of", "prob_to_logit", "reaches",
           "sigmoid", "warm_up"]

BUCKETS = (1, 8, 32)


def _bucketed(x: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Split a batch into chunks padded to a few fixed sizes.

    oneDNN plans every new input shape anew (hundreds of ms on 2 cores); with fixed sizes the plans are
    reused, which makes a search of many differently sized batches fast after the first ECG.
    """
    out = []
    top = BUCKETS[-1]
    for i in range(0, len(x), top):
        part = x[i:i + top]
        size = next(b for b in BUCKETS if b >= len(part))
        if size > len(part):
            part = np.concatenate([part, np.zeros((size - len(part),) + part.shape[1:], part.dtype)])
        out.append((np.ascontiguousarray(part, dtype=np.float32), min(top, len(x) - i)))
    return out


def forward(model: torch.nn.Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Fused logits (N, C) and per-branch similarities of preprocessed signals, in fixed-size chunks."""
    logits, sims = [], []
    with torch.no_grad():
        for part, n in _bucketed(np.asarray(x, dtype=np.float32)):
            out = model(torch.from_numpy(part))
            logits.append(out["logits"][:n].numpy())
            sims.append({k: v[:n].numpy() for k, v in out["sims"].items()})
    return {"logits": np.concatenate(logits).astype(np.float64),
            "sims": {k: np.concatenate([s[k] for s in sims]) for k in sims[0]}}


class LabelScorer:
    """``score(batch) -> (B,)`` and ``grad(batch) -> (scores, d/dx)`` of one label's fused logit."""

    def __init__(self, model: torch.nn.Module, label_index: int) -> None:
        self.model = model.eval()
        self.index = label_index

    def score(self, batch: np.ndarray) -> np.ndarray:
        return forward(self.model, batch)["logits"][:, self.index]

    def grad(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, grads = [], []
        for part, n in _bucketed(np.asarray(batch, dtype=np.float32)):
            x = torch.from_numpy(part).requires_grad_(True)
            s = self.model(x)["logits"][:, self.index]
            (g,) = torch.autograd.grad(s.sum(), x)
            scores.append(s.detach().numpy()[:n].astype(np.float64))
            grads.append(g.numpy()[:n])
        return np.concatenate(scores), np.concatenate(grads)


def latent_of(model: torch.nn.Module, fusion: FusionView, signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits (B, C), fusion latents (B, D)) of preprocessed signals."""
    out = forward(model, signals)
    return out["logits"], fusion.latent(out["sims"])


def warm_up(model: torch.nn.Module, n_samples: int) -> None:
    """Run each fixed batch shape once (forward and gradient) so later calls reuse the plans."""
    for b in BUCKETS:
        forward(model, np.zeros((b, 12, n_samples), np.float32))
        LabelScorer(model, 0).grad(np.zeros((b, 12, n_samples), np.float32))
