"""The cell-substitution counterfactual search against known score functions (no model needed)."""
from __future__ import annotations

import numpy as np
import pytest

from protoecg.explain.cf_comparators import random_order_flip, random_substitution
from protoecg.explain.counterfactual import (CellGrid, CFConfig, CounterfactualError, align_donor, change_metrics,
                                             search_counterfactual)

FS = 100.0
T = 1000
LEAD = CFConfig(cells="lead")    # one lead per cell: the search mechanics on their own


def _beats(rng: np.random.Generator, rr_s: float = 0.8, offset_s: float = 0.1, amp: float = 1.0) -> np.ndarray:
    """A crude 12-lead beat train: Gaussian QRS spikes every rr_s, lead-specific gains, some noise."""
    t = np.arange(T) / FS
    x = np.zeros(T)
    for c in np.arange(offset_s, 10, rr_s):
        x += amp * np.exp(-0.5 * ((t - c) / 0.02) ** 2)
    gains = np.linspace(0.5, 1.5, 12)[:, None]
    return (gains * x + 0.01 * rng.standard_normal((12, T))).astype(np.float32)


def test_align_donor_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    q = _beats(rng, offset_s=0.30)
    d = _beats(rng, offset_s=0.13)
    shifted, lag = align_donor(q, d, FS, max_lag_s=0.4)
    assert lag == 17
    assert np.corrcoef(shifted[1, 50:], q[1, 50:])[0, 1] > 0.9


def test_cell_masks_cover_exactly_the_cells_and_blend_outside():
    grid = CellGrid(12, T, FS, window_s=0.5, blend=4)
    assert grid.n_windows == 20 and grid.n_cells == 240
    m = grid.masks([[3 * 20 + 5]])[0]           # lead 3, window 5 = samples 250..299
    assert (m[3, 250:300] == 1).all()
    assert (m[3, 246:250] > 0).all() and (m[3, 246:250] < 1).all()
    assert (m[3, 300:304] > 0).all() and (m[3, :246] == 0).all() and (m[3, 304:] == 0).all()
    assert m[[0, 1, 2, 4]].sum() == 0
    hard = CellGrid(12, T, FS, window_s=0.5, blend=0).masks([[65]])[0]
    assert hard.sum() == 50


def _region_score(lead: int, s0: int, s1: int):
    """A 'model' whose logit is the peak amplitude of one lead inside a fixed time region."""
    def score(batch: np.ndarray) -> np.ndarray:
        return batch[:, lead, s0:s1].max(axis=1)
    return score


def test_search_finds_the_minimal_relevant_cells_to_positive():
    rng = np.random.default_rng(1)
    q = _beats(rng, amp=0.5)
    donor = _beats(rng, amp=2.0)
    score = _region_score(lead=7, s0=300, s1=400)       # V2 between 3 and 4 s
    res = search_counterfactual(q, donor[None], score, threshold=1.5, direction="to_positive", fs=FS, cfg=LEAD)
    assert res.valid
    assert res.score_before < 1.5 <= res.score_after
    assert all(lead == 7 for lead, _ in res.cells)
    assert 1 <= len(res.cells) <= 2                      # one beat in 3-4 s is enough
    assert float(score(res.signal[None])[0]) == pytest.approx(res.score_after)
    met = change_metrics(q, res.signal, res.mask, FS)
    assert met["leads_changed"] == [7]
    assert met["fraction_changed"] < 0.01
    assert met["l2"] > 0 and met["l1"] > 0
    assert res.model_calls <= CFConfig().max_model_calls and res.n_scored > res.model_calls


