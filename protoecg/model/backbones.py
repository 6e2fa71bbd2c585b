"""Small ResNet backbones over time, in 1D (leads as channels) and 2D (leads kept as rows).

The 2D variant convolves over time only, so lead ``l`` of the latent depends on lead ``l`` of the input
alone: a prototype match can therefore be attributed exactly to leads (the per-lead terms of the cosine).
It is computed in one of two kinds (``BackboneConfig.kind``) with the same math: ``rows2d`` (Conv2d with
``(1, k)`` kernels over (N, 1, 12, T), the original) or ``folded1d`` (Conv1d over the 12 leads folded into
the batch, (N*12, C, T), faster in oneDNN); both take (N, 1, 12, T) and return (N, C, 12, T'). Every layer on the main path records its ``(kernel, stride, padding)`` along time so that
:func:`receptive_field` gives the exact input interval of a latent index (the residual shortcuts are 1x1
strided convolutions whose support lies inside the main path's, so the main path bounds the receptive field).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import BackboneConfig

TimeLayer = tuple[int, int, int]   # (kernel, stride, padding) along time


@dataclass(frozen=True)
class ReceptiveField:
    """Latent index ``t`` sees input samples ``[t * jump - offset, t * jump - offset + size - 1]``."""

    jump: int
    offset: int
    size: int

    def span(self, first: int, last: int, n_samples: int) -> tuple[int, int]:
        """Input sample range (inclusive, clipped to the record) seen by latent steps ``first..last``."""
        start = first * self.jump - self.offset
        end = last * self.jump - self.offset + self.size - 1
        return max(start, 0), min(end, n_samples - 1)


def receptive_field(layers: list[TimeLayer]) -> ReceptiveField:
    """Compose ``(kernel, stride, padding)`` layers into the receptive field of one output index."""
    jump, start, size = 1, 0, 1
    for k, s, p in layers:
        start -= p * jump
        size += (k - 1) * jump
        jump *= s
    return ReceptiveField(jump=jump, offset=-start, size=size)


def output_length(layers: list[TimeLayer], n: int) -> int:
    """Length of the time axis after ``layers`` for an input of ``n`` samples."""
    for k, s, p in layers:
        n = (n + 2 * p - k) // s + 1
    return n


def _conv(dim: int, cin: int, cout: int, k: int, s: int) -> nn.Module:
    """``dim`` 1: Conv1d; 2: Conv2d with a (1, k) kernel (lead rows never mix)."""
    if dim == 1:
        return nn.Conv1d(cin, cout, k, stride=s, padding=k // 2, bias=False)
    return nn.Conv2d(cin, cout, (1, k), stride=(1, s), padding=(0, k // 2), bias=False)


def _bn(dim: int, c: int) -> nn.Module:
    return nn.BatchNorm1d(c) if dim == 1 else nn.BatchNorm2d(c)


class ResBlock(nn.Module):
    """A ``k``-wide strided convolution then a ``k2``-wide one (``k2 = k`` by default), batch norm after
    each, plus a (projected) shortcut."""

    def __init__(self, dim: int, cin: int, cout: int, k: int, stride: int, k2: int | None = None) -> None:
        super().__init__()
        k2 = k if k2 is None else k2
        self.conv1, self.bn1 = _conv(dim, cin, cout, k, stride), _bn(dim, cout)
        self.conv2, self.bn2 = _conv(dim, cout, cout, k2, 1), _bn(dim, cout)
        self.act = nn.ReLU(inplace=True)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(_conv(dim, cin, cout, 1, stride), _bn(dim, cout))
        self.time_layers: list[TimeLayer] = [(k, stride, k // 2), (k2, 1, k2 // 2)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act(y + self.short(x))


class TimeResNet(nn.Module):
    """Stem + residual stages. ``dim=1``: input (N, 12, T) → (N, C, T').
    ``dim=2``: input (N, 1, 12, T) → (N, C, 12, T') (per lead; ``cfg.kind`` says how it is computed)."""

    def __init__(self, cfg: BackboneConfig, in_channels: int, dim: int) -> None:
        super().__init__()
        if len(cfg.channels) != len(cfg.strides):
            raise ValueError("BackboneConfig.channels and .strides must have the same length")
        self.dim = dim
        # folded1d: the lead-resolved backbone as 1D convolutions over leads folded into the batch.
        self.folded = dim == 2 and cfg.kind == "folded1d"
        conv_dim = 1 if self.folded else dim
        self.stem = nn.Sequential(_conv(conv_dim, in_channels, cfg.stem_channels, cfg.stem_kernel,
                                        cfg.stem_stride),
                                  _bn(conv_dim, cfg.stem_channels), nn.ReLU(inplace=True))
        layers: list[TimeLayer] = [(cfg.stem_kernel, cfg.stem_stride, cfg.stem_kernel // 2)]
        blocks: list[nn.Module] = []
        cin = cfg.stem_channels
        for cout, stride in zip(cfg.channels, cfg.strides):
            for b in range(cfg.blocks_per_stage):
                blk = ResBlock(conv_dim, cin, cout, cfg.kernel, stride if b == 0 else 1,
                               cfg.second_kernel or cfg.kernel)
                blocks.append(blk)
                layers.extend(blk.time_layers)
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.out_channels = cin
        self.time_layers = layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.folded:
            return self.blocks(self.stem(x))
        n, c, leads, t = x.shape                                  # (N, 1, L, T) → (N*L, 1, T)
        y = self.blocks(self.stem(x.permute(0, 2, 1, 3).reshape(n * leads, c, t)))
        return y.view(n, leads, y.shape[1], y.shape[2]).permute(0, 2, 1, 3)   # → (N, C, L, T')

    def receptive_field(self) -> ReceptiveField:
        return receptive_field(self.time_layers)

    def latent_steps(self, n_samples: int) -> int:
        return output_length(self.time_layers, n_samples)
