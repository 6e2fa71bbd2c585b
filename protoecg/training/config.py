"""Frozen run configuration (model + losses + optimisation) and the named presets.

Everything shape-related is derived from :class:`ModelConfig` (``fs``, ``n_samples``, strides, window
length): no module assumes 100 Hz or 1000 samples. A run directory stores the resolved configuration as
``config.json`` (:func:`config_to_dict` / :func:`config_from_dict` round-trip it exactly).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BRANCHES: tuple[str, ...] = ("rhythm", "morphology", "diffuse")
ARCHES: tuple[str, ...] = ("protoecg", "baseline")
BACKBONE_KINDS: tuple[str, ...] = ("rows2d", "folded1d")


class ConfigError(ValueError):
    """A configuration value is invalid or a run directory holds an incompatible configuration."""


@dataclass(frozen=True)
class BackboneConfig:
    """A small ResNet: a strided stem then ``len(channels)`` residual stages.

    ``stem_stride`` and each entry of ``strides`` divide the time axis; the 2D backbones convolve over time
    only (kernel ``(1, k)``), so the lead axis keeps all 12 rows up to the latent.
    """

    stem_channels: int = 16
    stem_kernel: int = 7
    stem_stride: int = 2
    channels: tuple[int, ...] = (16, 32, 64)
    strides: tuple[int, ...] = (2, 2, 2)
    blocks_per_stage: int = 1
    kernel: int = 5
    # Kernel of the second convolution of each residual block; 0 = ``kernel`` (the original design). 1 makes
    # the block "temporal k, then pointwise": depth and width without widening the receptive field, which
    # is how the beat-sized morphology backbones stay under 1 s per prototype window.
    second_kernel: int = 0
    # How a 2D (lead-resolved) backbone is computed (ignored by the 1D rhythm backbone):
    # "rows2d" (original): Conv2d with (1, k) kernels over (N, 1, 12, T);
    # "folded1d": the same per-lead math as Conv1d over the leads folded into the batch, (N*12, C, T),
    # which oneDNN runs faster. The two kinds have different parameter shapes, so a config.json without
    # this field (an old bundle) builds "rows2d" and loads its weights strictly.
    kind: str = "rows2d"

    def __post_init__(self) -> None:
        if self.kind not in BACKBONE_KINDS:
            raise ConfigError(f"unknown backbone kind {self.kind!r}; choose one of {BACKBONE_KINDS}")
        if self.second_kernel < 0 or self.kernel < 1 or self.stem_kernel < 1:
            raise ConfigError("backbone kernels must be >= 1 (second_kernel 0 means 'same as kernel')")
        if len(self.channels) != len(self.strides):
            raise ConfigError("BackboneConfig.channels and .strides must have the same length")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture. ``protos_per_class`` is (rhythm, morphology, diffuse)."""

    arch: str = "protoecg"
    fs: int = 100
    n_samples: int = 1000
    n_leads: int = 12
    rhythm_backbone: BackboneConfig = field(default_factory=BackboneConfig)
    # The defaults are the original (v1) lead-resolved design, so that a config.json written before the
    # backbone kinds existed rebuilds exactly the network its weights belong to: stem stride 4 then three
    # stride-2 stages (32 input samples per latent step), kernel 3 in the morphology blocks; a 2-step
    # morphology window then spans 2.07 s at 100 Hz. The presets use the beat-sized design
    # (:data:`BEAT_MORPH_DEMO`, :data:`BEAT_MORPH_PAPER`).
    morph_backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(
        stem_channels=8, stem_stride=4, channels=(8, 16, 32), strides=(2, 2, 2), kernel=3))
    diffuse_backbone: BackboneConfig = field(default_factory=lambda: BackboneConfig(
        stem_channels=8, stem_stride=4, channels=(8, 16, 32), strides=(2, 2, 2), kernel=5))
    latent_dim: int = 32            # rhythm add-on output size
    latent_channels: int = 16       # 2D add-on output channels (per lead row)
    protos_per_class: tuple[int, int, int] = (2, 2, 2)
    morph_window: int = 2           # latent time steps spanned by a morphology prototype
    diffuse_steps: int = 4          # latent time steps (adaptive average pool) of a diffuse prototype
    # Initial (and, in the joint stage, frozen) last-layer weight from a prototype to the classes it does not
    # belong to. The reference uses -0.5; with cosine similarities of non-negative latents and ~100 prototypes
    # per branch, the -0.5 terms sum to a common-mode offset that swamps the own-class evidence, and the
    # joint stage then pushes every prototype away from the data (measured: the morphology branch's
    # similarities collapsed to a constant on the demo data). 0 lets each class be scored by its own
    # prototypes in the joint stage; negative evidence is learned in the last-layer stage.
    off_class_weight: float = 0.0
    own_class_weight: float = 1.0
    # Last activation of the add-on layers: "sigmoid" (reference) or "relu" (sparse, non-negative latents,
    # which make per-lead shares of a match more contrasted).
    addon_activation: str = "sigmoid"

    def __post_init__(self) -> None:
        if self.arch not in ARCHES:
            raise ConfigError(f"unknown architecture {self.arch!r}; choose one of {ARCHES}")
        if self.fs <= 0 or self.n_samples <= 0:
            raise ConfigError("fs and n_samples must be positive")
        if self.morph_window < 1 or self.diffuse_steps < 1:
            raise ConfigError("morph_window and diffuse_steps must be >= 1")
        if self.addon_activation not in ("sigmoid", "relu"):
            raise ConfigError(f"addon_activation must be 'sigmoid' or 'relu', not {self.addon_activation!r}")
        if len(self.protos_per_class) != 3 or min(self.protos_per_class) < 1:
            raise ConfigError("protos_per_class needs three positive counts (rhythm, morphology, diffuse)")


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
    patience: int = 3
    unique_projection: bool = False
    # Train the branch last layers in the joint stage too (the reference keeps them frozen at +1/off_class).
    joint_last_layer: bool = False
    seed: int = 0
    threads: int = 2
    eval_batch_size: int = 256
    # The small-data recipe (protoecg.training.warmup; defaults = the reference recipe, so older run
    # configurations keep their meaning). Presets switch them on.
    warmup_epochs: int = 0           # backbones + add-ons with plain heads before prototypes exist
    proto_init: str = "random"       # "random" (uniform, reference) or "data" (latents of class ECGs)
    joint_calibration: bool = False  # per-class affine calibration of the joint-stage BCE (training only)
    augment: bool = False            # circular shift, amplitude/lead gain, noise (warm-up and joint)
    min_epochs: int = 0              # no early stop before this many epochs (warm-up and joint)
    smooth: int = 1                  # early stopping on the mean of the last `smooth` validation scores
    aux_head: float = 0.0            # weight of the warm-up head's BCE kept on in the joint stage
    init_from: str | None = None     # fine-tune: start from this bundle's weights (same architecture)

    def __post_init__(self) -> None:
        if self.proto_init not in ("random", "data"):
            raise ConfigError(f"proto_init must be 'random' or 'data', not {self.proto_init!r}")
        if self.smooth < 1 or self.min_epochs < 0 or self.warmup_epochs < 0:
            raise ConfigError("smooth must be >= 1; min_epochs and warmup_epochs >= 0")


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


# The small-data recipe, measured on the real PTB-XL 300 (README "Learning real ECGs").
_RECIPE = dict(warmup_epochs=15, aux_head=1.0, proto_init="data", joint_calibration=True, augment=True, min_epochs=6,
               smooth=3, patience=4)


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
