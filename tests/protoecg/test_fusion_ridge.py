"""The ridge fusion: the right optimum, written into the fusion layer without changing what it computes,
and a full training run that uses it."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from data_access.ptbxl import branch_of
from protoecg.bundle import load_bundle
from protoecg.model import build_model
from protoecg.model.config import BRANCHES
from protoecg.training.config import ConfigError, preset
from protoecg.training.fusion_ridge import fit_ridge_logistic, ridge_fusion
from protoecg.training.toydata import make_toy_ptbxl
from protoecg.training.trainer import train


def _objective(theta: np.ndarray, z: np.ndarray, y: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    w, b = theta[:-1], theta[-1]
    eta = z @ w + b
    loss = np.mean(np.logaddexp(0, eta) - y * eta) + 0.5 * l2 * w @ w
    r = 1 / (1 + np.exp(-eta)) - y
    return loss, np.concatenate([z.T @ r / len(y) + l2 * w, [r.mean()]])


def test_ridge_logistic_reaches_the_penalised_optimum_of_each_class():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(300, 12))
    y = np.stack([(z[:, 0] + rng.normal(size=300) > 0.8), (z[:, 1] - z[:, 2] + rng.normal(size=300) > 0)],
                 axis=1).astype(float)
    w, b, ok = fit_ridge_logistic(torch.from_numpy(z).float(), torch.from_numpy(y).float(), l2=0.1)
    assert ok
    for c in range(2):                    # each class on its own, by SciPy on the same objective
        ref = minimize(_objective, np.zeros(13), args=(z, y[:, c], 0.1), jac=True, method="L-BFGS-B",
                       options={"gtol": 1e-10, "maxiter": 1000}).x
        np.testing.assert_allclose(w[c].numpy(), ref[:-1], atol=2e-4)
        assert abs(float(b[c]) - ref[-1]) < 2e-4
    # a stronger penalty shrinks the weights
    w_strong, _, _ = fit_ridge_logistic(torch.from_numpy(z).float(), torch.from_numpy(y).float(), l2=10.0)
    assert float(w_strong.norm()) < 0.5 * float(w.norm())
    with pytest.raises(ValueError, match="positive L2"):
        fit_ridge_logistic(torch.from_numpy(z).float(), torch.from_numpy(y).float(), l2=0.0)


def test_ridge_fusion_rows_compute_the_fitted_regression_and_rare_classes_keep_their_branch_row():
    codes = tuple(make_toy_ptbxl(4, seed=0).codes)
    model = build_model(preset("tiny").model, codes, branch_of())
    rng = np.random.default_rng(1)
    n = 200
    sims = {b: torch.from_numpy(rng.uniform(-0.5, 1.0, (n, model.branch(b).n_prototypes))).float()
            for b in BRANCHES}
    model.init_fusion(torch.stack([sims[b].mean() for b in BRANCHES]),
                      torch.stack([sims[b].std() for b in BRANCHES]))
    w0, b0 = model.fusion.weight.detach().clone(), model.fusion.bias.detach().clone()
    y = np.zeros((n, len(codes)), dtype=np.uint8)
    feats = torch.cat([sims[b] for b in BRANCHES], 1)
    y[:, 0] = (feats[:, 0] + feats[:, -1] > 0.5).numpy()     # uses a rhythm and a diffuse prototype
    y[:3, 1] = 1                                              # 3 positives: below min_pos
    summary = ridge_fusion(model, sims, y, l2=0.05, min_pos=5)
    assert summary["rows"] == [codes[0]] and summary["converged"]
    z = (feats - feats.mean(0)) / feats.std(0)
    w, b, _ = fit_ridge_logistic(z, torch.from_numpy(y[:, :1].astype(np.float32)), 0.05)
    with torch.no_grad():
        fused = model.fusion(model.normalised_sims(sims))
    torch.testing.assert_close(fused[:, 0], (z @ w.T + b)[:, 0], atol=1e-4, rtol=1e-4)
    assert torch.equal(model.fusion.weight[1:], w0[1:]) and torch.equal(model.fusion.bias[1:], b0[1:])
    # the fitted row draws on more than one branch (the point of fusing)
    per_branch = torch.split(model.fusion.weight[0].detach().abs(), [model.branch(b).n_prototypes for b in BRANCHES])
    assert sum(float(p.sum()) > 1e-3 for p in per_branch) >= 2


def test_training_with_ridge_fusion_writes_a_bundle_that_predicts(tmp_path):
    toy = make_toy_ptbxl(100, seed=3)
    cfg = preset("tiny")
    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, fusion_fit="ridge", fusion_min_pos=3))
    out = train(toy, cfg, tmp_path / "run", progress=False, n_boot=0)
    state = json.loads((out / "state.json").read_text())
    assert state["completed"][-1] == "fusion"
    b = load_bundle(out)
    assert b.config.train.fusion_fit == "ridge"
    pred = b.predict(toy.signals[:8], with_leads=False)
    assert pred.logits.shape == (8, len(toy.codes)) and np.isfinite(pred.logits).all()


def test_unknown_fusion_fit_is_a_clear_error():
    with pytest.raises(ConfigError, match="fusion_fit"):
        dataclasses.replace(preset("tiny").train, fusion_fit="magic")
    with pytest.raises(ConfigError, match="fusion_l2"):
        dataclasses.replace(preset("tiny").train, fusion_fit="ridge", fusion_l2=0.0)
    with pytest.raises(ConfigError, match="unknown branch"):
        dataclasses.replace(preset("tiny").train, fusion_ridge_branches=("morphologie",))


def test_ridge_fusion_leaves_the_classes_of_other_branches_alone():
    codes = tuple(make_toy_ptbxl(4, seed=0).codes)
    model = build_model(preset("tiny").model, codes, branch_of())
    rng = np.random.default_rng(2)
    sims = {b: torch.from_numpy(rng.uniform(-0.5, 1.0, (120, model.branch(b).n_prototypes))).float()
            for b in BRANCHES}
    y = (rng.random((120, len(codes))) < 0.3).astype(np.uint8)
    w0 = model.fusion.weight.detach().clone()
    summary = ridge_fusion(model, sims, y, l2=0.1, min_pos=5, branches=("morphology", "diffuse"))
    changed = [c for i, c in enumerate(codes) if not torch.equal(model.fusion.weight[i], w0[i])]
    assert changed and set(changed) == set(summary["rows"])
    assert all(model.branch_of[c] in ("morphology", "diffuse") for c in changed)
    assert any(model.branch_of[c] == "rhythm" for c in codes)      # there were rhythm classes to skip