def test_search_to_negative_and_nonlinear_pooling():
    rng = np.random.default_rng(2)
    q = _beats(rng, amp=2.0)
    donor = _beats(rng, amp=0.3)

    def score(batch: np.ndarray) -> np.ndarray:   # max over leads 0-2 of the mean |x| (a pooled feature)
        return np.abs(batch[:, :3]).mean(axis=2).max(axis=1)

    thr = float(score(q[None])[0]) * 0.8
    cfg = CFConfig(exact_prune_max=240, max_model_calls=60, cells="lead")   # let exact pruning run to the end
    res = search_counterfactual(q, donor[None], score, thr, "to_negative", FS, cfg)
    assert res.valid and res.score_after < thr
    leads = {lead for lead, _ in res.cells}
    assert leads <= {0, 1, 2}
    # exact pruning ran to the end: removing any single chosen cell must break the flip (1-minimal set)
    grid = CellGrid(12, T, FS, 0.5, 4)
    flat = [lead * grid.n_windows + w for lead, w in res.cells]
    al, _ = align_donor(q, donor, FS)
    for i in range(len(flat)):
        rest = flat[:i] + flat[i + 1:]
        assert score(grid.apply(q, al, [rest]))[0] >= thr


def test_no_valid_donor_reports_invalid_and_bad_inputs_raise():
    rng = np.random.default_rng(3)
    q = _beats(rng, amp=0.5)
    weak = _beats(rng, amp=0.6)
    res = search_counterfactual(q, weak[None], _region_score(7, 300, 400), 5.0, "to_positive", FS)
    assert not res.valid and res.cells == () and res.donor_index == -1 and res.model_calls == 1
    with pytest.raises(CounterfactualError):
        search_counterfactual(q, weak[None], _region_score(7, 300, 400), 5.0, "sideways", FS)
    with pytest.raises(CounterfactualError):
        search_counterfactual(q, weak[None, :6], _region_score(7, 300, 400), 5.0, "to_positive", FS)


def test_second_donor_is_used_when_the_first_cannot_flip():
    rng = np.random.default_rng(4)
    q = _beats(rng, amp=0.5)
    donors = np.stack([_beats(rng, amp=0.6), _beats(rng, amp=2.5)])
    res = search_counterfactual(q, donors, _region_score(7, 300, 400), 1.5, "to_positive", FS)
    assert res.valid and res.donor_index == 1


def test_random_substitution_matches_the_size():
    rng = np.random.default_rng(5)
    q = _beats(rng)
    d = _beats(rng, amp=2)
    sig, m = random_substitution(q, d, 6, FS, np.random.default_rng(0), CFConfig(blend_samples=0))
    assert (m > 0).sum() == 6 * 50
    assert not np.allclose(sig, q)


def test_gradient_ranking_agrees_with_exhaustive_ranking_and_scores_fewer_ecgs():
    rng = np.random.default_rng(6)
    q = _beats(rng, amp=0.5)
    donor = _beats(rng, amp=2.0)
    w = np.zeros((12, T), np.float32)
    w[4, 600:700] = 0.01                        # a linear 'model': mean of aVL over 6-7 s

    def score(batch):
        return (batch * w).sum(axis=(1, 2))

    def grad(batch):
        return score(batch), np.broadcast_to(w, batch.shape).copy()

    thr = float(score(donor[None])[0]) * 0.5 + float(score(q[None])[0]) * 0.5
    slow = search_counterfactual(q, donor[None], score, thr, "to_positive", FS, LEAD)
    fast = search_counterfactual(q, donor[None], score, thr, "to_positive", FS, LEAD, grad_fn=grad)
    assert slow.valid and fast.valid
    assert {lead for lead, _ in fast.cells} == {4} and fast.cells == slow.cells
    assert fast.n_scored < slow.n_scored / 3


