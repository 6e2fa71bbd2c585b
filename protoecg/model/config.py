"""Architecture configuration: the backbones and the three-branch network (or the baseline).

Everything shape-related is derived from :class:`ModelConfig` (``fs``, ``n_samples``, strides, window
length): no module assumes 100 Hz or 1000 samples. It lives with the model so that building or loading a
network never goes through the training package; a bundle's ``config.json`` stores it inside the run
configuration (:mod:`protoecg.config`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from data_access.ptbxl import BRANCHES

from ..errors import ConfigError

__all__ = ["ARCHES", "BRANCHES", "BackboneConfig", "ModelConfig"]

ARCHES: tuple[str, ...] = ("protoecg", "baseline")
BACKBONE_KINDS: tuple[str, ...] = ("rows2d", "folded1d")


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
    # Stem stride 4 then three stride-2 stages: 32 input samples per latent step. Kernel 3 in the
    # morphology blocks keeps the receptive field of a latent step at 1.75 s at 100 Hz.
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
