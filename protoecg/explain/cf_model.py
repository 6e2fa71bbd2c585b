"""Counterfactuals bound to a bundle: the label's fused logit as score, donors from a :class:`DonorBank`.

The scoring helpers (``forward``, ``LabelScorer``, ``latent_of``, ``prob_to_logit``, ``warm_up``) live in
:mod:`protoecg.explain.scoring` and are re-exported here."""
from __future__ import annotations

from typing import TYPE_CHECKING

import time

import numpy as np

from data_access.leads import CANONICAL_LEADS

from .cf_cells import CFConfig, change_metrics
from .counterfactual import search_counterfactual
from .donors import DonorBank
from .errors import ExplainError
from .evidence import FusionView
from .scoring import LabelScorer, forward, is_positive, latent_of, prob_to_logit, reaches, warm_up  # noqa: F401
from .types import CounterfactualResult

if TYPE_CHECKING:  # pragma: no cover
    from ..bundle import Bundle


def counterfactual_for_label(bundle: Bundle, fusion: FusionView, bank: DonorBank, x: np.ndarray, label: str,
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
        direction = "to_negative" if is_positive(logits0[0, c], thr) else "to_positive"
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
    valid = reaches(score_after, thr, direction)
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
