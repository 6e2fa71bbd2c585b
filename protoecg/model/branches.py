"""The prototype branches: rhythm (1D, global prototypes) and the windowed 2D branch used for morphology
(prototypes spanning ``window`` latent steps, similarity at every window) and diffuse (prototypes spanning
the whole record: the latent is average-pooled to ``pool_steps`` and the window covers all of it).

Each branch owns ``P = n_classes * protos_per_class`` prototypes (prototype ``j`` belongs to branch-local
class ``j // protos_per_class``) and a bias-free last layer initialised +1 (own class) / ``off_class``
(others; reference -0.5).
"""
from __future__ import annotations

import torch
from torch import nn

from .config import BackboneConfig
from .backbones import ReceptiveField, TimeResNet
from .similarity import cosine_global, pool, window_cosine, window_cosine_per_lead


def _activation(name: str) -> nn.Module:
    return nn.Sigmoid() if name == "sigmoid" else nn.ReLU()


def _init_last_layer(layer: nn.Linear, proto_class: torch.Tensor, n_classes: int, off_class: float,
                     own_class: float) -> None:
    own = torch.nn.functional.one_hot(proto_class, n_classes).T.float()   # (C, P)
    with torch.no_grad():
        layer.weight.copy_(own * own_class + (1 - own) * off_class)


class PrototypeBranch(nn.Module):
    """Shared parts: prototype→class map, last layer, and class bookkeeping."""

    kind: str = ""

    def __init__(self, n_classes: int, protos_per_class: int, off_class: float = -0.5,
                 own_class: float = 1.0) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.protos_per_class = protos_per_class
        self.register_buffer("proto_class", torch.arange(n_classes).repeat_interleave(protos_per_class))
        self.last_layer = nn.Linear(n_classes * protos_per_class, n_classes, bias=False)
        _init_last_layer(self.last_layer, self.proto_class, n_classes, off_class, own_class)

    @property
    def n_prototypes(self) -> int:
        return self.n_classes * self.protos_per_class

    def latent_parameters(self) -> list[nn.Parameter]:
        """Backbone + add-on + prototypes (trained in the joint stage)."""
        return [p for n, p in self.named_parameters() if not n.startswith("last_layer")]


class RhythmBranch(PrototypeBranch):
    """1D ResNet → global average pool → add-on (Linear-ReLU-Linear-Sigmoid) → cosine to global prototypes."""

    kind = "global"

    def __init__(self, backbone: BackboneConfig, n_leads: int, latent_dim: int, n_classes: int,
                 protos_per_class: int, off_class: float = -0.5, activation: str = "sigmoid",
                 own_class: float = 1.0) -> None:
        super().__init__(n_classes, protos_per_class, off_class, own_class)
        self.backbone = TimeResNet(backbone, n_leads, dim=1)
        c = self.backbone.out_channels
        self.add_on = nn.Sequential(nn.Linear(c, latent_dim), nn.ReLU(inplace=True),
                                    nn.Linear(latent_dim, latent_dim), _activation(activation))
        self.prototypes = nn.Parameter(torch.rand(self.n_prototypes, latent_dim))

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 12, T) → (N, D)."""
        return self.add_on(self.backbone(x).mean(dim=-1))

    def forward(self, x: torch.Tensor, with_leads: bool = False,
                prototypes: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``prototypes`` replaces the learned ones for this call (training with prototypes tied to the
        latents of their source ECGs, :mod:`protoecg.training.tied`)."""
        z = self.latent(x)
        sims = cosine_global(z, self.prototypes if prototypes is None else prototypes)
        return {"sims": sims, "logits": self.last_layer(sims), "latent": z}


class WindowedBranch(PrototypeBranch):
    """2D ResNet keeping the lead rows → 1x1 add-on (Sigmoid) → cosine to (C, L, w) prototypes at every window.

    ``pool_steps`` (diffuse): adaptive average pool of the latent to that many time steps, with
    ``window == pool_steps`` so that a prototype spans the whole record.
    """

    kind = "windowed"

    def __init__(self, backbone: BackboneConfig, n_leads: int, latent_channels: int, n_classes: int,
                 protos_per_class: int, window: int, pool_steps: int | None = None,
                 off_class: float = -0.5, activation: str = "sigmoid", own_class: float = 1.0) -> None:
        super().__init__(n_classes, protos_per_class, off_class, own_class)
        self.backbone = TimeResNet(backbone, 1, dim=2)
        c = self.backbone.out_channels
        self.add_on = nn.Sequential(nn.Conv2d(c, latent_channels, 1), nn.ReLU(inplace=True),
                                    nn.Conv2d(latent_channels, latent_channels, 1), _activation(activation))
        self.pool_steps = pool_steps
        self.window = pool_steps if pool_steps else window
        self.n_leads = n_leads
        self.prototypes = nn.Parameter(torch.rand(self.n_prototypes, latent_channels, n_leads, self.window))

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 12, T) → (N, C, 12, T') (T' = ``pool_steps`` for the diffuse branch)."""
        z = self.add_on(self.backbone(x.unsqueeze(1)))
        if self.pool_steps:
            z = nn.functional.adaptive_avg_pool2d(z, (z.shape[2], self.pool_steps))
        return z

    def forward(self, x: torch.Tensor, with_leads: bool = False,
                prototypes: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        z = self.latent(x)
        protos = self.prototypes if prototypes is None else prototypes
        sim_map = window_cosine(z, protos)                       # (N, P, W)
        sims, best = pool(sim_map)
        out = {"sims": sims, "logits": self.last_layer(sims), "latent": z, "map": sim_map, "best": best}
        if with_leads:
            per_lead = window_cosine_per_lead(z, protos)                     # (N, P, L, W)
            idx = best.unsqueeze(2).unsqueeze(3).expand(-1, -1, per_lead.shape[2], 1)
            out["lead_contrib"] = per_lead.gather(3, idx).squeeze(3)          # (N, P, L)
        return out

    def window_seconds(self, first: int, n_samples: int, fs: float) -> tuple[float, float]:
        """Input interval ``[start_s, end_s)`` of the latent window starting at index ``first``.

        Exact receptive-field arithmetic through every strided convolution; the diffuse branch (whose
        window is the whole pooled latent) always covers the whole record.
        """
        if self.pool_steps:
            return 0.0, n_samples / fs
        rf: ReceptiveField = self.backbone.receptive_field()
        lo, hi = rf.span(first, first + self.window - 1, n_samples)
        return lo / fs, (hi + 1) / fs

    def n_windows(self, n_samples: int) -> int:
        if self.pool_steps:
            return 1
        return self.backbone.latent_steps(n_samples) - self.window + 1
