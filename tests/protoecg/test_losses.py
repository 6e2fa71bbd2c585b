"""Each loss term against a small case computed by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from protoecg import losses as L

SIMS = torch.tensor([[0.9, 0.2, 0.5], [0.1, 0.8, 0.3]])
PCLASS = torch.tensor([0, 0, 1])
PROTOS = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, 2.0]])
R = math.sqrt(0.5)


def test_cluster_loss_mean_over_positive_pairs():
    y = torch.tensor([[1, 0], [1, 1]])
    # positive pairs: (0,c0) best 0.9, (1,c0) best 0.8, (1,c1) best 0.3
    assert L.cluster_loss(SIMS, y, PCLASS).item() == pytest.approx((0.1 + 0.2 + 0.7) / 3)


def test_cluster_loss_zero_without_positives():
    assert L.cluster_loss(SIMS, torch.zeros(2, 2), PCLASS).item() == 0.0


def test_separation_loss_uses_absent_classes_only():
    y = torch.tensor([[1, 0], [1, 1]])
    # ECG 0 lacks class 1 (prototype 2, sim 0.5); ECG 1 lacks nothing and is left out
    assert L.separation_loss(SIMS, y, PCLASS).item() == pytest.approx(0.5)
    y2 = torch.tensor([[0, 0], [0, 1]])
    # ECG 0: max over all prototypes = 0.9; ECG 1: prototypes of class 0 → 0.8
    assert L.separation_loss(SIMS, y2, PCLASS).item() == pytest.approx((0.9 + 0.8) / 2)


def test_diversity_loss_full_and_per_class():
    # normalised: [1,0], [r,r], [0,1]; off-diagonal cosines r, 0, r
    assert L.diversity_loss(PROTOS).item() == pytest.approx(2 * (R**2 + 0 + R**2))
    # within classes: only the pair (0,1) of class 0; averaged over the 2 classes
    assert L.diversity_loss(PROTOS, PCLASS).item() == pytest.approx(2 * R**2 / 2)


def test_jaccard_matrix():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 0]])
    j = L.jaccard_matrix(y)
    assert j[0, 1] == pytest.approx(1 / 3) and j[1, 0] == pytest.approx(1 / 3)
    assert np.allclose(np.diag(j), 1.0)
    assert j[0, 2] == 0.0 and j[2, 2] == 1.0


def test_contrastive_loss_hand_computed():
    jac = torch.tensor([[1.0, 1 / 3], [1 / 3, 1.0]])
    m = np.array([[1, 1, 1 / 3], [1, 1, 1 / 3], [1 / 3, 1 / 3, 1]])
    s = np.array([[1, R, 0], [R, 1, R], [0, R, 1]])
    pos = (s * m).sum() / m.sum()
    neg = (s * (1 - m)).sum() / (1 - m).sum()
    expected = -(pos - neg) / math.sqrt(3)
    assert expected == pytest.approx(-0.24125, abs=1e-4)      # the number worked out on paper
    assert L.contrastive_loss(PROTOS, PCLASS, jac).item() == pytest.approx(expected, rel=1e-5)


def test_contrastive_loss_prefers_co_occurring_prototypes_close():
    jac = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    cls = torch.tensor([0, 1])
    apart = L.contrastive_loss(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), cls, jac)
    together = L.contrastive_loss(torch.tensor([[1.0, 0.0], [1.0, 0.1]]), cls, jac)
    assert apart.item() < together.item()


def test_l1_with_off_class_mask():
    w = torch.tensor([[1.0, -2.0], [0.5, 3.0]])
    assert L.l1_loss(w).item() == pytest.approx(6.5)
    mask = L.off_class_mask(torch.tensor([0, 1]), 2)
    assert torch.equal(mask, torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
    assert L.l1_loss(w, mask).item() == pytest.approx(2.5)


def test_pos_weight_and_bce():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]])
    assert L.pos_weight(y).tolist() == pytest.approx([1.0, 3.0, 1.0])
    assert L.pos_weight(y, max_weight=2.0).tolist() == pytest.approx([1.0, 2.0, 1.0])
    loss = L.bce(torch.zeros(1, 1), torch.ones(1, 1), torch.tensor([3.0]))
    assert loss.item() == pytest.approx(3 * math.log(2))


def test_losses_have_gradients():
    p = PROTOS.clone().requires_grad_(True)
    s = SIMS.clone().requires_grad_(True)
    y = torch.tensor([[1, 0], [0, 1]])
    total = (L.cluster_loss(s, y, PCLASS) + L.separation_loss(s, y, PCLASS) + L.diversity_loss(p, PCLASS)
             + L.contrastive_loss(p, PCLASS, torch.eye(2)))
    total.backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert s.grad.abs().sum() > 0
