"""Captum attributions of the tiny trained bundle: shapes, IG completeness, Occlusion semantics, and the
model-randomisation sanity check (attributions must depend on the learned weights)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from protoecg.explain import ExplainError
from protoecg.explain.attributions import AttributionConfig, attribute, randomized_copy, rank_similarity

from .explain_support import synthetic_ptbxl, tiny_bundle_path

CFG = AttributionConfig(ig_steps=16, occlusion_s=0.5)


@pytest.fixture(scope="module")
def setup():
    from protoecg.bundle import load_bundle
    torch.set_num_threads(2)
    b = load_bundle(tiny_bundle_path())
    data = synthetic_ptbxl()
    x = data.signals[int(np.flatnonzero(data.labels[:, b.codes.index("CLBBB")])[0])]
    return b, np.array(x)


def _logit(model, x, j):
    with torch.no_grad():
        return float(model(torch.from_numpy(x[None]))["logits"][0, j])


def test_integrated_gradients_completeness_and_reported_delta(setup):
    b, x = setup
    j = b.codes.index("CLBBB")
    res = attribute(b.model, x, j, "CLBBB", "integrated_gradients", b.fs, CFG)
    assert res.attributions.shape == (12, b.n_samples) and np.isfinite(res.attributions).all()
    assert "0 mV" in res.baseline and res.convergence_delta is not None
    gap = _logit(b.model, x, j) - _logit(b.model, np.zeros_like(x), j)
    # Completeness: attributions sum to f(x) - f(baseline), up to the reported delta
    assert res.attributions.sum() == pytest.approx(gap, abs=res.convergence_delta + 1e-4)


def test_occlusion_patch_equals_the_logit_drop(setup):
    b, x = setup
    j = b.codes.index("CLBBB")
    res = attribute(b.model, x, j, "CLBBB", "occlusion", b.fs, CFG)
    w = int(CFG.occlusion_s * b.fs)
    lead, k = 7, 3                                   # V2, the 4th 0.5 s patch
    occluded = x.copy()
    occluded[lead, k * w:(k + 1) * w] = 0.0
    drop = _logit(b.model, x, j) - _logit(b.model, occluded, j)
    assert res.attributions[lead, k * w] == pytest.approx(drop, rel=1e-3, abs=1e-5)
    assert np.allclose(res.attributions[lead, k * w:(k + 1) * w], res.attributions[lead, k * w])


def test_grad_cam_keeps_the_lead_axis(setup):
    b, x = setup
    res = attribute(b.model, x, b.codes.index("CLBBB"), "CLBBB", "grad_cam", b.fs, CFG)
    assert res.attributions.shape == (12, b.n_samples)
    assert "morphology" in res.baseline
    assert np.abs(res.attributions).sum() > 0
    assert not np.allclose(res.attributions[0], res.attributions[6])     # leads differ
    with pytest.raises(ExplainError):
        attribute(b.model, x, 0, "X", "saliency_of_my_dreams", b.fs, CFG)


@pytest.mark.parametrize("method", ["integrated_gradients", "grad_cam"])
def test_randomised_weights_change_the_attributions(setup, method):
    """Adebayo et al. (2018): a faithful method must give different maps once the weights are random."""
    b, x = setup
    j = b.codes.index("CLBBB")
    trained = attribute(b.model, x, j, "CLBBB", method, b.fs, CFG).attributions
    again = attribute(b.model, x, j, "CLBBB", method, b.fs, CFG).attributions
    rnd_model = randomized_copy(b.model)
    assert not torch.equal(next(rnd_model.parameters()), next(b.model.parameters()))
    rnd = attribute(rnd_model, x, j, "CLBBB", method, b.fs, CFG).attributions
    assert rank_similarity(trained, again) > 0.99                    # deterministic
    assert rank_similarity(trained, rnd) < 0.5                       # clearly different
    a, r = trained.ravel(), rnd.ravel()
    assert np.abs(a / np.abs(a).sum() - r / np.abs(r).sum()).sum() > 0.5
