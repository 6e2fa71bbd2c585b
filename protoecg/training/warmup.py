"""The small-data recipe's additions to the reference training: warm-up, prototypes started on data,
a calibrated joint-stage BCE and signal augmentation.

Why (measured on the real PTB-XL 300, see README "Learning real ECGs"): with the reference recipe the
joint stage scores each class by ``last_layer(sims)`` with a fixed +1 / 0 last layer and no bias. Cosines
of non-negative (sigmoid) latents lie in [0, 1], so every logit sits in [0, 2] and every class is
predicted with probability >= 0.5: the BCE cannot be lowered by ranking ECGs, only by pushing *all*
similarities down, which is what the (pos-weighted) gradient did. Prototypes initialised uniformly at
random in the latent cube start far from any ECG, and the backbone has learned nothing yet when the
prototype terms switch on. The recipe therefore

1. **warms up** the backbones with the baseline's own head (all three backbones' pooled features -> 71
   codes, BCE only), so the features separate the classes before prototypes exist; the head then stays
   on as an auxiliary loss in the joint stage (``TrainConfig.aux_head``) and is discarded afterwards — the
   bundle's model has no black-box head;
2. **starts every prototype on data**: the latent (window) of a random training ECG of its class;
3. trains the joint stage through a **per-class affine calibration** ``s_c * (logit_c - m_c)`` (learned,
   training-only: the branch last layers and the fusion are fitted afterwards as before, so the final
   model is unchanged in form);
4. **augments** small data: random circular time shift, small amplitude and per-lead gain changes (±5 %:
   voltage criteria such as LVH and low voltage are labels) and noise.
"""
from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from .. import losses as L
from ..evaluation import macro_auroc
from ..model.network import ProtoECGNet
from ..config import RunConfig
from ..model.config import BRANCHES
from .loop import StageSpec, freeze_all_but

log = logging.getLogger(__name__)


def augment(x: torch.Tensor, gen: torch.Generator, shift_frac: float = 0.5, scale: float = 0.05,
            lead_gain: float = 0.05, noise_mv: float = 0.01) -> torch.Tensor:
    """Label-preserving perturbations of a batch (N, 12, T): circular shift by up to ``shift_frac`` of the
    record (10 s records hold ~10 beats, so a shift keeps rhythm and morphology), global amplitude x
    U(1-scale, 1+scale), per-lead gain x U(1-lead_gain, 1+lead_gain), Gaussian noise of ``noise_mv``."""
    n, leads, t = x.shape
    max_shift = int(t * shift_frac)
    if max_shift > 0:
        shifts = torch.randint(-max_shift, max_shift + 1, (n,), generator=gen)
        idx = (torch.arange(t).unsqueeze(0) - shifts.unsqueeze(1)) % t
        x = x.gather(2, idx.unsqueeze(1).expand(n, leads, t))
    g = 1 + scale * (2 * torch.rand(n, 1, 1, generator=gen) - 1)
    g = g * (1 + lead_gain * (2 * torch.rand(n, leads, 1, generator=gen) - 1))
    return x * g + noise_mv * torch.randn(x.shape, generator=gen)


def pool_backbone_outputs(outputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N, F): each branch's backbone output average-pooled over time (and leads), concatenated in branch
    order: the features of the ``--arch baseline`` head."""
    return torch.cat([outputs[b].mean(dim=tuple(range(2, outputs[b].dim()))) for b in BRANCHES], dim=1)


def backbone_features(model: ProtoECGNet, x: torch.Tensor) -> torch.Tensor:
    """:func:`pool_backbone_outputs` of a backbone-only pass (the warm-up, before prototypes matter)."""
    outs = {}
    for b in BRANCHES:
        br = model.branch(b)
        outs[b] = br.backbone(x) if br.kind == "global" else br.backbone(x.unsqueeze(1))
    return pool_backbone_outputs(outs)


class WarmupHead(nn.Module):
    """A linear head from :func:`backbone_features` to all codes (training-only; never in the bundle's
    model). It is the baseline's head, so the warm-up trains the backbones exactly as ``--arch baseline``
    does; in the joint stage it stays on as an auxiliary BCE that keeps the backbones' features useful."""

    def __init__(self, model: ProtoECGNet) -> None:
        super().__init__()
        width = sum(model.branch(b).backbone.out_channels for b in BRANCHES)
        self.linear = nn.Linear(width, len(model.codes))

    def forward(self, model: ProtoECGNet, x: torch.Tensor) -> torch.Tensor:
        return self.linear(backbone_features(model, x))


def head_path(ckpt_dir) -> "Path":
    from pathlib import Path

    return Path(ckpt_dir) / "warmup_head.pt"


