"""Loss terms of the prototype network (multi-label versions), each a plain function of tensors.

Conventions: ``sims`` (N, P) are pooled cosine similarities, ``y`` (N, C) multi-hot labels of the branch's
classes, ``proto_class`` (P,) the branch-local class of each prototype. All terms are minimised.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def pos_weight(y: np.ndarray, max_weight: float = 50.0) -> torch.Tensor:
    """Per-class ``n_neg / n_pos`` from training labels (N, C), clipped to ``[1, max_weight]``; classes
    without positives get 1 (no signal to up-weight)."""
    y = np.asarray(y, dtype=np.float64)
    n_pos = y.sum(axis=0)
    n_neg = len(y) - n_pos
    w = np.where(n_pos > 0, n_neg / np.maximum(n_pos, 1), 1.0)
    return torch.tensor(np.clip(w, 1.0, max_weight), dtype=torch.float32)


def bce(logits: torch.Tensor, y: torch.Tensor, pos_w: torch.Tensor | None = None) -> torch.Tensor:
    """Mean binary cross-entropy with per-class positive weights."""
    return F.binary_cross_entropy_with_logits(logits, y.float(), pos_weight=pos_w)


def _class_max(sims: torch.Tensor, proto_class: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(N, P) → (N, C): the best similarity to any prototype of each class (-inf for classes without one)."""
    onehot = F.one_hot(proto_class, n_classes).T.bool()                      # (C, P)
    masked = sims.unsqueeze(1).masked_fill(~onehot.unsqueeze(0), float("-inf"))
    return masked.max(dim=2).values


def cluster_loss(sims: torch.Tensor, y: torch.Tensor, proto_class: torch.Tensor) -> torch.Tensor:
    """Pull each ECG towards a prototype of every class it has: mean over positive (ECG, class) pairs of
    ``1 - max_{p in class} sim``. Zero when there is no positive pair."""
    cm = _class_max(sims, proto_class, y.shape[1])
    pos = y.bool()
    if not pos.any():
        return sims.new_zeros(())
    return (1 - cm[pos]).mean()


def separation_loss(sims: torch.Tensor, y: torch.Tensor, proto_class: torch.Tensor) -> torch.Tensor:
    """Push each ECG away from prototypes of classes it does not have: mean over ECGs (with at least one
    absent class) of the largest similarity to any prototype of an absent class."""
    neg_proto = (1 - y.float())[:, proto_class].bool()                      # (N, P): prototype's class absent
    masked = sims.masked_fill(~neg_proto, float("-inf")).max(dim=1).values
    keep = neg_proto.any(dim=1)
    if not keep.any():
        return sims.new_zeros(())
    return masked[keep].mean()


def diversity_loss(prototypes: torch.Tensor, proto_class: torch.Tensor | None = None) -> torch.Tensor:
    """``||P̂ P̂ᵀ - I||²_F`` over L2-normalised prototypes (flattened).

    With ``proto_class`` the penalty is computed within each class (prototypes of one class should differ
    from each other; structure *between* classes is the contrastive term's job) and averaged over classes.
    """
    p = F.normalize(prototypes.flatten(1), dim=1)
    gram = p @ p.T
    eye = torch.eye(len(p), device=p.device, dtype=p.dtype)
    sq = (gram - eye).pow(2)
    if proto_class is None:
        return sq.sum()
    same = proto_class.unsqueeze(0) == proto_class.unsqueeze(1)
    n_classes = int(torch.unique(proto_class).numel())
    return sq[same].sum() / n_classes


def jaccard_matrix(y: np.ndarray) -> np.ndarray:
    """Class co-occurrence Jaccard index ``|a ∧ b| / |a ∨ b|`` from labels (N, C); the diagonal is 1 and
    pairs that never occur get 0."""
    y = np.asarray(y, dtype=np.float64)
    inter = y.T @ y
    n = y.sum(axis=0)
    union = n[:, None] + n[None, :] - inter
    j = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    np.fill_diagonal(j, 1.0)
    return j


def contrastive_loss(prototypes: torch.Tensor, proto_class: torch.Tensor, jaccard: torch.Tensor) -> torch.Tensor:
    """Label co-occurrence contrastive term ``-(Σ S⊙Pos - Σ S⊙Neg) / √P``.

    ``S`` is the prototype cosine matrix; ``M = A J Aᵀ`` (A the prototype→class one-hot, J the Jaccard
    matrix); ``Pos = M / ΣM`` and ``Neg = (1 - M) / Σ(1 - M)``. Prototypes of co-occurring classes are
    pulled together, the others pushed apart.
    """
    p = F.normalize(prototypes.flatten(1), dim=1)
    s = p @ p.T
    a = F.one_hot(proto_class, jaccard.shape[0]).to(s.dtype)
    m = a @ jaccard.to(s.dtype) @ a.T
    pos = m / m.sum().clamp_min(1e-12)
    negm = 1 - m
    neg = negm / negm.sum().clamp_min(1e-12)
    return -((s * pos).sum() - (s * neg).sum()) / math.sqrt(len(p))


def l1_loss(weight: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of absolute weights (only where ``mask`` is 1, e.g. a last layer's off-class connections)."""
    if mask is None:
        return weight.abs().sum()
    return (weight * mask).abs().sum()


def off_class_mask(proto_class: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(C, P) mask that is 1 where prototype ``p`` does not belong to class ``c``."""
    return 1 - F.one_hot(proto_class, n_classes).T.float()
