"""The three-branch prototype network with per-branch-normalised fusion.

The 71 codes are partitioned among the branches (``branch_of``); each branch classifies its own codes from
its prototype similarities, so the concatenated branch logits (``combined_logits``) already cover all 71
codes. The fusion layer sees every branch's similarities, each branch standardised by its own training
mean and standard deviation (buffers ``fusion_mean``/``fusion_std``), and predicts all 71 codes
(``fused_logits``; also returned as ``logits``). Before the fusion stage has run, the fusion layer is an
exact re-expression of the branch classifiers (see :meth:`ProtoECGNet.init_fusion`).
"""
from __future__ import annotations

import torch
from torch import nn

from .config import BRANCHES, ModelConfig
from .branches import PrototypeBranch, RhythmBranch, WindowedBranch


class ProtoECGNet(nn.Module):
    """Rhythm (1D, global), morphology (2D, windowed) and diffuse (2D, whole-record) prototype branches."""

    def __init__(self, cfg: ModelConfig, codes: tuple[str, ...], branch_of: dict[str, str]) -> None:
        super().__init__()
        self.cfg = cfg
        self.codes = tuple(codes)
        self.branch_of = {c: branch_of[c] for c in self.codes}
        k_r, k_m, k_d = cfg.protos_per_class
        head = {"off_class": cfg.off_class_weight, "own_class": cfg.own_class_weight,
                "activation": cfg.addon_activation}
        idx = {b: [i for i, c in enumerate(self.codes) if self.branch_of[c] == b] for b in BRANCHES}
        for b in BRANCHES:
            if not idx[b]:
                raise ValueError(f"no code is assigned to the {b} branch")
            self.register_buffer(f"class_index_{b}", torch.tensor(idx[b], dtype=torch.long))
        self.branches = nn.ModuleDict({
            "rhythm": RhythmBranch(cfg.rhythm_backbone, cfg.n_leads, cfg.latent_dim, len(idx["rhythm"]), k_r,
                                   **head),
            "morphology": WindowedBranch(cfg.morph_backbone, cfg.n_leads, cfg.latent_channels,
                                         len(idx["morphology"]), k_m, window=cfg.morph_window,
                                         **head),
            "diffuse": WindowedBranch(cfg.diffuse_backbone, cfg.n_leads, cfg.latent_channels,
                                      len(idx["diffuse"]), k_d, window=cfg.diffuse_steps,
                                      pool_steps=cfg.diffuse_steps, **head),
        })
        n_windows = self.branches["morphology"].n_windows(cfg.n_samples)
        if n_windows < 1:
            raise ValueError(f"{cfg.n_samples} samples give fewer latent steps than the morphology window "
                             f"({cfg.morph_window}); shorten the window or the strides")
        p_total = sum(br.n_prototypes for br in self.branches.values())
        self.fusion = nn.Linear(p_total, len(self.codes))
        self.register_buffer("fusion_mean", torch.zeros(len(BRANCHES)))
        self.register_buffer("fusion_std", torch.ones(len(BRANCHES)))
        self.init_fusion()

    def class_index(self, branch: str) -> torch.Tensor:
        """Positions (in ``codes``) of the branch's classes, in branch-local order."""
        return getattr(self, f"class_index_{branch}")

    def branch(self, name: str) -> PrototypeBranch:
        return self.branches[name]  # type: ignore[return-value]

    def proto_codes(self, branch: str) -> list[str]:
        """The code of every prototype of ``branch``, in prototype order."""
        ci = self.class_index(branch).tolist()
        return [self.codes[ci[k]] for k in self.branch(branch).proto_class.tolist()]

    def normalised_sims(self, sims: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [(sims[b] - self.fusion_mean[i]) / self.fusion_std[i] for i, b in enumerate(BRANCHES)]
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def init_fusion(self, mean: torch.Tensor | None = None, std: torch.Tensor | None = None) -> None:
        """Set the normalisation and make fused logits equal the branch logits (a warm start)."""
        if mean is not None:
            self.fusion_mean.copy_(mean)
        if std is not None:
            self.fusion_std.copy_(std)
        w = torch.zeros_like(self.fusion.weight)
        b = torch.zeros_like(self.fusion.bias)
        col = 0
        for i, name in enumerate(BRANCHES):
            br = self.branch(name)
            wl = br.last_layer.weight                                    # (C_b, P_b)
            rows = self.class_index(name)
            w[rows, col:col + br.n_prototypes] = wl * self.fusion_std[i]
            b[rows] = wl.sum(dim=1) * self.fusion_mean[i]
            col += br.n_prototypes
        self.fusion.weight.copy_(w)
        self.fusion.bias.copy_(b)

    def forward(self, x: torch.Tensor, with_leads: bool = False,
                prototypes: dict[str, torch.Tensor] | None = None) -> dict:
        """x (N, 12, T) → dict with ``logits`` (fused, N x 71), ``combined_logits`` (branch classifiers,
        N x 71), ``sims`` {branch: (N, P_b)}, ``branch_logits`` {branch: (N, C_b)}, and for the windowed
        branches ``maps`` {branch: (N, P_b, W_b)}, ``best`` {branch: (N, P_b)} and, when ``with_leads``,
        ``lead_contrib`` {branch: (N, P_b, 12)}. ``prototypes`` {branch: tensor} replaces a branch's learned
        prototypes for this call (training with prototypes tied to their source ECGs)."""
        protos = prototypes or {}
        outs = {b: self.branches[b](x, with_leads=with_leads, prototypes=protos.get(b)) for b in BRANCHES}
        combined = x.new_zeros(x.shape[0], len(self.codes))
        for b in BRANCHES:
            combined[:, self.class_index(b)] = outs[b]["logits"]
        sims = {b: outs[b]["sims"] for b in BRANCHES}
        fused = self.fusion(self.normalised_sims(sims))
        res = {"logits": fused, "fused_logits": fused, "combined_logits": combined, "sims": sims,
               "branch_logits": {b: outs[b]["logits"] for b in BRANCHES}, "latents": {b: outs[b]["latent"]
                                                                                    for b in BRANCHES},
               "maps": {b: outs[b]["map"] for b in BRANCHES if "map" in outs[b]},
               "best": {b: outs[b]["best"] for b in BRANCHES if "best" in outs[b]}}
        if with_leads:
            res["lead_contrib"] = {b: outs[b]["lead_contrib"] for b in BRANCHES if "lead_contrib" in outs[b]}
        return res
