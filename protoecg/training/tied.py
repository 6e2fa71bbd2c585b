"""Fine-tuning after projection with every projected prototype tied to its source window.

Projection replaces each learned prototype by the latent of one window of a training ECG of its class.
The network was trained with the free prototypes, so that jump costs accuracy on small data (the
validation macro AUROC of the branch classifiers fell 0.683 -> 0.633 on the real PTB-XL folds 1-8/9 in
one measured run). In the ``tied`` stage each projected prototype is *defined* as the latent of its
source window under the current network, recomputed at every step with gradient, so the backbones and
add-ons adapt to prototypes that are real ECG windows, and at every point of the stage each prototype is
exactly the latent of its source window (the explanation "this ECG looks like that window of that ECG"
stays true). The source ECGs and windows chosen by projection do not change; prototypes that were not
projected (their class is absent from the training data) stay as they are.

Source latents are computed with the branch in evaluation mode (batch-norm running statistics), which is
what inference computes, so the prototypes written into the model at the end are the ones that were used.
A step recomputes at most ``max_sources`` source ECGs per branch (a random subset; the other prototypes
keep the value of the last full refresh, at most one epoch old), which bounds the cost when a branch's
prototypes come from hundreds of ECGs; every validation score and the end of the stage use a full refresh,
so what is scored and kept is exact.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import torch

from ..model.config import BRANCHES
from ..model.network import ProtoECGNet

log = logging.getLogger(__name__)


class TiedPrototypes:
    """The projected prototypes of ``model`` as functions of their source ECGs (``x_train[source_index]``)."""

    def __init__(self, model: ProtoECGNet, x_train: np.ndarray, table: pd.DataFrame, max_sources: int = 0,
                 seed: int = 0) -> None:
        self.model = model
        self.max_sources = max_sources
        self.gen = torch.Generator().manual_seed(seed + 41)
        self.parts: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        for b in BRANCHES:
            rows = table[(table["branch"] == b) & (table["source_index"] >= 0)]
            if rows.empty:
                continue
            src, pos = np.unique(rows["source_index"].to_numpy(int), return_inverse=True)
            self.parts[b] = (torch.from_numpy(np.ascontiguousarray(x_train[src])),
                             torch.as_tensor(rows["branch_index"].to_numpy(int)),
                             torch.as_tensor(pos.reshape(-1)),
                             torch.as_tensor(rows["window_index"].to_numpy(int).clip(min=0)))

    @property
    def n_tied(self) -> int:
        return sum(len(p[1]) for p in self.parts.values())

    def compute(self, full: bool = False) -> dict[str, torch.Tensor]:
        """{branch: prototypes} with the projected ones recomputed from their source windows (with grad):
        all of them when ``full`` or when a branch has at most ``max_sources`` sources, else those of a
        random subset of ``max_sources`` source ECGs."""
        out = {}
        for b, (x_src, p_idx, pos, win) in self.parts.items():
            br = self.model.branch(b)
            if not full and 0 < self.max_sources < len(x_src):
                pick = torch.randperm(len(x_src), generator=self.gen)[:self.max_sources]
                keep = torch.isin(pos, pick)
                remap = torch.full((len(x_src),), -1, dtype=torch.long)
                remap[pick] = torch.arange(len(pick))
                x_src, p_idx, pos, win = x_src[pick], p_idx[keep], remap[pos[keep]], win[keep]
            was = br.training
            br.eval()
            try:
                z = br.latent(x_src)
            finally:
                br.train(was)
            if z.dim() == 2:                                     # rhythm: (S, D), global prototypes
                vals = z[pos]
            else:                                                # (S, C, L, T') -> windows (S, C, L, W, w)
                vals = z.unfold(-1, br.window, 1)[pos, :, :, win]
            out[b] = br.prototypes.detach().index_put((p_idx,), vals.to(br.prototypes.dtype))
        return out

    @torch.no_grad()
    def write(self) -> None:
        """Store the tied values as the model's prototypes (before scoring, and at the end)."""
        for b, protos in self.compute(full=True).items():
            self.model.branch(b).prototypes.data.copy_(protos)
