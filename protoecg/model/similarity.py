"""Cosine similarity between latents and prototypes, vectorised over every window.

Pooling rule (one rule in training, projection and explanation): **max over windows**. A prototype is
evidence that "part of this ECG looks like that"; the max is the best-matching window, which is exactly
the window an explanation shows and the latent that projection copies, so the number the classifier uses is
the number the clinician sees. (The reference averaged windows in training but took the max in projection
and explanation, so its explanations did not describe the model's computation.) The price is a sparse
gradient (one window per prototype and ECG), which the cluster/separation terms tolerate well.

Shapes: a windowed latent is ``z`` (N, C, L, T) (channels, lead rows, time); prototypes are ``p``
(P, C, L, w). The windowed similarity map is (N, P, W) with ``W = T - w + 1``; the per-lead terms
(N, P, L, W) sum over ``L`` to the map (they are the per-lead dot-product terms of the cosine).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-8


def cosine_global(z: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """(N, D) x (P, D) → (N, P) cosine similarities."""
    return F.normalize(z, dim=1, eps=EPS) @ F.normalize(p, dim=1, eps=EPS).T


def _window_norms(z: torch.Tensor, w: int) -> torch.Tensor:
    """Euclidean norm of every length-``w`` window of ``z`` (N, C, L, T) → (N, 1, W)."""
    energy = z.pow(2).sum(dim=(1, 2)).unsqueeze(1)                       # (N, 1, T)
    ones = torch.ones(1, 1, w, dtype=z.dtype, device=z.device)
    return F.conv1d(energy, ones).clamp_min(0).sqrt()                     # (N, 1, W)


def window_cosine(z: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each prototype to every window: (N, C, L, T), (P, C, L, w) → (N, P, W).

    One ``conv1d`` over the flattened (C·L) channel axis computes every window's dot product at once.
    """
    n, c, l, t = z.shape
    w = p.shape[-1]
    # Prototypes are normalised before the convolution and the windows' norms applied as one broadcast
    # multiply: the same quotient as dots / (|z_w| |p|), with one pass over the (N, P, W) map instead of
    # three (measured: the elementwise passes cost as much as the convolution at paper size).
    pn = p.flatten(1).norm(dim=1).clamp_min(EPS).view(-1, 1, 1)
    dots = F.conv1d(z.reshape(n, c * l, t), (p / pn.unsqueeze(-1)).reshape(p.shape[0], c * l, w))  # (N, P, W)
    return dots * _window_norms(z, w).clamp_min(EPS).reciprocal()


def window_cosine_per_lead(z: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Per-lead terms of :func:`window_cosine`: (N, P, L, W); summing over L gives the cosine map.

    A grouped ``conv1d`` (one group per lead row) computes all leads at once.
    """
    n, c, l, t = z.shape
    pcount, w = p.shape[0], p.shape[-1]
    zl = z.permute(0, 2, 1, 3).reshape(n, l * c, t)                           # lead-major channels
    weight = p.permute(2, 0, 1, 3).reshape(l * pcount, c, w)                  # group l → prototypes' lead l
    dots = F.conv1d(zl, weight, groups=l).view(n, l, pcount, -1).permute(0, 2, 1, 3)   # (N, P, L, W)
    pn = p.flatten(1).norm(dim=1).view(1, -1, 1, 1)
    return dots / (_window_norms(z, w).unsqueeze(2) * pn).clamp_min(EPS)


def window_cosine_loop(z: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Reference implementation with a Python loop over windows (as in the reference code); used only by
    tests and the inference benchmark to check :func:`window_cosine`."""
    w = p.shape[-1]
    pf = F.normalize(p.flatten(1), dim=1, eps=EPS)
    out = []
    for t in range(z.shape[-1] - w + 1):
        zw = F.normalize(z[..., t:t + w].flatten(1), dim=1, eps=EPS)
        out.append(zw @ pf.T)
    return torch.stack(out, dim=-1)


def pool(sim_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The pooling rule: max over windows. (N, P, W) → similarities (N, P), best window index (N, P)."""
    return sim_map.max(dim=-1)
