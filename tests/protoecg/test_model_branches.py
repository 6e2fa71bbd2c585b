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


def _linearised(net: TimeResNet) -> TimeResNet:
    """ReLUs removed (batch norm in eval mode is affine): the gradient support is then exactly the
    receptive field."""
    net = net.double().eval()
    for mod in net.modules():
        if hasattr(mod, "act"):
            mod.act = nn.Identity()
    net.stem[2] = nn.Identity()
    return net


def _support(net: TimeResNet, dim: int, first: int, last: int, n: int) -> tuple[int, int]:
    x = torch.randn(1, 12, n, dtype=torch.float64, requires_grad=True)
    out = net(x if dim == 1 else x.unsqueeze(1))
    out[..., first:last + 1].sum().backward()
    support = np.flatnonzero(x.grad.abs().sum(dim=(0, 1)).numpy() > 0)
    return int(support.min()), int(support.max())


@pytest.mark.parametrize("dim,kind,second_kernel", [(1, "rows2d", 0), (2, "rows2d", 0), (2, "folded1d", 0),
                                                    (2, "folded1d", 1), (2, "rows2d", 1)])
def test_receptive_field_matches_gradient_support(dim, kind, second_kernel):
    """The input samples that influence latent index t are exactly the computed span, for both kinds of
    2D backbone and for the pointwise second convolution."""
    cfg = BackboneConfig(stem_channels=3, stem_kernel=5, stem_stride=2, channels=(4, 4), strides=(2, 3),
                         blocks_per_stage=1, kernel=3, second_kernel=second_kernel, kind=kind)
    net = _linearised(TimeResNet(cfg, 12 if dim == 1 else 1, dim=dim))
    n = 200
    rf = net.receptive_field()
    for t in (5, 9):
        assert _support(net, dim, t, t, n) == rf.span(t, t, n)


@pytest.mark.parametrize("name", ["demo", "paper"])
def test_morphology_windows_at_most_one_second(name):
    """Issue 15: every morphology prototype window of the demo and paper presets covers <= 1.0 s, by the
    receptive-field arithmetic, and that arithmetic agrees with the gradient support of the preset's own
    backbone over a whole window."""
    cfg = preset(name).model
    model = build_model(cfg, codes(), branch_of())
    morph = model.branch("morphology")
    lengths = [np.subtract(*morph.window_seconds(w, cfg.n_samples, cfg.fs)[::-1])
               for w in range(morph.n_windows(cfg.n_samples))]
    assert max(lengths) <= 1.0 + 1e-9
    assert max(lengths) >= 0.5          # still about a beat, not a fragment of a QRS
    net = _linearised(TimeResNet(cfg.morph_backbone, 1, dim=2))
    rf = net.receptive_field()
    first = morph.n_windows(cfg.n_samples) // 2
    lo, hi = _support(net, 2, first, first + cfg.morph_window - 1, cfg.n_samples)
    assert (lo, hi) == rf.span(first, first + cfg.morph_window - 1, cfg.n_samples)
    assert (lo / cfg.fs, (hi + 1) / cfg.fs) == morph.window_seconds(first, cfg.n_samples, cfg.fs)
    assert hi + 1 - lo <= cfg.fs * 1.0


def test_v1_demo_windows_are_longer_than_one_second():
    """The v1 design (kept as preset demo_v1) is the one issue 15 reported: windows of about 2 s."""
    cfg = preset("demo_v1").model
    morph = build_model(cfg, codes(), branch_of()).branch("morphology")
    start, end = morph.window_seconds(10, cfg.n_samples, cfg.fs)
    assert end - start > 1.9


def test_folded_kind_is_the_same_math_as_rows2d():
    """folded1d (Conv1d over leads folded into the batch) equals rows2d ((1, k) Conv2d) with the same
    weights, so the per-lead similarity terms are unchanged by the faster computation."""
    import dataclasses
    cfg = BackboneConfig(stem_channels=4, stem_kernel=7, stem_stride=4, channels=(8, 8), strides=(2, 1),
                         kernel=3, second_kernel=1)
    rows = TimeResNet(cfg, 1, dim=2).eval()
    folded = TimeResNet(dataclasses.replace(cfg, kind="folded1d"), 1, dim=2).eval()
    for mod in rows.modules():                # non-trivial batch-norm statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    folded.load_state_dict({k: v.squeeze(2) if v.ndim == 4 else v for k, v in rows.state_dict().items()},
                           strict=True)
    x = torch.randn(3, 1, 12, 400)
    with torch.no_grad():
        a, b = rows(x), folded(x)
    assert a.shape == b.shape == (3, 8, 12, rows.latent_steps(400))
    assert torch.allclose(a, b, atol=1e-5)
    # lead rows stay independent: changing lead 4 changes only latent row 4
    x2 = x.clone()
    x2[:, :, 4] += 1.0
    with torch.no_grad():
        diff = (folded(x2) - b).abs().amax(dim=(0, 1, 3))
    assert diff[4] > 0 and float(diff[torch.arange(12) != 4].max()) == 0.0


def test_old_config_without_backbone_kind_builds_the_v1_network(tmp_path):
    """A config.json written before ``kind``/``second_kernel`` existed builds the v1 network, and a v1
    state dict loads into it strictly."""
    import json
    from protoecg.training.config import config_from_dict, config_to_dict
    data = config_to_dict(preset("demo_v1"))
    for bb in ("rhythm_backbone", "morph_backbone", "diffuse_backbone"):
        del data["model"][bb]["kind"], data["model"][bb]["second_kernel"]
    cfg = config_from_dict(json.loads(json.dumps(data)))
    assert cfg.model.morph_backbone.kind == "rows2d" and cfg.model.morph_backbone.second_kernel == 0
    v1 = build_model(preset("demo_v1").model, codes(), branch_of())
    rebuilt = build_model(cfg.model, codes(), branch_of())
    rebuilt.load_state_dict(v1.state_dict(), strict=True)
    with pytest.raises(RuntimeError):           # and the new design is not silently loaded with them
        build_model(preset("demo").model, codes(), branch_of()).load_state_dict(v1.state_dict(), strict=True)


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
