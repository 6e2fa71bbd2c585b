"""A reference-shaped ProtoECGNet for timing only (our own code, built from the reference's published sizes).

The reference implementation is not a dependency: this module rebuilds its *shape* so that
``bench/bench_inference.py`` can time it against our presets in the same run, on the same machine.

* rhythm: 1D ResNet18 (conv 12→64, k7, s2; max-pool; BasicBlocks 64/128/256/512, kernel 3, strides
  1/2/2/2) → global average pool → add-on Linear-ReLU-Linear-Sigmoid (512) → cosine to 16 × 5 prototypes;
* morphology: 2D ResNet18 whose first convolution ``(12, 7)`` merges all 12 leads (so the rest runs on one
  row), 3x3 BasicBlocks → 32 latent steps → 1x1 add-on (128 channels, Sigmoid) → 52 × 18 prototypes of 3
  latent steps, cosine at every window computed with a **Python loop over windows** (as in the
  reference) → max over windows;
* diffuse: the same 2D ResNet18 → 3 × 7 prototypes spanning the whole latent;
* fusion: Linear(1037, 71) over the concatenated similarities.

Assumption (not published as a number we could find): 128 add-on channels for the 2D branches, ProtoPNet's
default; a wider add-on would only make the reference slower.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class _Block(nn.Module):
    def __init__(self, conv: type, bn: type, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1, self.b1 = conv(cin, cout, 3, stride=stride, padding=1, bias=False), bn(cout)
        self.c2, self.b2 = conv(cout, cout, 3, padding=1, bias=False), bn(cout)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(conv(cin, cout, 1, stride=stride, bias=False), bn(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.short(x))


def _resnet18_stages(conv: type, bn: type) -> nn.Sequential:
    blocks, cin = [], 64
    for cout, stride in zip((64, 128, 256, 512), (1, 2, 2, 2)):
        blocks += [_Block(conv, bn, cin, cout, stride), _Block(conv, bn, cout, cout, 1)]
        cin = cout
    return nn.Sequential(*blocks)


class _ResNet18_1D(nn.Module):
    def __init__(self, n_leads: int = 12) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv1d(n_leads, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm1d(64),
                                  nn.ReLU(inplace=True), nn.MaxPool1d(3, 2, 1))
        self.stages = _resnet18_stages(nn.Conv1d, nn.BatchNorm1d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


class _ResNet18_2D(nn.Module):
    """(N, 1, 12, T) → (N, 512, 1, T/32): the first convolution merges the 12 leads."""

    def __init__(self, n_leads: int = 12) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 64, (n_leads, 7), stride=(1, 2), padding=(0, 3), bias=False),
                                  nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        self.stages = _resnet18_stages(nn.Conv2d, nn.BatchNorm2d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))


def _cos_loop(z: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """(N, C, 1, T) x (P, C, 1, w) → (N, P) max over windows of the cosine, a Python loop over windows."""
    w = p.shape[-1]
    pf = F.normalize(p.flatten(1), dim=1)
    sims = [F.normalize(z[..., t:t + w].flatten(1), dim=1) @ pf.T for t in range(z.shape[-1] - w + 1)]
    return torch.stack(sims, -1).max(-1).values


class ReferenceShapedNet(nn.Module):
    """Reference-sized three-branch prototype network; ``forward`` returns ``{"logits", "sims"}``."""

    def __init__(self, n_leads: int = 12, addon: int = 128) -> None:
        super().__init__()
        self.rhythm = _ResNet18_1D(n_leads)
        self.rhythm_addon = nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, 512),
                                          nn.Sigmoid())
        self.rhythm_protos = nn.Parameter(torch.rand(16 * 5, 512))
        self.morph, self.diffuse = _ResNet18_2D(n_leads), _ResNet18_2D(n_leads)

        def _addon() -> nn.Module:
            return nn.Sequential(nn.Conv2d(512, addon, 1), nn.ReLU(inplace=True), nn.Conv2d(addon, addon, 1),
                                 nn.Sigmoid())
        self.morph_addon, self.diffuse_addon = _addon(), _addon()
        self.morph_protos = nn.Parameter(torch.rand(52 * 18, addon, 1, 3))
        self.diffuse_protos = nn.Parameter(torch.rand(3 * 7, addon, 1, 32))
        self.last = nn.ModuleList([nn.Linear(80, 16, bias=False), nn.Linear(936, 52, bias=False),
                                   nn.Linear(21, 3, bias=False)])
        self.fusion = nn.Linear(80 + 936 + 21, 71)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        zr = self.rhythm_addon(self.rhythm(x).mean(-1))
        s_r = F.normalize(zr, dim=1) @ F.normalize(self.rhythm_protos, dim=1).T
        x2 = x.unsqueeze(1)
        s_m = _cos_loop(self.morph_addon(self.morph(x2)), self.morph_protos)
        zd = self.diffuse_addon(self.diffuse(x2))
        zd = F.adaptive_avg_pool2d(zd, (1, self.diffuse_protos.shape[-1]))
        s_d = _cos_loop(zd, self.diffuse_protos)
        sims = torch.cat([s_r, s_m, s_d], 1)
        _ = [head(s) for head, s in zip(self.last, (s_r, s_m, s_d))]
        return {"logits": self.fusion(sims), "sims": sims}