def load_head(model: ProtoECGNet, ckpt_dir) -> "WarmupHead | None":
    p = head_path(ckpt_dir)
    if not p.exists():
        return None
    head = WarmupHead(model)
    head.load_state_dict(torch.load(p, map_location="cpu", weights_only=True), strict=True)
    return head


def warmup_stage(model: ProtoECGNet, data, cfg: RunConfig) -> StageSpec:
    """The backbones with the baseline's head, BCE(pos_weight) only; validation macro AUROC of the head."""
    tc, lc = cfg.train, cfg.loss
    x = torch.from_numpy(np.ascontiguousarray(data.x_train))
    y = torch.from_numpy(data.y_train.astype(np.float32))
    pw = L.pos_weight(data.y_train, lc.max_pos_weight)
    head = WarmupHead(model)
    params = [p for b in BRANCHES for p in model.branch(b).backbone.parameters()]
    freeze_all_but(model, params)
    params = params + list(head.parameters())
    gen = torch.Generator().manual_seed(tc.seed + 17)

    def loss(idx: np.ndarray) -> torch.Tensor:
        xb = augment(x[idx], gen) if tc.augment else x[idx]
        return L.bce(head(model, xb), y[idx], pw)

    @torch.no_grad()
    def score() -> float:
        model.eval()
        xv = torch.from_numpy(np.ascontiguousarray(data.x_val))
        logits = torch.cat([head(model, xv[i:i + tc.eval_batch_size])
                            for i in range(0, len(xv), tc.eval_batch_size)])
        return macro_auroc(data.y_val, logits.numpy())

    spec = StageSpec("warmup", tc.warmup_epochs, tc.lr, tc.weight_decay, tc.patience, tc.batch_size, len(x),
                     params, loss, score, model.train, min_epochs=tc.min_epochs, smooth=tc.smooth)
    spec.extra_modules = {"warmup_head": head}
    return spec


@torch.no_grad()
def init_prototypes_from_data(model: ProtoECGNet, x_train: np.ndarray, y_train: np.ndarray, seed: int,
                              batch: int = 256) -> dict[str, int]:
    """Set every prototype of a class with training positives to the latent of a random positive ECG of
    that class (windowed branches: a random window of it); distinct ECGs while the class has enough.
    Returns the number of prototypes initialised per branch."""
    model.eval()
    rng = np.random.default_rng(seed)
    counts = {}
    for b in BRANCHES:
        br = model.branch(b)
        zs = [br.latent(torch.from_numpy(np.ascontiguousarray(x_train[i:i + batch])))
              for i in range(0, len(x_train), batch)]
        z = torch.cat(zs)
        cols = model.class_index(b).numpy()
        n_init = 0
        for c in range(br.n_classes):
            pos = np.flatnonzero(y_train[:, cols[c]])
            if not len(pos):
                continue
            protos = np.flatnonzero(br.proto_class.numpy() == c)
            picks = rng.permutation(pos)
            for k, p in enumerate(protos):
                i = int(picks[k % len(picks)])
                if z.dim() == 2:
                    br.prototypes[p] = z[i]
                else:
                    w = br.prototypes.shape[-1]
                    t0 = int(rng.integers(0, z.shape[-1] - w + 1))
                    br.prototypes[p] = z[i, :, :, t0:t0 + w]
                n_init += 1
        counts[b] = n_init
    log.info("prototypes started on training latents: %s", counts)
    return counts


class JointCalibration(nn.Module):
    """Per-class affine map of the branch logits used only by the joint-stage BCE: ``exp(log_s) * (l - m)``,
    started at the training mean and 1/std of each class's initial logit."""

    def __init__(self, model: ProtoECGNet, x_train: np.ndarray, batch: int = 256) -> None:
        super().__init__()
        from ..model.inference import run_model

        out = run_model(model, x_train, batch_size=batch, keys=("branch_logits",))["branch_logits"]
        self.m = nn.ParameterDict()
        self.log_s = nn.ParameterDict()
        for b in BRANCHES:
            logit = torch.from_numpy(out[b])
            self.m[b] = nn.Parameter(logit.mean(0))
            self.log_s[b] = nn.Parameter(-torch.log(logit.std(0).clamp_min(1e-3)))

    def forward(self, branch: str, logits: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.log_s[branch]) * (logits - self.m[branch])


class BackboneTap:
    """Captures each branch backbone's output during a normal forward (forward hooks), so the auxiliary
    head reuses the features the prototype network computes anyway instead of a second backbone pass."""

    def __init__(self, model: ProtoECGNet) -> None:
        self.out: dict[str, torch.Tensor] = {}
        self._handles = [model.branch(b).backbone.register_forward_hook(self._hook(b)) for b in BRANCHES]

    def _hook(self, name: str):
        def hook(_module, _inp, output):
            self.out[name] = output
        return hook

    def features(self) -> torch.Tensor:
        return pool_backbone_outputs(self.out)

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
