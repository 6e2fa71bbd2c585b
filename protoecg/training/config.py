"""The named training presets (``demo``, ``paper``, ``tiny``): :func:`preset`.

The configuration classes themselves live with what they configure: :mod:`protoecg.model.config`
(architecture) and :mod:`protoecg.config` (the run: losses, optimisation, folds; ``config.json``). They are
re-exported here so that ``from protoecg.training.config import RunConfig`` keeps working.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ..config import (LossConfig, RunConfig, TrainConfig, config_from_dict, config_to_dict,  # noqa: F401
                      load_config, save_config)
from ..errors import ConfigError
from ..model.config import ARCHES, BRANCHES, BackboneConfig, ModelConfig  # noqa: F401

__all__ = ["ARCHES", "BRANCHES", "PRESETS", "BackboneConfig", "ConfigError", "LossConfig", "ModelConfig",
           "RunConfig", "TrainConfig", "config_from_dict", "config_to_dict", "load_config", "preset",
           "save_config"]



# The small-data recipe, measured on the real PTB-XL 300 (README "Learning real ECGs").
_RECIPE = dict(warmup_epochs=15, aux_head=1.0, proto_init="data", joint_calibration=True, augment=True, min_epochs=6,
               smooth=3, patience=4)


def _demo() -> RunConfig:
    return RunConfig(preset="demo", train=TrainConfig(**_RECIPE))


def _demo_reference() -> RunConfig:
    """The demo sizes with the reference training recipe (random prototypes, no warm-up): for comparison."""
    return RunConfig(preset="demo_reference")


def _tiny() -> RunConfig:
    """For tests: a few thousand parameters, one epoch per stage."""
    bb = BackboneConfig(stem_channels=4, stem_kernel=5, channels=(4, 8), strides=(2, 4), kernel=3)
    return RunConfig(
        preset="tiny",
        model=ModelConfig(rhythm_backbone=bb, morph_backbone=bb, diffuse_backbone=bb, latent_dim=8,
                          latent_channels=4, protos_per_class=(1, 1, 1), morph_window=2, diffuse_steps=2),
        train=TrainConfig(batch_size=16, joint_epochs=1, last_layer_epochs=1, fusion_epochs=1, patience=1),
    )


def _paper() -> RunConfig:
    """Reference sizes: ResNet18-class backbones (4 stages x 2 blocks), 5/18/7 prototypes per class,
    reference loss weights and optimiser (Adam 1e-4, batch 32). Meant for a GPU."""
    r18_1d = BackboneConfig(stem_channels=64, stem_kernel=15, stem_stride=2, channels=(64, 128, 256, 512),
                            strides=(1, 2, 2, 2), blocks_per_stage=2, kernel=7)
    # ResNet18 uses 3-wide kernels after the stem; here they keep a morphology latent step's receptive
    # field short enough (about 2 s at 100 Hz) for a windowed prototype to mean a local shape.
    r18_2d = BackboneConfig(stem_channels=32, stem_kernel=7, stem_stride=4, channels=(32, 64, 128, 256),
                            strides=(1, 2, 2, 2), blocks_per_stage=2, kernel=3)
    return RunConfig(
        preset="paper",
        model=ModelConfig(rhythm_backbone=r18_1d, morph_backbone=r18_2d, diffuse_backbone=r18_2d,
                          latent_dim=512, latent_channels=32, protos_per_class=(5, 18, 7), morph_window=3,
                          diffuse_steps=4),
        loss=LossConfig(cluster=0.004, separation=0.0004, diversity=250.0, contrastive=300.0, l1=1e-4),
        train=TrainConfig(**{**_RECIPE, "warmup_epochs": 20, "min_epochs": 10, "patience": 10},
                          batch_size=32, lr=1e-4, weight_decay=1.7e-4, joint_epochs=100, last_layer_epochs=30,
                          last_layer_lr=1e-3, fusion_epochs=30, fusion_lr=1e-3, threads=8),
    )


PRESETS = {"demo": _demo, "demo_reference": _demo_reference, "paper": _paper, "tiny": _tiny}


def preset(name: str, **overrides: Any) -> RunConfig:
    """A named preset with optional overrides of ``TrainConfig`` fields (e.g. ``seed=1``) and ``arch``."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    cfg = PRESETS[name]()
    arch = overrides.pop("arch", None)
    if arch is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, arch=arch))
    if overrides:
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **overrides))
    return cfg
