"""Model-faithful counterfactuals by substituting (lead × time-window) cells from a real donor ECG.

The search works with any ``score_fn(signals (B, 12, T)) -> (B,)`` (a label's logit) so it can be tested
with plain callables and bound to any model. A candidate counterfactual is the query with a set of cells
replaced by the time-aligned cells of a donor (a real ECG on the other side of the threshold), the cell
edges blended over a few samples so no step is introduced. Every step scores a whole batch in one call:

1. score all donors fully substituted (1 call); keep those that flip the label;
1b. screen them (2 calls for all, :func:`_screen`): a short gradient cell ranking per donor and the scores
   of a few prefixes of it; donors are tried in the order of their shortest flipping prefix. The donor
   matters most: the latent-nearest one can need half the record where another needs a few cells;
2. rank the donor's cells by their gain: with a ``grad_fn``, by path-integrated gradients along the straight
   line query → donor (one batched forward/backward; by completeness the cell sums add up to the score
   change of the full substitution), otherwise by scoring every single cell on its own (1 call);
3. score cumulative prefixes of that ranking around where the summed gains cross the threshold (1 call;
   a coarse ladder of all prefix lengths if none flips); the shortest flipping prefix is the start;
4. prune: drop the weakest cells first, as many as keep the flip (1 call); then, for sets of at most
   ``exact_prune_max`` cells, score every single-cell removal (1 call), drop the longest run of cells
   whose removal keeps the flip (1 call), and repeat while cells can be dropped and the budget lasts.

Validity is re-checked on the final signal, so a returned ``valid=True`` is what the model says. The
settings, cells and donor alignment are :mod:`protoecg.explain.cf_cells` (re-exported here); the random
comparators :mod:`protoecg.explain.cf_comparators`.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..decision import reaches
from .cf_cells import (CELL_KINDS, DIRECTIONS, CFConfig, CellGrid, CounterfactualError,  # noqa: F401
                       GradFn, ScoreFn, align_donor, cell_rows, change_metrics)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CFSearchResult:
    valid: bool
    cells: tuple[tuple[int, int], ...]     # (lead index, window index)
    signal: np.ndarray                     # the counterfactual (12, T)
    score_before: float
    score_after: float
    donor_index: int                       # index into the donors given (-1 when none flipped)
    donor_lag: int                         # samples the donor was shifted by to align it
    model_calls: int
    n_scored: int
    seconds: float
    mask: np.ndarray                       # (12, T) blend weights in [0, 1]; > 0 where the signal changed
    window_samples: int = 0                # cell length in samples

    def cell_spans_s(self, fs: float) -> list[tuple[int, float, float]]:
        """(lead index, start_s, end_s) of every substituted cell."""
        n = self.signal.shape[1]
        w = self.window_samples
        return [(lead, k * w / fs, min((k + 1) * w, n) / fs) for lead, k in self.cells]


def _flipped(scores: np.ndarray, thr: float, direction: str, margin: float) -> np.ndarray:
    return reaches(scores, thr, direction, margin)


def _prefix_sizes(n: int) -> list[int]:
    """Prefix lengths to score: every length up to 24, then a coarse ladder up to all ``n`` cells."""
    ladder = list(range(1, min(n, 24) + 1)) + [28, 32, 40, 48, 64, 80, 96, 128, 160, 200, 256, 320]
    return sorted({m for m in ladder if m < n} | {n})


def _without(cells: list[int], drop: Sequence[int]) -> list[int]:
    gone = set(drop)
    return [c for c in cells if c not in gone]


def _sizes_near(k: int, n: int) -> list[int]:
    """Prefix lengths around an estimated crossing ``k`` plus a few larger fallbacks."""
    near = set(range(max(1, k - 2), k + 4)) | {int(round(1.5 * k)), 2 * k, 3 * k, 5 * k}
    return sorted({m for m in near if 1 <= m < n} | {n})


def _reduce(q: np.ndarray, donor: np.ndarray, grid: CellGrid, score, grad_fn, s0: float, s_full: float,
            threshold: float, direction: str, cfg: CFConfig, count) -> tuple[list[int], float]:
    """Steps 2-4 for one donor: rank cells, find the shortest flipping prefix, prune. Returns (cells, score)."""
    sign = 1.0 if direction == "to_positive" else -1.0
    all_cells = np.arange(grid.n_cells)

    # 2. cell gains; 3. shortest flipping prefix of the ranking
    if grad_fn is not None:
        alphas = (np.arange(cfg.path_steps) + 0.5) / cfg.path_steps
        path = (q[None] + alphas[:, None, None].astype(np.float32) * (donor - q)[None]).astype(np.float32)
        count(len(path))
        _, grads = grad_fn(path)
        gain = grid.gains(np.asarray(grads, dtype=np.float64).mean(axis=0) * (donor - q))
    else:
        gain = score(grid.apply(q, donor, [[k] for k in all_cells])) - s0
    order = all_cells[np.argsort(-sign * gain, kind="stable")]
    # Where the additive estimate crosses the threshold; score prefixes around it, then the full ladder.
    est = s0 + np.cumsum(gain[order])
    crossing = np.flatnonzero(_flipped(est, threshold, direction, cfg.margin))
    k_est = int(crossing[0]) + 1 if crossing.size else len(order)
    chosen: list[int] = []
    cur_score = s0
    for sizes in (_sizes_near(k_est, len(order)), _prefix_sizes(len(order))):
        prefix_scores = score(grid.apply(q, donor, [order[:n] for n in sizes]))
        hit = np.flatnonzero(_flipped(prefix_scores, threshold, direction, cfg.margin))
        if hit.size:
            chosen = [int(c) for c in order[: sizes[int(hit[0])]]]
            cur_score = float(prefix_scores[int(hit[0])])
            break
    if not chosen:   # blending at cell edges can differ from the full donor; fall back to all cells
        chosen, cur_score = [int(c) for c in order], s_full

    # 4a. prune, cheap: drop the smallest-gain cells first, as many as keep the flip (1 call)
    rank = {c: r for r, c in enumerate(order)}
    if len(chosen) > 1 and count(0) < cfg.max_model_calls:
        weakest = sorted(chosen, key=lambda c: -rank[c])
        drops = [m for m in _prefix_sizes(len(chosen)) if m < len(chosen)]
        trials = [_without(chosen, weakest[:m]) for m in drops]
        tri = score(grid.apply(q, donor, trials))
        good = np.flatnonzero(_flipped(tri, threshold, direction, cfg.margin))
        if good.size:
            j = int(good.max())
            chosen, cur_score = trials[j], float(tri[j])
    # 4b. prune, exact: score every single removal, drop the longest run that keeps the flip (2 calls/round)
    while 1 < len(chosen) <= cfg.exact_prune_max and count(0) + 2 <= cfg.max_model_calls:
        rem = score(grid.apply(q, donor, [[c for c in chosen if c != x] for x in chosen]))
        keep_ok = _flipped(rem, threshold, direction, cfg.margin)
        if not keep_ok.any():
            break
        cand = [chosen[i] for i in np.argsort(-sign * rem) if keep_ok[i]]
        if len(cand) == 1:
            chosen, cur_score = [c for c in chosen if c != cand[0]], float(rem[chosen.index(cand[0])])
            continue
        trials = [_without(chosen, cand[: j + 1]) for j in range(len(cand))]
        tri = score(grid.apply(q, donor, trials))
        good = np.flatnonzero(_flipped(tri, threshold, direction, cfg.margin))
        if good.size == 0:
            break
        j = int(good.max())   # remove as many as possible while the flip holds
        chosen, cur_score = trials[j], float(tri[j])
    return chosen, cur_score


def _screen(q: np.ndarray, donors: list[np.ndarray], grid: CellGrid, score, grad_fn, s0: float,
            threshold: float, direction: str, cfg: CFConfig, count) -> list[int]:
    """Rank flipping donors by how few cells they are likely to need (2 calls for all of them).

    Which real ECG to borrow from matters more than anything else: turning sinus rhythm off by copying
    from the latent-nearest donor (often sinus bradycardia: a global change of rate) can take half the
    record, while an ECG with a strong local finding flips it with a few cells. So every candidate gets
    a short path-integrated-gradient cell ranking (``screen_steps`` points, one batched pass), and the
    prefixes of each ranking around its estimated crossing are scored (one batched call); donors are
    ordered by their shortest flipping prefix, then by the estimate.
    """
    k = len(donors)
    if k <= 1 or grad_fn is None or cfg.screen_steps <= 0:
        return list(range(k))
    sign = 1.0 if direction == "to_positive" else -1.0
    alphas = ((np.arange(cfg.screen_steps) + 0.5) / cfg.screen_steps).astype(np.float32)
    path = np.concatenate([q[None] + alphas[:, None, None] * (d - q)[None] for d in donors]).astype(np.float32)
    count(len(path))
    _, grads = grad_fn(path)
    grads = np.asarray(grads, dtype=np.float64).reshape(k, cfg.screen_steps, *q.shape).mean(axis=1)
    orders, k_est = [], np.empty(k)
    for i, d in enumerate(donors):
        gain = grid.gains(grads[i] * (d - q))
        order = np.argsort(-sign * gain, kind="stable")
        cross = np.flatnonzero(_flipped(s0 + np.cumsum(gain[order]), threshold, direction, cfg.margin))
        k_est[i] = cross[0] + 1 if cross.size else grid.n_cells
        orders.append(order)
    trials, owner, sizes = [], [], []
    for i in range(k):
        ke = int(k_est[i])
        for m in sorted({max(1, int(np.ceil(ke * f))) for f in (0.75, 1.0, 1.5, 2.5)} | {grid.n_cells}):
            if m <= grid.n_cells:
                trials.append(orders[i][:m])
                owner.append(i)
                sizes.append(m)
    owner_a, sizes_a = np.array(owner), np.array(sizes, dtype=float)
    sc = score(np.concatenate([grid.apply(q, donors[i], [t]) for i, t in zip(owner, trials)]))
    ok = _flipped(sc, threshold, direction, cfg.margin)
    best = np.array([sizes_a[(owner_a == i) & ok].min() if ((owner_a == i) & ok).any() else np.inf
                     for i in range(k)])
    return [int(i) for i in np.lexsort((np.arange(k), k_est, best))]


def search_counterfactual(query: np.ndarray, donors: np.ndarray, score_fn: ScoreFn, threshold: float,
                          direction: str, fs: float, cfg: CFConfig = CFConfig(),
                          grad_fn: GradFn | None = None) -> CFSearchResult:
    """Find a small set of donor cells whose substitution moves ``score_fn`` past ``threshold``.

    ``direction`` is ``"to_positive"`` (reach score ≥ threshold) or ``"to_negative"`` (score < threshold).
    ``donors`` (K, 12, T) are tried nearest-first as given; at most ``cfg.max_donors`` are used.
    """
    t0 = time.perf_counter()
    if direction not in DIRECTIONS:
        raise CounterfactualError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    q = np.asarray(query, dtype=np.float32)
    d_all = np.asarray(donors, dtype=np.float32)
    if d_all.ndim != 3 or d_all.shape[1:] != q.shape or len(d_all) == 0:
        raise CounterfactualError(f"donors must be (K, {q.shape[0]}, {q.shape[1]}) with K >= 1, "
                                  f"got {d_all.shape}")
    calls, scored = 0, 0

    def score(batch: np.ndarray) -> np.ndarray:
        nonlocal calls, scored
        calls += 1
        scored += len(batch)
        return np.asarray(score_fn(batch), dtype=np.float64).reshape(-1)

    def _count(n: int) -> int:
        """Count a gradient pass over ``n`` ECGs (n > 0); returns the calls made so far."""
        nonlocal calls, scored
        if n:
            calls += 1
            scored += n
        return calls

    grid = CellGrid.for_config(q.shape, fs, cfg)
    aligned = [align_donor(q, d, fs, cfg.max_lag_s) for d in d_all[: cfg.max_donors]]
    s = score(np.concatenate([q[None], np.stack([a for a, _ in aligned])]))
    s0, s_donors = float(s[0]), s[1:]
    if _flipped(np.array([s0]), threshold, direction, cfg.margin)[0]:
        log.info("query already on the %s side of the threshold: nothing to change", direction[3:])
        return CFSearchResult(True, (), q.copy(), s0, s0, -1, 0, calls, scored, time.perf_counter() - t0,
                              np.zeros_like(q), grid.win)
    ok = np.flatnonzero(_flipped(s_donors, threshold, direction, cfg.margin))
    if ok.size == 0:
        return CFSearchResult(False, (), q.copy(), s0, s0, -1, 0, calls, scored, time.perf_counter() - t0,
                              np.zeros_like(q), grid.win)
    # 2-4 on the nearest flipping donor; when that needs a large change, also on the next one(s)
    ranked = _screen(q, [aligned[int(v)][0] for v in ok], grid, score, grad_fn, s0, threshold, direction,
                     cfg, _count)
    best: tuple[list[int], float, int] | None = None
    for di in [int(ok[r]) for r in ranked[: cfg.donor_tries]]:
        if best is not None and (len(best[0]) <= cfg.retry_cells or calls + 4 > cfg.max_model_calls):
            break
        chosen, cur_score = _reduce(q, aligned[di][0], grid, score, grad_fn, s0, float(s_donors[di]),
                                    threshold, direction, cfg, _count)
        if best is None or len(chosen) < len(best[0]):
            best = (chosen, cur_score, di)
    assert best is not None
    chosen, cur_score, di = best
    donor, lag = aligned[di]
    cells = tuple(grid.lead_cells(chosen))
    mask = grid.masks([chosen])[0]
    x_cf = (q * (1 - mask) + donor * mask).astype(np.float32)
    valid = bool(_flipped(np.array([cur_score]), threshold, direction, cfg.margin)[0])
    return CFSearchResult(valid, cells, x_cf, s0, cur_score, di, lag, calls, scored,
                          time.perf_counter() - t0, mask, grid.win)
