"""The CPU serving path: the same network with batch norm folded into the convolutions, run in small
cache-sized chunks of ECGs.

Both steps are exact up to float32 rounding (measured: max |difference| of probabilities and similarities
below 1e-5, checked by ``tests/protoecg/test_fast_inference.py`` and ``bench/bench_inference.py``):

* **batch-norm folding**: in eval mode ``BN(conv(x)) = conv'(x)`` with ``w' = w * g / sqrt(v + eps)`` and
  ``b' = beta - m * g / sqrt(v + eps)``; one pass over each activation instead of two;
* **chunking**: eval-mode outputs of one ECG do not depend on the others in its batch, so a batch of 64
  is run as chunks of ``chunk`` ECGs whose activations stay in the CPU caches (a 64-ECG batch of
  lead-folded activations is tens of MB; measured up to 2x on the lead-folded backbones at batch 64).

The original model is left untouched (training, projection and explanations keep using it); the fast copy
is for inference only and has no gradients.
"""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .backbones import ResBlock, TimeResNet

DEFAULT_CHUNK = 16


def _fold_pair(conv: nn.Module, bn: nn.Module) -> nn.Module:
    return fuse_conv_bn_eval(conv, bn)


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` (eval mode) with every backbone's conv → batch-norm pair fused."""
    model = copy.deepcopy(model).eval()
    for mod in model.modules():
        if isinstance(mod, TimeResNet):
            mod.stem[0] = _fold_pair(mod.stem[0], mod.stem[1])
            mod.stem[1] = nn.Identity()
        elif isinstance(mod, ResBlock):
            mod.conv1, mod.bn1 = _fold_pair(mod.conv1, mod.bn1), nn.Identity()
            mod.conv2, mod.bn2 = _fold_pair(mod.conv2, mod.bn2), nn.Identity()
            if isinstance(mod.short, nn.Sequential):
                mod.short = _fold_pair(mod.short[0], mod.short[1])
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _cat(parts: list):
    first = parts[0]
    if isinstance(first, dict):
        return {k: _cat([p[k] for p in parts]) for k in first}
    return torch.cat(parts)


class FastInference(nn.Module):
    """Wraps a batch-norm-folded copy of a network; ``forward`` runs ``chunk`` ECGs at a time and returns
    the network's own output dictionary (same keys, same shapes)."""

    def __init__(self, model: nn.Module, chunk: int = DEFAULT_CHUNK) -> None:
        super().__init__()
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.net = fold_batchnorm(model)
        self.chunk = chunk
        self.cfg = getattr(model, "cfg", None)

    @torch.inference_mode()
    def forward(self, x: torch.Tensor, with_leads: bool = False, keys: tuple[str, ...] | None = None) -> dict:
        """``keys``: keep only these output keys (the latents and similarity maps of a large batch are
        big, and concatenating chunks of outputs nobody reads costs time)."""
        def run(xc: torch.Tensor) -> dict:
            out = self.net(xc, with_leads=with_leads)
            return out if keys is None else {k: out[k] for k in keys if k in out}
        # chunk per thread: with more threads each convolution is split further, so keep the work per
        # thread (not per call) at ``chunk`` ECGs
        chunk = self.chunk * max(1, torch.get_num_threads())
        if len(x) <= chunk:
            return run(x)
        return _cat([run(x[i:i + chunk]) for i in range(0, len(x), chunk)])


def fast_model(model: nn.Module, chunk: int = DEFAULT_CHUNK) -> FastInference:
    """The serving copy of ``model`` (see the module docstring)."""
    return FastInference(model, chunk=chunk)
