"""Counterfactuals bound to a bundle: the label's fused logit as score, donors from a :class:`DonorBank`."""
from __future__ import annotations

import time

import numpy as np
import torch

from data_access.leads import CANONICAL_LEADS

from .counterfactual import CFConfig, change_metrics, search_counterfactual
from .donors import DonorBank
from .errors import ExplainError
from .evidence import FusionView
from .types import CounterfactualResult


def prob_to_logit(p: float) -> float:
    """The logit of a probability threshold (so ``logit >= prob_to_logit(t)`` ⇔ ``sigmoid(logit) >= t``).

    A threshold of 0 (every ECG positive) maps to -inf and 1 to +inf, so such labels can never be
    flipped to the other side, exactly as the thresholded decision says."""
    p = float(p)
    if p <= 0.0:
        return float("-inf")
    if p >= 1.0:
        return float("inf")
    return float(np.log(p) - np.log1p(-p))


BUCKETS = (1, 8, 32)


def _bucketed(x: np.ndarray) -> list[tuple[np.ndarray, int]]:
    """Split a batch into chunks padded to a few fixed sizes.

    oneDNN plans every new input shape anew (hundreds of ms on 2 cores); with fixed sizes the plans are
    reused, which makes a search of many differently sized batches fast after the first ECG.
    """
    out = []
    top = BUCKETS[-1]
    for i in range(0, len(x), top):
        part = x[i:i + top]
        size = next(b for b in BUCKETS if b >= len(part))
        if size > len(part):
            part = np.concatenate([part, np.zeros((size - len(part),) + part.shape[1:], part.dtype)])
        out.append((np.ascontiguousarray(part, dtype=np.float32), min(top, len(x) - i)))
    return out


def forward(model: torch.nn.Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Fused logits (N, C) and per-branch similarities of preprocessed signals, in fixed-size chunks."""
    logits, sims = [], []
    with torch.no_grad():
        for part, n in _bucketed(np.asarray(x, dtype=np.float32)):
            out = model(torch.from_numpy(part))
            logits.append(out["logits"][:n].numpy())
            sims.append({k: v[:n].numpy() for k, v in out["sims"].items()})
    return {"logits": np.concatenate(logits).astype(np.float64),
            "sims": {k: np.concatenate([s[k] for s in sims]) for k in sims[0]}}


class LabelScorer:
    """``score(batch) -> (B,)`` and ``grad(batch) -> (scores, d/dx)`` of one label's fused logit."""

    def __init__(self, model: torch.nn.Module, label_index: int) -> None:
        self.model = model.eval()
        self.index = label_index

    def score(self, batch: np.ndarray) -> np.ndarray:
        return forward(self.model, batch)["logits"][:, self.index]

    def grad(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores, grads = [], []
        for part, n in _bucketed(np.asarray(batch, dtype=np.float32)):
            x = torch.from_numpy(part).requires_grad_(True)
            s = self.model(x)["logits"][:, self.index]
            (g,) = torch.autograd.grad(s.sum(), x)
            scores.append(s.detach().numpy()[:n].astype(np.float64))
            grads.append(g.numpy()[:n])
        return np.concatenate(scores), np.concatenate(grads)


def latent_of(model: torch.nn.Module, fusion: FusionView, signals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits (B, C), fusion latents (B, D)) of preprocessed signals."""
    out = forward(model, signals)
    return out["logits"], fusion.latent(out["sims"])


def warm_up(model: torch.nn.Module, n_samples: int) -> None:
    """Run each fixed batch shape once (forward and gradient) so later calls reuse the plans."""
    for b in BUCKETS:
        forward(model, np.zeros((b, 12, n_samples), np.float32))
        LabelScorer(model, 0).grad(np.zeros((b, 12, n_samples), np.float32))


def counterfactual_for_label(bundle, fusion: FusionView, bank: DonorBank, x: np.ndarray, label: str,
                             direction: str | None = None, cfg: CFConfig = CFConfig(),
                             use_gradients: bool = True) -> CounterfactualResult:
    """Search a (lead × window) substitution counterfactual flipping ``label`` for the model input ``x``.

    ``direction`` defaults to the opposite of the model's current decision. Validity, distances and
    plausibility are computed on the returned signal with the model itself.
    """
    t0 = time.perf_counter()
    codes = tuple(bundle.codes)
    if label not in codes:
        raise ExplainError(f"unknown label {label!r}; the model predicts {len(codes)} PTB-XL codes")
    c = codes.index(label)
    thr = prob_to_logit(bundle.thresholds[c])
    q = np.asarray(x, dtype=np.float32)
    logits0, lat0 = latent_of(bundle.model, fusion, q[None])
    if direction is None:
        direction = "to_negative" if logits0[0, c] >= thr else "to_positive"
    scorer = LabelScorer(bundle.model, c)
    all_thr = np.array([prob_to_logit(t) for t in bundle.thresholds])
    donor_idx = bank.candidates(c, thr, direction, lat0[0], k=cfg.max_donors, thresholds_logit=all_thr)
    calls_pre = 1
    if donor_idx.size == 0:
        return CounterfactualResult(label, direction, False, (), (), 0.0, 0.0, 0.0, 0.0,
                                    float(bank.nearest_distance(lat0)[0]), float(bank.nearest_distance(lat0)[0]),
                                    float(logits0[0, c]), float(logits0[0, c]), thr,
                                    f"none: no donor on the {direction[3:]} side in the {bank.source}",
                                    calls_pre, 1, time.perf_counter() - t0, q.copy())
    res = search_counterfactual(q, bank.signals[donor_idx], scorer.score, thr, direction, float(bundle.fs), cfg,
                                grad_fn=scorer.grad if use_gradients else None)
    logits1, lat1 = latent_of(bundle.model, fusion, res.signal[None])
    score_after = float(logits1[0, c])
    valid = score_after >= thr if direction == "to_positive" else score_after < thr
    met = change_metrics(q, res.signal, res.mask, float(bundle.fs))
    cells = tuple((CANONICAL_LEADS[lead], s, e) for lead, s, e in res.cell_spans_s(float(bundle.fs)))
    plaus = bank.nearest_distance(np.concatenate([lat1, lat0]))
    donor_id = bank.ids[int(donor_idx[res.donor_index])] if res.donor_index >= 0 else \
        f"none: no donor among the {len(donor_idx)} nearest flipped the label"
    return CounterfactualResult(
        label=label, direction=direction, valid=bool(valid), cells=cells,
        leads_changed=tuple(CANONICAL_LEADS[i] for i in met["leads_changed"]),
        seconds_changed=met["seconds_changed"], fraction_changed=met["fraction_changed"], l1=met["l1"],
        l2=met["l2"], plausibility=float(plaus[0]), plausibility_original=float(plaus[1]),
        score_before=float(logits0[0, c]), score_after=score_after, threshold_logit=thr, donor_id=donor_id,
        model_calls=res.model_calls + calls_pre + 1, n_scored=res.n_scored + 2,
        seconds=time.perf_counter() - t0, signal=res.signal)