def test_screening_prefers_the_donor_that_needs_fewer_cells_over_the_nearest():
    """Donor 0 (given first: the nearest) raises a linear score a little everywhere, donor 1 strongly in
    one lead: both flip when fully substituted, but donor 1 needs far fewer cells, and the screen finds it."""
    rng = np.random.default_rng(7)
    q = _beats(rng, amp=0.5)
    w = np.full((12, T), 1e-3, np.float32)       # every sample counts a little ...
    w[2] = 2e-2                                   # ... lead III a lot

    def score(batch):
        return (batch * w).sum(axis=(1, 2))

    def grad(batch):
        return score(batch), np.broadcast_to(w, batch.shape).copy()

    spread = q + 0.2                              # a small change in every lead
    local = q.copy()
    local[2] += 0.5                               # a large change in lead III only
    thr = float(score(q[None])[0]) + 0.5 * min(float(score(spread[None])[0] - score(q[None])[0]),
                                               float(score(local[None])[0] - score(q[None])[0]))
    donors = np.stack([spread, local]).astype(np.float32)
    cfg = CFConfig(blend_samples=0, max_lag_s=0.0, cells="lead")
    res = search_counterfactual(q, donors, score, thr, "to_positive", FS, cfg, grad_fn=grad)
    assert res.valid and res.donor_index == 1
    assert {lead for lead, _ in res.cells} == {2}
    unscreened = search_counterfactual(q, donors, score, thr, "to_positive", FS,
                                       CFConfig(blend_samples=0, max_lag_s=0.0, screen_steps=0, donor_tries=1,
                                                cells="lead"),
                                       grad_fn=grad)
    assert unscreened.valid and unscreened.donor_index == 0 and len(unscreened.cells) >= 2 * len(res.cells)


def test_diverse_candidates_take_the_nearest_donor_of_each_kind():
    from protoecg.explain.donors import DonorBank

    # 6 donors, all negative for label 0; kinds by their most confident other label: 1,1,1,2,2,1
    logits = np.array([[-5, 3, 0], [-5, 2, 0], [-5, 4, 1], [-5, 0, 3], [-5, 0, 5], [-5, 6, 0]], float)
    lat = np.arange(6, dtype=float)[:, None]          # distance from a query at 0 = index
    bank = DonorBank(np.zeros((6, 12, 10), np.float32), tuple("abcdef"), logits, lat, None, "test")
    thr = np.zeros(3)
    near = bank.candidates(0, 0.0, "to_negative", np.zeros(1), k=2)
    assert list(near) == [0, 1]
    diverse = bank.candidates(0, 0.0, "to_negative", np.zeros(1), k=2, thresholds_logit=thr)
    assert list(diverse) == [0, 3]                     # nearest of kind 1, nearest of kind 2
    assert list(bank.candidates(0, 0.0, "to_negative", np.zeros(1), k=4, thresholds_logit=thr)) == [0, 1, 2, 3]


def test_random_order_flip_finds_a_flipping_prefix_larger_than_the_search():
    rng = np.random.default_rng(8)
    q = _beats(rng, amp=0.5)
    donor = _beats(rng, amp=2.0)
    score = _region_score(lead=7, s0=300, s1=400)
    res = search_counterfactual(q, donor[None], score, 1.5, "to_positive", FS)
    sig, mask, ok = random_order_flip(q, donor, score, 1.5, "to_positive", FS, np.random.default_rng(0))
    assert ok and float(score(sig[None])[0]) >= 1.5
    assert (mask > 0).mean() > (res.mask > 0).mean()
    never = random_order_flip(q, q, score, 1.5, "to_positive", FS, np.random.default_rng(0))
    assert never[2] is False


@pytest.mark.parametrize("kind, leads", [("lead", {7}), ("lead_group", {6, 7}), ("all", set(range(12)))])
def test_cell_kinds_substitute_leads_together(kind, leads):
    """The score reads V2 only; a cell spans V2 alone, the septal group (V1, V2) or all 12 leads."""
    rng = np.random.default_rng(1)
    q = _beats(rng, amp=0.5)
    donor = _beats(rng, amp=2.0)
    res = search_counterfactual(q, donor[None], _region_score(7, 300, 400), 1.5, "to_positive", FS,
                                CFConfig(cells=kind, blend_samples=0))
    assert res.valid
    assert {lead for lead, _ in res.cells} == leads
    assert set(np.flatnonzero((res.mask > 0).any(axis=1))) == leads
    windows = {w for _, w in res.cells}
    assert len(res.cells) == len(leads) * len(windows) and 1 <= len(windows) <= 2
    with pytest.raises(CounterfactualError):
        CFConfig(cells="beats")
