"""The resolved configuration of one training run (model + losses + optimisation), as a bundle stores it.

A run directory stores it as ``config.json``; :func:`config_to_dict` / :func:`config_from_dict` round-trip
it exactly, so a bundle loads without the training package. The named presets are in
:mod:`protoecg.training.config`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .model.config import BRANCHES, ModelConfig

__all__ = ["LossConfig", "RunConfig", "TrainConfig", "config_from_dict", "config_to_dict", "load_config",
           "save_config"]


@dataclass(frozen=True)
class LossConfig:
    """Loss weights. The BCE term always has weight 1."""

    cluster: float = 0.004
    separation: float = 0.0004
    diversity: float = 0.05
    contrastive: float = 0.05
    l1: float = 1e-4
    max_pos_weight: float = 50.0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation per stage; epochs of 0 skip a stage."""

    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1.7e-4
    joint_epochs: int = 15
    last_layer_epochs: int = 6
    last_layer_lr: float = 1e-2
    fusion_epochs: int = 10
    fusion_lr: float = 1e-2
    # Per-class early stopping of the fusion layer: each class's row (an independent logistic regression on
    # the similarities) keeps its own best epoch (epoch 0 = the branch classifier) when the validation fold
    # has at least this many positives of the class; rarer classes keep the epoch of the best macro AUROC.
    # 0 = off (reference: one epoch for all classes).
    fusion_class_stop: int = 0
    last_layer_class_stop: int = 0   # the same for the rows of the branch last layers
    # "sgd": the fusion layer trained epoch-wise from the branch classifiers with L1 and early stopping
    # (reference); "ridge": after that, the classes of fusion_ridge_branches with >= fusion_min_pos
    # training positives get, per class, an L2-penalised logistic regression over every prototype's
    # similarity (each standardised by its training mean/sd), fitted once by L-BFGS
    # (protoecg.training.fusion_ridge); the other classes keep their epoch-wise row.
    fusion_fit: str = "sgd"
    fusion_l2: float = 0.1           # ridge: penalty l2/2 * ||w||^2 added to the mean BCE
    fusion_min_pos: int = 5
    fusion_ridge_branches: tuple[str, ...] = BRANCHES
    patience: int = 3
    unique_projection: bool = False
    # Train the branch last layers in the joint stage too (the reference keeps them frozen at +1/off_class).
    joint_last_layer: bool = False
    seed: int = 0
    threads: int = 2
    eval_batch_size: int = 256
    # The small-data recipe (protoecg.training.warmup; defaults = the reference recipe, so older run
    # configurations keep their meaning). Presets switch them on.
    warmup_epochs: int = 0           # backbones with the baseline's head before prototypes exist
    proto_init: str = "random"       # "random" (uniform, reference) or "data" (latents of class ECGs)
    joint_calibration: bool = False  # per-class affine calibration of the joint-stage BCE (training only)
    augment: bool = False            # circular shift, small amplitude/lead gain, noise
    min_epochs: int = 0              # no early stop before this many epochs (warm-up and joint)
    smooth: int = 1                  # early stopping on the mean of the last `smooth` validation scores
    aux_head: float = 0.0            # weight of the warm-up head's BCE kept on in the joint stage
    init_from: str | None = None     # fine-tune: start from this bundle's weights (same architecture)
    tied_epochs: int = 0             # after projection: fine-tune with prototypes tied to their sources
    tied_lr: float = 1e-3
    tied_sources_per_step: int = 64  # source ECGs recomputed per step and branch in the tied stage (0 = all)

    def __post_init__(self) -> None:
        if self.proto_init not in ("random", "data"):
            raise ConfigError(f"proto_init must be 'random' or 'data', not {self.proto_init!r}")
        if self.fusion_fit not in ("sgd", "ridge"):
            raise ConfigError(f"fusion_fit must be 'sgd' or 'ridge', not {self.fusion_fit!r}")
        bad = set(self.fusion_ridge_branches) - set(BRANCHES)
        if bad:
            raise ConfigError(f"fusion_ridge_branches: unknown branch(es) {sorted(bad)}; "
                              f"use {', '.join(BRANCHES)}")
        if self.fusion_fit == "ridge" and self.fusion_l2 <= 0:
            raise ConfigError(f"fusion_fit='ridge' needs fusion_l2 > 0, not {self.fusion_l2}")
        if self.smooth < 1 or self.min_epochs < 0 or self.warmup_epochs < 0 or self.tied_epochs < 0:
            raise ConfigError("smooth must be >= 1; min_epochs, warmup_epochs and tied_epochs >= 0")


@dataclass(frozen=True)
class RunConfig:
    """The full resolved configuration of one training run."""

    preset: str = "demo"
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    train_folds: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
    val_folds: tuple[int, ...] = (9,)
    test_folds: tuple[int, ...] = (10,)


def config_to_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)


def _build(cls: type, data: dict) -> Any:
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        v = data[f.name]
        if dataclasses.is_dataclass(f.default_factory() if f.default_factory is not dataclasses.MISSING
                                    else None):
            v = _build(type(f.default_factory()), v)
        elif isinstance(v, list):
            v = tuple(v)
        kwargs[f.name] = v
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ConfigError(f"unknown configuration keys for {cls.__name__}: {sorted(unknown)}")
    return cls(**kwargs)


def config_from_dict(data: dict) -> RunConfig:
    return _build(RunConfig, data)


def save_config(cfg: RunConfig, path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_to_dict(cfg), indent=2))


def load_config(path: str | Path) -> RunConfig:
    return config_from_dict(json.loads(Path(path).read_text()))
