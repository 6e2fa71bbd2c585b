"""Shapes, gradients, vectorised similarity and receptive-field arithmetic of the branches."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from data_access.ptbxl import branch_of, codes
from protoecg.model import BaselineNet, ProtoECGNet, build_model
from protoecg.model.backbones import TimeResNet, receptive_field
from protoecg.model.similarity import (pool, window_cosine, window_cosine_loop, window_cosine_per_lead)
from protoecg.model.config import BackboneConfig
from protoecg.training.config import preset

torch.manual_seed(0)


@pytest.fixture(scope="module")
def tiny_model() -> ProtoECGNet:
    return build_model(preset("tiny").model, codes(), branch_of())


def test_forward_shapes(tiny_model):
    cfg = tiny_model.cfg
    x = torch.randn(3, 12, cfg.n_samples)
    out = tiny_model(x, with_leads=True)
    n_cls = {b: sum(v == b for v in branch_of().values()) for b in ("rhythm", "morphology", "diffuse")}
    assert n_cls == {"rhythm": 16, "morphology": 52, "diffuse": 3}
    assert out["logits"].shape == (3, 71) and out["combined_logits"].shape == (3, 71)
    for b, k in zip(("rhythm", "morphology", "diffuse"), cfg.protos_per_class):
        assert out["sims"][b].shape == (3, n_cls[b] * k)
        assert out["branch_logits"][b].shape == (3, n_cls[b])
    morph = tiny_model.branch("morphology")
    w = morph.n_windows(cfg.n_samples)
    assert w == morph.backbone.latent_steps(cfg.n_samples) - cfg.morph_window + 1
    assert out["maps"]["morphology"].shape == (3, morph.n_prototypes, w)
    assert out["maps"]["diffuse"].shape[-1] == 1
    assert out["lead_contrib"]["morphology"].shape == (3, morph.n_prototypes, 12)
    assert out["latents"]["morphology"].shape[2] == 12          # lead rows survive to the latent
    # the combined logits place each branch's logits at its codes
    idx = tiny_model.class_index("diffuse")
    assert torch.allclose(out["combined_logits"][:, idx], out["branch_logits"]["diffuse"])


def test_fused_equals_combined_before_fusion_training(tiny_model):
    x = torch.randn(4, 12, tiny_model.cfg.n_samples)
    tiny_model.init_fusion(torch.tensor([0.3, 0.5, 0.1]), torch.tensor([0.2, 0.1, 0.4]))
    out = tiny_model(x)
    assert torch.allclose(out["fused_logits"], out["combined_logits"], atol=1e-4)


def test_gradients_reach_every_branch(tiny_model):
    tiny_model.train()
    x = torch.randn(4, 12, tiny_model.cfg.n_samples, requires_grad=True)
    out = tiny_model(x)
    # random weights: with +1/-0.5 last layers a plain sum of the diffuse logits cancels exactly
    loss = sum((v * torch.rand_like(v)).sum() for v in out["branch_logits"].values())
    tiny_model.zero_grad()
    loss.backward()
    for b in ("rhythm", "morphology", "diffuse"):
        br = tiny_model.branch(b)
        assert br.prototypes.grad is not None and br.prototypes.grad.abs().sum() > 0, b
        first_conv = next(br.backbone.parameters())
        assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0, b
    assert x.grad.abs().sum() > 0


def test_vectorised_window_similarity_equals_loop():
    z = torch.rand(5, 6, 12, 20)
    p = torch.rand(7, 6, 12, 3)
    vec = window_cosine(z, p)
    ref = window_cosine_loop(z, p)
    assert vec.shape == (5, 7, 18)
    assert torch.allclose(vec, ref, atol=1e-5)
    per_lead = window_cosine_per_lead(z, p)
    assert per_lead.shape == (5, 7, 12, 18)
    assert torch.allclose(per_lead.sum(2), vec, atol=1e-5)
    # per-lead term is the lead's share of the dot product, computed by hand for one window
    zw, pw = z[1, :, :, 4:7], p[2]
    hand = (zw[:, 3] * pw[:, 3]).sum() / (zw.norm() * pw.norm())
    assert per_lead[1, 2, 3, 4].item() == pytest.approx(hand.item(), rel=1e-5)


def test_pool_is_max_over_windows():
    m = torch.tensor([[[0.1, 0.7, 0.3]]])
    s, w = pool(m)
    assert s.item() == pytest.approx(0.7) and w.item() == 1


def test_receptive_field_arithmetic():
    rf = receptive_field([(7, 2, 3), (3, 2, 1)])
    # index 0 of layer 2 sees layer-1 indices -1..1 → inputs -1*2-3 .. 1*2-3+6
    assert (rf.jump, rf.offset, rf.size) == (4, 5, 11)
    assert rf.span(0, 0, 100) == (0, 5)
    assert rf.span(3, 4, 100) == (7, 21)


@pytest.mark.parametrize("dim", [1, 2])
def test_receptive_field_matches_gradient_support(dim):
    """With ReLUs removed and batch norm as identity, the input samples that influence latent index t are
    exactly the computed span."""
    cfg = BackboneConfig(stem_channels=3, stem_kernel=5, stem_stride=2, channels=(4, 4), strides=(2, 3),
                         blocks_per_stage=1, kernel=3)
    net = TimeResNet(cfg, 12 if dim == 1 else 1, dim=dim).double().eval()
    for mod in net.modules():
        if hasattr(mod, "act"):
            mod.act = nn.Identity()
    net.stem[2] = nn.Identity()
    n = 200
    rf = net.receptive_field()
    for t in (5, 9):
        x = torch.randn(1, 12, n, dtype=torch.float64, requires_grad=True)
        inp = x if dim == 1 else x.unsqueeze(1)
        out = net(inp)
        out[..., t].sum().backward()
        support = np.flatnonzero(x.grad.abs().sum(dim=(0, 1)).numpy() > 0)
        assert (support.min(), support.max()) == rf.span(t, t, n)


def test_window_seconds_of_morphology(tiny_model):
    cfg = tiny_model.cfg
    morph = tiny_model.branch("morphology")
    rf = morph.backbone.receptive_field()
    start, end = morph.window_seconds(3, cfg.n_samples, cfg.fs)
    lo, hi = rf.span(3, 3 + cfg.morph_window - 1, cfg.n_samples)
    assert (start, end) == (lo / cfg.fs, (hi + 1) / cfg.fs)
    assert tiny_model.branch("diffuse").window_seconds(0, cfg.n_samples, cfg.fs) == (0.0, cfg.n_samples / cfg.fs)


def test_config_derived_lengths():
    """Nothing assumes 100 Hz / 1000 samples: a 250 Hz, 2500-sample model builds and runs."""
    import dataclasses
    cfg = preset("tiny").model
    cfg = dataclasses.replace(cfg, fs=250, n_samples=2500)
    m = build_model(cfg, codes(), branch_of())
    out = m(torch.randn(2, 12, 2500))
    morph = m.branch("morphology")
    assert out["maps"]["morphology"].shape[-1] == morph.n_windows(2500)
    assert morph.window_seconds(0, 2500, 250)[1] <= 10.0


def test_baseline_shapes_and_gradients():
    m = build_model(preset("tiny", arch="baseline").model, codes(), branch_of())
    assert isinstance(m, BaselineNet)
    x = torch.randn(3, 12, 1000)
    out = m(x)
    assert out["logits"].shape == (3, 71)
    out["logits"].sum().backward()
    assert all(p.grad is not None for p in m.parameters())
