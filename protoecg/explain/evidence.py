"""Prototype evidence ("this looks like that") from one forward pass of a bundle's model.

The fused logit of label ``c`` is ``Σ_j W[c, j] · s̃_j + b_c`` where ``s̃_j`` is prototype ``j``'s pooled
similarity standardised by its branch (``fusion_mean`` / ``fusion_std``). A prototype's *contribution*
is therefore the exact additive term ``W[c, j] · s̃_j`` (weight × similarity); contributions plus the bias
sum to the logit. The matched window of a windowed (morphology) prototype is the receptive field of its
best latent window (``bundle.window_seconds``); rhythm and diffuse prototypes match the whole record.
Leads that drove a match are those whose per-lead cosine term at the best window exceeds the uniform
share (1/12 of the similarity), strongest first.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from data_access.leads import CANONICAL_LEADS, LEAD_GROUPS

from .errors import ExplainError
from .types import PrototypeEvidence

if TYPE_CHECKING:  # pragma: no cover
    from ..bundle import Bundle

BRANCH_ORDER = ("rhythm", "morphology", "diffuse")
MAX_LEADS = 4


@dataclass(frozen=True)
class FusionView:
    """The fusion layer of a bundle as numpy arrays, and where each prototype sits in its input."""

    weight: np.ndarray            # (C, P_total)
    bias: np.ndarray              # (C,)
    mean: np.ndarray              # (3,) per-branch similarity mean
    std: np.ndarray               # (3,)
    offsets: dict[str, int]       # first fusion column of each branch
    sizes: dict[str, int]

    @classmethod
    def of(cls, bundle: Bundle) -> "FusionView":
        model = bundle.model
        if not hasattr(model, "fusion") or bundle.prototypes.empty:
            raise ExplainError("this bundle has no prototypes (a black-box baseline?): prototype evidence "
                               "and counterfactual latents need the prototype network")
        sizes = {b: int(model.branch(b).n_prototypes) for b in BRANCH_ORDER}
        offs, o = {}, 0
        for b in BRANCH_ORDER:
            offs[b] = o
            o += sizes[b]
        return cls(model.fusion.weight.detach().cpu().numpy().astype(np.float64),
                   model.fusion.bias.detach().cpu().numpy().astype(np.float64),
                   model.fusion_mean.detach().cpu().numpy().astype(np.float64),
                   model.fusion_std.detach().cpu().numpy().astype(np.float64), offs, sizes)

    def latent(self, sims: Mapping[str, np.ndarray]) -> np.ndarray:
        """(N, P_total) branch-standardised similarities: the fusion layer's input."""
        parts = [(np.asarray(sims[b], dtype=np.float64) - self.mean[i]) / self.std[i]
                 for i, b in enumerate(BRANCH_ORDER)]
        return np.concatenate(parts, axis=1)


def _lead_groups(leads: Sequence[str], weights: Sequence[float]) -> tuple[str, ...]:
    score: dict[str, float] = {}
    for lead, w in zip(leads, weights):
        for g, members in LEAD_GROUPS.items():
            if lead in members:
                score[g] = score.get(g, 0.0) + float(w)
    return tuple(sorted(score, key=lambda g: -score[g]))


def driving_leads(terms: np.ndarray) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Leads whose per-lead term is above the uniform share, strongest first (≤ 4), and their groups."""
    t = np.asarray(terms, dtype=np.float64)
    total = t.sum()
    if not np.isfinite(total) or total <= 0:
        return (), ()
    order = np.argsort(-t)
    keep = [int(i) for i in order if t[i] > total / len(t)][:MAX_LEADS] or [int(order[0])]
    leads = tuple(CANONICAL_LEADS[i] for i in keep)
    return leads, _lead_groups(leads, [t[i] for i in keep])


class EvidenceBuilder:
    """Precomputed tables for fast evidence on one bundle (one instance per bundle)."""

    def __init__(self, bundle: Bundle, source_labels: Mapping[int, Sequence[str]] | None = None) -> None:
        self.bundle = bundle
        self.fusion = FusionView.of(bundle)
        t = bundle.prototypes.reset_index(drop=True)
        self.table = t
        self.col = np.array([self.fusion.offsets[b] + int(i) for b, i in zip(t["branch"], t["branch_index"])])
        self.code_index = {c: i for i, c in enumerate(bundle.codes)}
        self.source_labels = dict(source_labels or {})
        if "source_labels" in t.columns:
            for sid, labs in zip(t["source_ecg_id"], t["source_labels"]):
                if int(sid) >= 0 and labs:
                    self.source_labels.setdefault(int(sid), tuple(str(labs).split()))
        self._segments: dict[str, tuple[np.ndarray | None, tuple[float, float]]] = {}

    def _source(self, pid: str) -> tuple[np.ndarray | None, tuple[float, float]]:
        if pid not in self._segments:
            try:
                sig, s, e = self.bundle.prototype_source(pid)
                a, b = int(round(s * self.bundle.fs)), int(round(e * self.bundle.fs))
                self._segments[pid] = (sig[:, a:b], (s, e))
            except KeyError:
                self._segments[pid] = (None, (0.0, 0.0))
        return self._segments[pid]

    def evidence(self, pred, n: int, label: str, top_k: int = 5) -> tuple[PrototypeEvidence, ...]:
        """Top ``top_k`` prototypes by contribution to ``label``'s fused logit for ECG ``n`` of ``pred``."""
        if label not in self.code_index:
            raise ExplainError(f"unknown label {label!r}; the model predicts {len(self.code_index)} PTB-XL codes")
        c = self.code_index[label]
        lat = self.fusion.latent({b: pred.sims[b][n:n + 1] for b in BRANCH_ORDER})[0]
        contrib = self.fusion.weight[c, self.col] * lat[self.col]
        order = np.argsort(-contrib)
        chosen = [int(i) for i in order[:top_k] if contrib[i] > 0] or [int(order[0])]
        duration = self.bundle.n_samples / self.bundle.fs
        out = []
        for i in chosen:
            row = self.table.iloc[i]
            branch, bi, pid = str(row["branch"]), int(row["branch_index"]), str(row["prototype_id"])
            sim = float(pred.sims[branch][n, bi])
            if branch in pred.best_window and branch == "morphology":
                window = self.bundle.window_seconds(branch, int(pred.best_window[branch][n, bi]))
            else:
                window = (0.0, duration)
            if branch in pred.lead_contrib:
                leads, groups = driving_leads(pred.lead_contrib[branch][n, bi])
            else:
                leads, groups = (), ("all leads (global rhythm features)",)
            seg, src_win = self._source(pid)
            sid = int(row["source_ecg_id"])
            labs = self.source_labels.get(sid, (str(row["class"]),) if sid >= 0 else ())
            out.append(PrototypeEvidence(
                prototype_id=pid, branch=branch, class_code=str(row["class"]), similarity=sim,
                weight=float(self.fusion.weight[c, self.col[i]]), contribution=float(contrib[i]),
                window_s=(float(window[0]), float(window[1])), leads=leads, lead_groups=groups,
                source_ecg_id=str(sid) if sid >= 0 else "not projected", source_labels=tuple(labs),
                source_window_s=src_win, source_segment=seg))
        return tuple(out)
