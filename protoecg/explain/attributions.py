"""Captum attributions of one label's fused logit: Integrated Gradients, Occlusion, Grad-CAM.

* Integrated Gradients: baseline = the all-zero (isoelectric, 0 mV) ECG, which after the 0.5 Hz
  high-pass is the flat line; the completeness gap (Captum's convergence delta) is reported.
* Occlusion: (1 lead × ``occlusion_s``) patches replaced by 0 mV, stride = patch size.
* Grad-CAM: on the morphology branch's backbone output (N, C, 12 leads, T' steps), which keeps the lead
  axis, for morphology labels; diffuse and rhythm labels use their own branch's feature map. The
  (12, T') map is interpolated linearly along time to the input length.

Each returns a (12, T) numpy map. Logits, not probabilities, are attributed, one label at a time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .errors import ExplainError
from .types import AttributionResult

METHODS = ("integrated_gradients", "occlusion", "grad_cam")


@dataclass(frozen=True)
class AttributionConfig:
    ig_steps: int = 32
    ig_internal_batch: int = 32
    occlusion_s: float = 0.2
    occlusion_batch: int = 64


class _LabelLogit(nn.Module):
    """Wraps the network so its forward returns the (N,) logit of one label."""

    def __init__(self, model: nn.Module, index: int) -> None:
        super().__init__()
        self.model = model
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        logits = out["logits"] if isinstance(out, dict) else out
        return logits[:, self.index]


def _as_batch(signal: np.ndarray) -> torch.Tensor:
    x = np.asarray(signal, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] != 12:
        raise ExplainError(f"attributions need a (12, T) signal, got shape {x.shape}")
    return torch.from_numpy(np.ascontiguousarray(x))[None]


def _feature_layer(model: nn.Module, branch: str) -> nn.Module:
    try:
        return model.branches[branch].backbone   # type: ignore[index, union-attr]
    except (AttributeError, KeyError) as exc:
        raise ExplainError(f"Grad-CAM needs a prototype network with a {branch} branch") from exc


def _label_branch(model: nn.Module, label_index: int) -> str:
    codes, branch_of = getattr(model, "codes", None), getattr(model, "branch_of", None)
    if codes is None or branch_of is None:
        return "morphology"
    return branch_of.get(codes[label_index], "morphology")


def attribute(model: nn.Module, signal: np.ndarray, label_index: int, label: str, method: str, fs: float,
              cfg: AttributionConfig = AttributionConfig()) -> AttributionResult:
    """Attribute ``label``'s logit on a (12, T) model input with one Captum method."""
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

    if method not in METHODS:
        raise ExplainError(f"unknown attribution method {method!r}; choose one of {METHODS}")
    t0 = time.perf_counter()
    x = _as_batch(signal)
    f = _LabelLogit(model, label_index)
    was_training = model.training
    model.eval()
    delta: float | None = None
    try:
        if method == "integrated_gradients":
            base = torch.zeros_like(x)
            attr, d = IntegratedGradients(f).attribute(x, baselines=base, n_steps=cfg.ig_steps,
                                                       internal_batch_size=cfg.ig_internal_batch,
                                                       return_convergence_delta=True)
            delta = float(d.abs().max())
            baseline = "all-zero ECG (0 mV isoelectric line)"
            out = attr[0]
        elif method == "occlusion":
            w = max(1, int(round(cfg.occlusion_s * fs)))
            with torch.no_grad():
                out = Occlusion(f).attribute(x, sliding_window_shapes=(1, w), strides=(1, w), baselines=0.0,
                                            perturbations_per_eval=cfg.occlusion_batch)[0]
            baseline = f"patch of 1 lead x {w / fs * 1000:.0f} ms set to 0 mV"
        else:
            # The lead-resolved morphology map, or the label's own branch map when the label belongs to
            # another branch (a diffuse label's logit has no path through the morphology features once
            # fusion weights are sparse; rhythm maps have no lead axis and are broadcast to every lead).
            branch = _label_branch(model, label_index)
            branch = branch if branch in ("morphology", "diffuse", "rhythm") else "morphology"
            cam = LayerGradCam(f, _feature_layer(model, branch)).attribute(x, relu_attributions=False)
            if cam.dim() == 3:                                   # rhythm: (1, 1, T')
                cam = cam.unsqueeze(2).expand(-1, -1, 12, -1)
            out = LayerAttribution.interpolate(cam, (12, x.shape[-1]), interpolate_mode="bilinear")[0, 0]
            baseline = f"none (gradient-weighted {branch} feature map)"
    finally:
        model.train(was_training)
    return AttributionResult(label=label, method=method, attributions=out.detach().cpu().numpy().astype(np.float32),
                             baseline=baseline, convergence_delta=delta, seconds=time.perf_counter() - t0)


def rank_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of |a| and |b| (flattened): the sanity-check statistic."""
    from scipy.stats import spearmanr

    x, y = np.abs(np.asarray(a)).ravel(), np.abs(np.asarray(b)).ravel()
    if np.ptp(x) == 0 or np.ptp(y) == 0:   # a constant map carries no ranking at all
        return 0.0
    r = spearmanr(x, y).statistic
    return float(r) if np.isfinite(r) else 0.0


def randomized_copy(model: nn.Module, seed: int = 12345) -> nn.Module:
    """A deep copy with every layer re-initialised (the model-randomisation sanity check of Adebayo et
    al. 2018): each module's ``reset_parameters`` under a fixed seed, prototypes re-drawn uniformly as at
    construction. Batch-norm running statistics are reset too."""
    import copy

    m = copy.deepcopy(model)
    torch.manual_seed(seed)
    with torch.no_grad():
        for mod in m.modules():
            if hasattr(mod, "reset_running_stats"):
                mod.reset_running_stats()
            if hasattr(mod, "reset_parameters"):
                mod.reset_parameters()
        for name, p in m.named_parameters():
            if name.endswith("prototypes"):
                p.copy_(torch.rand_like(p))
    return m.eval()
