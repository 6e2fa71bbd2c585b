"""The training stages as :class:`~protoecg.training.loop.StageSpec` builders.

1. ``joint``: backbones + add-ons + prototypes with every branch's last layer frozen (+1/-0.5); loss per
   branch = BCE(pos_weight) + cluster + separation + diversity + co-occurrence contrastive. (Baseline: the
   whole network with BCE.) Runs under DDP when launched by torchrun.
2. ``projection``: :func:`protoecg.projection.project_prototypes`.
3. ``last_layer``: each branch's last layer on its (frozen) similarities, BCE + L1 on off-class weights.
4. ``fusion``: Linear(all similarities, each branch standardised by its training mean/std → 71) + L1,
   warm-started as an exact copy of the branch classifiers, so its initial validation score is the
   combined branches' score and early stopping can only keep or improve it. With
   ``fusion_fit="ridge"`` the rows of the classes of ``fusion_ridge_branches`` with >= ``fusion_min_pos``
   training positives are then replaced by one L2-penalised logistic regression per class over all prototypes
   (:mod:`protoecg.training.fusion_ridge`).

Stages 3-4 train on similarities computed once with the frozen network (identical on every rank, so they
need no communication).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .. import losses as L
from ..evaluation import macro_auroc, per_class_auroc
from ..model.inference import run_model
from ..model.network import ProtoECGNet
from ..config import RunConfig
from ..model.config import BRANCHES
from .fusion_ridge import ridge_fusion
from .loop import StageSpec, freeze_all_but
from .warmup import BackboneTap, JointCalibration, augment

log = logging.getLogger(__name__)


@dataclass
class SplitArrays:
    """Training and validation arrays (signals (N, 12, T) float32, labels (N, 71) uint8)."""

    x_train: np.ndarray
    y_train: np.ndarray
    ids_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray


def joint_params(model: nn.Module, with_last_layer: bool = False,
                 with_prototypes: bool = True) -> list[nn.Parameter]:
    """Parameters trained in the joint stage: everything for the baseline; backbones, add-ons and
    prototypes (plus the branch last layers when ``with_last_layer``; never the fusion) for the prototype
    network."""
    if not isinstance(model, ProtoECGNet):
        return list(model.parameters())
    params = [p for b in BRANCHES for p in model.branch(b).latent_parameters()
              if with_prototypes or p is not model.branch(b).prototypes]
    if with_last_layer:
        params += [model.branch(b).last_layer.weight for b in BRANCHES]
    return params


def _val_score(model: nn.Module, data: SplitArrays, key: str, batch: int) -> float:
    out = run_model(model, data.x_val, batch_size=batch, keys=(key,))
    return macro_auroc(data.y_val, out[key])


def joint_stage(model: nn.Module, forward: nn.Module, data: SplitArrays, cfg: RunConfig,
                aux_head: nn.Module | None = None,
                prototypes_fn: Callable[[], dict[str, torch.Tensor]] | None = None) -> StageSpec:
    """``forward`` is the module to call (the DDP wrapper under torchrun, else ``model`` itself).
    ``prototypes_fn`` (the ``tied`` stage) gives the prototypes to use at each step instead of the learned
    parameters."""
    tc, lc = cfg.train, cfg.loss
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train.astype(np.float32))
    pw = L.pos_weight(data.y_train, lc.max_pos_weight)
    if not isinstance(model, ProtoECGNet):
        params = joint_params(model)
        freeze_all_but(model, params)

        gen_b = torch.Generator().manual_seed(tc.seed + 29)

        def baseline_loss(idx: np.ndarray) -> torch.Tensor:
            xb = augment(x[idx], gen_b) if tc.augment else x[idx]
            return L.bce(forward(xb)["logits"], y[idx], pw)

        return StageSpec("joint", tc.joint_epochs, tc.lr, tc.weight_decay, tc.patience, tc.batch_size,
                         len(x), params, baseline_loss,
                         lambda: _val_score(model, data, "logits", tc.eval_batch_size), model.train,
                         min_epochs=tc.min_epochs, smooth=tc.smooth)

    # tied: the prototypes follow their sources, not the optimiser
    params = joint_params(model, tc.joint_last_layer, with_prototypes=prototypes_fn is None)
    freeze_all_but(model, params)
    calib = JointCalibration(model, data.x_train, tc.eval_batch_size) if tc.joint_calibration else None
    if calib is not None:
        params = params + list(calib.parameters())
    gen = torch.Generator().manual_seed(tc.seed + 29)
    tap = BackboneTap(model) if aux_head is not None and tc.aux_head > 0 else None
    if tap is not None:
        params = params + list(aux_head.parameters())
    masks = {b: L.off_class_mask(model.branch(b).proto_class, model.branch(b).n_classes) for b in BRANCHES}
    cidx = {b: model.class_index(b) for b in BRANCHES}
    # Classes without a positive training ECG carry no evidence: their BCE term would only push their
    # logits (and, through the fixed last layer, every similarity of the branch) down, which collapses a
    # branch whose training data lack most of its classes. They are left out of the joint-stage BCE.
    present = {b: torch.from_numpy(data.y_train[:, cidx[b].numpy()].any(axis=0)) for b in BRANCHES}
    jac = {b: torch.tensor(L.jaccard_matrix(data.y_train[:, cidx[b].numpy()]), dtype=torch.float32)
           for b in BRANCHES}

    def joint_loss(idx: np.ndarray) -> torch.Tensor:
        protos = prototypes_fn() if prototypes_fn is not None else {}
        xb = augment(x[idx], gen) if tc.augment else x[idx]
        out = forward(xb, prototypes=protos) if protos else forward(xb)
        total = x.new_zeros(())
        if tap is not None:
            total = total + tc.aux_head * L.bce(aux_head.linear(tap.features()), y[idx], pw)
        for b in BRANCHES:
            br = model.branch(b)
            yb = y[idx][:, cidx[b]]
            sims = out["sims"][b]
            keep = present[b]
            if keep.any():
                logits = out["branch_logits"][b]
                if calib is not None:
                    logits = calib(b, logits)
                total = total + L.bce(logits[:, keep], yb[:, keep], pw[cidx[b]][keep])
            total = total + lc.cluster * L.cluster_loss(sims, yb, br.proto_class)
            total = total + lc.separation * L.separation_loss(sims, yb, br.proto_class)
            pb = protos.get(b, br.prototypes)
            if lc.diversity:
                total = total + lc.diversity * L.diversity_loss(pb, br.proto_class)
            if lc.contrastive:
                total = total + lc.contrastive * L.contrastive_loss(pb, br.proto_class, jac[b])
            if tc.joint_last_layer:
                total = total + lc.l1 * L.l1_loss(br.last_layer.weight, masks[b])
        return total

    spec = StageSpec("joint", tc.joint_epochs, tc.lr, tc.weight_decay, tc.patience, tc.batch_size, len(x),
                     params, joint_loss,
                     lambda: _val_score(model, data, "combined_logits", tc.eval_batch_size), model.train,
                     min_epochs=tc.min_epochs, smooth=tc.smooth)
    if calib is not None:
        spec.extra_modules["joint_calibration"] = calib
    if tap is not None:
        spec.extra_modules["warmup_head"] = aux_head
    return spec


def branch_sims(model: ProtoECGNet, x: np.ndarray, batch: int) -> dict[str, torch.Tensor]:
    """Pooled similarities {branch: (N, P_b)} of the frozen network."""
    out = run_model(model, x, batch_size=batch, keys=("sims",))
    return {b: torch.from_numpy(out["sims"][b]) for b in BRANCHES}


def last_layer_stage(model: ProtoECGNet, data: SplitArrays, cfg: RunConfig) -> StageSpec:
    tc, lc = cfg.train, cfg.loss
    s_tr, s_va = branch_sims(model, data.x_train, tc.eval_batch_size), branch_sims(model, data.x_val,
                                                                                     tc.eval_batch_size)
    y = torch.from_numpy(data.y_train.astype(np.float32))
    pw = L.pos_weight(data.y_train, lc.max_pos_weight)
    cidx = {b: model.class_index(b) for b in BRANCHES}
    masks = {b: L.off_class_mask(model.branch(b).proto_class, model.branch(b).n_classes) for b in BRANCHES}
    params = [model.branch(b).last_layer.weight for b in BRANCHES]
    freeze_all_but(model, params)

    def loss(idx: np.ndarray) -> torch.Tensor:
        total = torch.zeros(())
        for b in BRANCHES:
            layer = model.branch(b).last_layer
            total = total + L.bce(layer(s_tr[b][idx]), y[idx][:, cidx[b]], pw[cidx[b]])
            total = total + lc.l1 * L.l1_loss(layer.weight, masks[b])
        return total

    snapshots: list[tuple[dict[str, torch.Tensor], np.ndarray]] = []

    @torch.no_grad()
    def score() -> float:
        logits = np.zeros(data.y_val.shape, dtype=np.float32)
        for b in BRANCHES:
            logits[:, cidx[b].numpy()] = model.branch(b).last_layer(s_va[b]).numpy()
        if tc.last_layer_class_stop:
            snapshots.append(({b: model.branch(b).last_layer.weight.clone() for b in BRANCHES},
                              per_class_auroc(data.y_val, logits)))
        return macro_auroc(data.y_val, logits)

    spec = StageSpec("last_layer", tc.last_layer_epochs, tc.last_layer_lr, 0.0, tc.patience,
                     tc.batch_size * 4, len(y), params, loss, score, score_initial=True)
    if tc.last_layer_class_stop:
        spec.finish = lambda: _per_class_last_layers(model, snapshots, data.y_val, tc.last_layer_class_stop)
    return spec


def _epoch_per_class(aucs: list[np.ndarray], y_val: np.ndarray, min_pos: int) -> dict[int, int]:
    """{class index: epoch of its best validation AUROC} for the classes with >= ``min_pos`` validation
    positives (and a negative); the others are left out (too noisy to choose on)."""
    n_pos = np.asarray(y_val).sum(axis=0)
    if len(aucs) < 2:
        return {}
    auc = np.stack(aucs)                                          # (epochs + 1, C)
    out = {}
    for c in np.flatnonzero((n_pos >= min_pos) & (n_pos < len(y_val))):
        out[int(c)] = int(np.argmax(np.where(np.isfinite(auc[:, c]), auc[:, c], -np.inf)))
    return out


@torch.no_grad()
def _per_class_last_layers(model: ProtoECGNet, snapshots: list[tuple[dict[str, torch.Tensor], np.ndarray]],
                           y_val: np.ndarray, min_pos: int) -> None:
    """Each branch last layer's row of a class with >= ``min_pos`` validation positives from that class's
    own best epoch (epoch 0 = the +1/off-class initialisation): rows are independent logistic regressions
    on the branch's similarities, as in :func:`_per_class_fusion`."""
    chosen = {}
    for c, e in _epoch_per_class([s[1] for s in snapshots], y_val, min_pos).items():
        b = model.branch_of[model.codes[c]]
        local = int((model.class_index(b) == c).nonzero()[0, 0])
        model.branch(b).last_layer.weight[local] = snapshots[e][0][b][local]
        chosen[model.codes[c]] = e
    log.info("branch last-layer rows stopped per class (epoch; 0 = initialisation): %s", chosen)


