"""Batched, gradient-free inference returning numpy arrays (used by training, evaluation and bundles)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from .fast import FastInference


def _to_numpy(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    return obj


def _concat(parts: list):
    first = parts[0]
    if isinstance(first, dict):
        return {k: _concat([p[k] for p in parts]) for k in first}
    return np.concatenate(parts)


@torch.no_grad()
def run_model(model: nn.Module, signals: np.ndarray, batch_size: int = 256, with_leads: bool = False,
              keys: tuple[str, ...] = ("logits", "combined_logits", "sims", "branch_logits"),
              progress: bool = False) -> dict:
    """Forward ``signals`` (N, 12, T) in eval mode; returns the requested output keys as numpy arrays
    (nested dicts for per-branch outputs). Keys the model does not produce are skipped. ``model`` may be
    the serving copy of :func:`protoecg.model.fast.fast_model` (same outputs within 1e-5, faster)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    parts = []
    try:
        for i in tqdm(range(0, len(signals), batch_size), disable=not progress, desc="inference", leave=False):
            x = torch.as_tensor(np.ascontiguousarray(signals[i:i + batch_size]), dtype=torch.float32,
                                device=device)
            out = model(x, with_leads=with_leads, keys=keys) if isinstance(model, FastInference) \
                else model(x, with_leads=with_leads)
            parts.append({k: _to_numpy(out[k]) for k in keys if k in out})
    finally:
        model.train(was_training)
    if not parts:
        return {}
    return _concat(parts)
