"""Distributed helpers. Under ``torchrun`` (``WORLD_SIZE`` > 1) the joint stage runs as
DistributedDataParallel (gloo on CPU, NCCL on GPU); otherwise everything is a no-op single process.

Only rank 0 writes files. Validation runs on every rank with rank 0's parameters *and buffers* (batch-norm
statistics are broadcast first), so every rank takes the same early-stopping decision.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup(device: torch.device) -> DistInfo:
    """Initialise the process group when launched by ``torchrun``; idempotent."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size())


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_state(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank."""
    if not info.enabled:
        return
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(t.data, src=0)


def broadcast_float(value: float, info: DistInfo) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.broadcast(t, src=0)
    return float(t.item())


def shard(indices: np.ndarray, info: DistInfo) -> np.ndarray:
    """This rank's share of an (already shuffled) index array; every rank gets the same count."""
    if not info.enabled:
        return indices
    n = len(indices) // info.world_size
    return indices[: n * info.world_size][info.rank::info.world_size]