def fusion_stage(model: ProtoECGNet, data: SplitArrays, cfg: RunConfig) -> StageSpec:
    tc, lc = cfg.train, cfg.loss
    s_tr, s_va = branch_sims(model, data.x_train, tc.eval_batch_size), branch_sims(model, data.x_val,
                                                                                     tc.eval_batch_size)
    mean = torch.stack([s_tr[b].mean() for b in BRANCHES])
    std = torch.stack([s_tr[b].std().clamp_min(1e-6) for b in BRANCHES])
    model.init_fusion(mean, std)
    with torch.no_grad():
        f_tr, f_va = model.normalised_sims(s_tr), model.normalised_sims(s_va)
    y = torch.from_numpy(data.y_train.astype(np.float32))
    pw = L.pos_weight(data.y_train, lc.max_pos_weight)
    params = [model.fusion.weight, model.fusion.bias]
    freeze_all_but(model, params)

    def loss(idx: np.ndarray) -> torch.Tensor:
        return L.bce(model.fusion(f_tr[idx]), y[idx], pw) + lc.l1 * L.l1_loss(model.fusion.weight)

    snapshots: list[tuple[torch.Tensor, torch.Tensor, np.ndarray]] = []

    @torch.no_grad()
    def score() -> float:
        logits = model.fusion(f_va).numpy()
        if tc.fusion_class_stop:
            snapshots.append((model.fusion.weight.clone(), model.fusion.bias.clone(),
                              per_class_auroc(data.y_val, logits)))
        return macro_auroc(data.y_val, logits)

    spec = StageSpec("fusion", tc.fusion_epochs, tc.fusion_lr, 0.0, tc.patience, tc.batch_size * 4, len(y),
                     params, loss, score, score_initial=True)
    if tc.fusion_class_stop:
        spec.finish = lambda: _per_class_fusion(model, snapshots, data.y_val, tc.fusion_class_stop)
    if tc.fusion_fit == "ridge":
        # the epoch-wise rows stay for the other classes; those of fusion_ridge_branches with enough
        # training positives get their ridge regression over all prototypes
        first = spec.finish

        def finish() -> None:
            if first is not None:
                first()
            ridge_fusion(model, s_tr, data.y_train, tc.fusion_l2, tc.fusion_min_pos,
                         tuple(tc.fusion_ridge_branches))
        spec.finish = finish
    return spec


@torch.no_grad()
def _per_class_fusion(model: ProtoECGNet, snapshots: list[tuple[torch.Tensor, torch.Tensor, np.ndarray]],
                      y_val: np.ndarray, min_pos: int) -> None:
    """Give each class with >= ``min_pos`` validation positives the fusion row of its own best epoch.

    The rows of the fusion layer do not interact (the loss is a sum over classes and the L1 term is
    separable), so each is its own model and may stop at its own epoch; one macro-AUROC epoch for all 71
    lets the many rare classes decide when a common one (NORM) stops. Rarer classes keep the restored
    (best macro AUROC) epoch: their validation AUROC is too noisy to choose on. A resumed stage chooses
    among the epochs it ran after resuming."""
    chosen = {}
    for c, e in _epoch_per_class([s[2] for s in snapshots], y_val, min_pos).items():
        model.fusion.weight[c] = snapshots[e][0][c]
        model.fusion.bias[c] = snapshots[e][1][c]
        chosen[model.codes[c]] = e
    log.info("fusion rows stopped per class (epoch; 0 = branch classifier): %s", chosen)
