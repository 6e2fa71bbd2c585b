"""Black-box baseline: the same three backbones, global average pooled, one plain linear head.

It measures the "interpretability tax": same data, same backbones and optimiser, no prototypes.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig
from .backbones import TimeResNet


class BaselineNet(nn.Module):
    """(N, 12, T) → ``{"logits": (N, 71)}`` from concatenated pooled backbone features."""

    def __init__(self, cfg: ModelConfig, codes: tuple[str, ...], branch_of: dict[str, str]) -> None:
        super().__init__()
        self.cfg = cfg
        self.codes = tuple(codes)
        self.branch_of = {c: branch_of[c] for c in self.codes}
        self.rhythm = TimeResNet(cfg.rhythm_backbone, cfg.n_leads, dim=1)
        self.morphology = TimeResNet(cfg.morph_backbone, 1, dim=2)
        self.diffuse = TimeResNet(cfg.diffuse_backbone, 1, dim=2)
        width = self.rhythm.out_channels + self.morphology.out_channels + self.diffuse.out_channels
        self.head = nn.Linear(width, len(self.codes))

    def forward(self, x: torch.Tensor, with_leads: bool = False) -> dict:
        feats = [self.rhythm(x).mean(dim=-1),
                 self.morphology(x.unsqueeze(1)).mean(dim=(2, 3)),
                 self.diffuse(x.unsqueeze(1)).mean(dim=(2, 3))]
        logits = self.head(torch.cat(feats, dim=1))
        return {"logits": logits}
