"""The fusion layer fitted as ridge-penalised logistic regressions over every prototype's similarity.

Why: the epoch-wise fusion stage starts from the branch classifiers and early-stops on the validation
fold. On data where each branch alone already separates its classes (generated ECGs: validation AUROC
~0.99) it stops at epoch 0, so NORM - a statement about the absence of findings that all three branches
see - is scored from the six diffuse prototypes alone and transfers badly to real ECGs (NORM AUROC
0.71-0.79 on the real PTB-XL 300 for a model trained on generated ECGs only). Trained longer it overfits
the generator (0.62-0.77). A strongly L2-penalised logistic regression per class over all prototypes,
each similarity standardised by its own training mean and spread, uses the evidence of every branch
without fitting the generator's quirks (README "Learning real ECGs": measured on two trained models).

The fit is one convex problem per class, solved jointly by full-batch L-BFGS (classes are separable, so
this equals independent fits). The result is written into the model's ordinary fusion layer (weights and
bias re-expressed for its per-branch standardisation), so bundles keep their format and explanations their
meaning: a class's fused logit is still a weighted sum of prototype similarities.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from ..model.config import BRANCHES
from ..model.network import ProtoECGNet

log = logging.getLogger(__name__)


def fit_ridge_logistic(z: torch.Tensor, y: torch.Tensor, l2: float, max_iter: int = 500,
                       tol: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Weights (C, P) and biases (C,) minimising, per class, mean BCE + l2/2 * ||w||^2 (bias free).

    ``z``: (N, P) standardised features; ``y``: (N, C) in {0, 1}. Returns the fit and whether L-BFGS
    converged (largest absolute gradient entry of the objective <= 100 * ``tol``)."""
    if l2 <= 0:
        raise ValueError(f"the ridge fusion needs a positive L2 penalty, not {l2}")
    n, p = z.shape
    c = y.shape[1]
    prev = y.mean(0).clamp(1e-4, 1 - 1e-4)
    w = torch.zeros(c, p, dtype=torch.float64, requires_grad=True)
    b = torch.log(prev / (1 - prev)).double().clone().requires_grad_(True)
    zd, yd = z.double(), y.double()
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        opt.zero_grad()
        logits = zd @ w.T + b
        loss = F.binary_cross_entropy_with_logits(logits, yd, reduction="sum") / n + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(objective)
    objective()
    grad = max(float(w.grad.abs().max()), float(b.grad.abs().max()))
    converged = grad <= tol * 100
    if not converged:
        log.warning("ridge fusion: L-BFGS stopped with gradient %.2e after %d iterations", grad, max_iter)
    return w.detach().float(), b.detach().float(), converged


@torch.no_grad()
def ridge_fusion(model: ProtoECGNet, sims_train: dict[str, torch.Tensor], y_train: np.ndarray, l2: float,
                 min_pos: int = 5, branches: tuple[str, ...] = BRANCHES) -> dict:
    """Refit the fusion rows of the classes of ``branches`` with >= ``min_pos`` training positives (and a
    negative).

    The model's fusion standardisation must already be set (:meth:`ProtoECGNet.init_fusion`); the other
    classes keep whatever row the layer holds (in training: the epoch-wise fusion's). Returns the refit
    codes, whether L-BFGS converged and the penalty (also logged)."""
    feats = torch.cat([sims_train[b] for b in BRANCHES], dim=1).float()
    mu = feats.mean(0)
    sd = feats.std(0).clamp_min(1e-6)
    z = (feats - mu) / sd
    y = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
    n_pos = y.sum(0)
    in_branch = torch.tensor([model.branch_of[c] in branches for c in model.codes])
    rows = torch.nonzero((n_pos >= min_pos) & (n_pos < len(y)) & in_branch).flatten()
    if len(rows) == 0:
        log.info("ridge fusion: no class of %s with >= %d training positives; fusion rows left as they were",
                 ", ".join(branches), min_pos)
        return {"rows": [], "converged": True, "l2": l2}
    with torch.enable_grad():
        w, b, ok = fit_ridge_logistic(z, y[:, rows], l2)
    # Re-express for the layer's input f = (s - m_branch) / sd_branch: z = (f * sd_branch + m_branch - mu) / sd.
    m_b = torch.cat([model.fusion_mean[i].expand(sims_train[br].shape[1]) for i, br in enumerate(BRANCHES)])
    s_b = torch.cat([model.fusion_std[i].expand(sims_train[br].shape[1]) for i, br in enumerate(BRANCHES)])
    model.fusion.weight[rows] = w * (s_b / sd)
    model.fusion.bias[rows] = b + (w * ((m_b - mu) / sd)).sum(1)
    codes = [model.codes[int(r)] for r in rows]
    log.info("ridge fusion (l2 %.3g) refit %d classes with >= %d training positives; converged: %s",
             l2, len(codes), min_pos, ok)
    return {"rows": codes, "converged": bool(ok), "l2": l2}
