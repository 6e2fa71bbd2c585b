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
from ..model.config import ARCHES, BACKBONE_KINDS, BRANCHES, BackboneConfig, ModelConfig  # noqa: F401

__all__ = ["ARCHES", "BRANCHES", "PRESETS", "BACKBONE_KINDS", "BackboneConfig", "ConfigError", "LossConfig", "ModelConfig",
           "RunConfig", "TrainConfig", "config_from_dict", "config_to_dict", "load_config", "preset",
           "save_config"]


# The small-data recipe, measured on the real PTB-XL 300 (README "Learning real ECGs").
_RECIPE = dict(warmup_epochs=15, aux_head=1.0, proto_init="data", joint_calibration=True, augment=True, min_epochs=6,
               smooth=3, patience=4, tied_epochs=8, fusion_class_stop=5, fusion_fit="ridge",
               fusion_ridge_branches=("morphology", "diffuse"))


# Beat-sized morphology backbones (issue 15) computed lead-folded (issue 14): stem stride 4, two stride-2
# blocks and one stride-1 block, each "temporal 3 then pointwise 1" (``second_kernel=1``): 16 input samples
# per latent step and a 63-sample receptive field, so a 3-step prototype window covers 63 + 2 * 16 = 95
# samples (0.95 s at 100 Hz): about one beat.
BEAT_MORPH_DEMO = BackboneConfig(stem_channels=8, stem_kernel=7, stem_stride=4, channels=(16, 32, 32),
                                 strides=(2, 2, 1), kernel=3, second_kernel=1, kind="folded1d")
BEAT_MORPH_PAPER = BackboneConfig(stem_channels=16, stem_kernel=7, stem_stride=4, channels=(32, 64, 64),
                                  strides=(2, 2, 1), kernel=3, second_kernel=1, kind="folded1d")


def _demo_model() -> ModelConfig:
    """The demo model: v1 rhythm branch, beat-sized lead-folded morphology, lead-folded v1 diffuse."""
    v1 = ModelConfig()
    return dataclasses.replace(v1, morph_backbone=BEAT_MORPH_DEMO, morph_window=3,
                               diffuse_backbone=dataclasses.replace(v1.diffuse_backbone, kind="folded1d"))


def _demo() -> RunConfig:
    return RunConfig(preset="demo", model=_demo_model(), train=TrainConfig(**_RECIPE))


def _demo_reference() -> RunConfig:
    """The demo model with the reference training recipe (random prototypes, no warm-up): for comparison."""
    return RunConfig(preset="demo_reference", model=_demo_model())


def _demo_v1() -> RunConfig:
    """The demo recipe on the model before the beat-sized backbones (2.07 s morphology windows, rows2d):
    kept so that the real-data bench can compare the two designs on the same folds and seeds."""
    return RunConfig(preset="demo_v1", train=TrainConfig(**_RECIPE))


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
    # ResNet18 depth (4 stages x 2 blocks, kernel 3) at half ResNet18's width, time strided to 1/32.
    r18_1d = BackboneConfig(stem_channels=32, stem_kernel=7, stem_stride=2, channels=(32, 64, 128, 256),
                            strides=(2, 2, 2, 2), blocks_per_stage=2, kernel=3)
    # Lead-resolved 2D branches computed lead-folded; morphology beat-sized (0.95 s windows of 3 steps),
    # diffuse strided to 1/32 (its prototypes span the whole record, so its receptive field is free).
    diffuse = BackboneConfig(stem_channels=16, stem_kernel=7, stem_stride=4, channels=(16, 32, 64),
                             strides=(2, 2, 2), kernel=3, kind="folded1d")
    return RunConfig(
        preset="paper",
        model=ModelConfig(rhythm_backbone=r18_1d, morph_backbone=BEAT_MORPH_PAPER, diffuse_backbone=diffuse,
                          latent_dim=256, latent_channels=16, protos_per_class=(5, 18, 7), morph_window=3,
                          diffuse_steps=4),
        loss=LossConfig(cluster=0.004, separation=0.0004, diversity=250.0, contrastive=300.0, l1=1e-4),
        train=TrainConfig(**{**_RECIPE, "warmup_epochs": 20, "min_epochs": 10, "patience": 10},
                          batch_size=32, lr=1e-4, weight_decay=1.7e-4, joint_epochs=100, last_layer_epochs=30,
                          last_layer_lr=1e-3, fusion_epochs=30, fusion_lr=1e-3, threads=8),
    )


PRESETS = {"demo": _demo, "demo_reference": _demo_reference, "demo_v1": _demo_v1, "paper": _paper, "tiny": _tiny}


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
