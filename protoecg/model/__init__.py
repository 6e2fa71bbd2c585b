"""Model definitions: backbones, prototype branches, the three-branch network and the baseline."""
from __future__ import annotations

from torch import nn

from .config import ModelConfig
from .baseline import BaselineNet
from .network import ProtoECGNet

__all__ = ["BaselineNet", "ProtoECGNet", "build_model"]


def build_model(cfg: ModelConfig, codes: tuple[str, ...], branch_of: dict[str, str]) -> nn.Module:
    """The network named by ``cfg.arch`` ("protoecg" or "baseline")."""
    if cfg.arch == "baseline":
        return BaselineNet(cfg, codes, branch_of)
    return ProtoECGNet(cfg, codes, branch_of)
