"""Comparators for the counterfactual search (``protoecg explain-eval``): the same donor's cells chosen at
random, and in a random order up to the first flip — what the search's ranking and pruning buy.
"""
from __future__ import annotations

import numpy as np

from .cf_cells import CFConfig, CellGrid, ScoreFn, align_donor
from .counterfactual import _flipped, _prefix_sizes

__all__ = ["random_order_flip", "random_substitution"]


def random_substitution(query: np.ndarray, donor: np.ndarray, n_cells: int, fs: float,
                        rng: np.random.Generator, cfg: CFConfig = CFConfig()) -> tuple[np.ndarray, np.ndarray]:
    """A comparator: the same number of cells substituted at random from the same (aligned) donor.

    Returns (signal, mask)."""
    q = np.asarray(query, dtype=np.float32)
    grid = CellGrid(q.shape[0], q.shape[1], fs, cfg.window_s, cfg.blend_samples)
    donor_al, _ = align_donor(q, np.asarray(donor, dtype=np.float32), fs, cfg.max_lag_s)
    pick = rng.choice(grid.n_cells, size=min(max(n_cells, 1), grid.n_cells), replace=False)
    m = grid.masks([pick])[0]
    return (q * (1 - m) + donor_al * m).astype(np.float32), m


def random_order_flip(query: np.ndarray, donor: np.ndarray, score_fn: ScoreFn, threshold: float, direction: str,
                      fs: float, rng: np.random.Generator, cfg: CFConfig = CFConfig()
                      ) -> tuple[np.ndarray, np.ndarray, bool]:
    """A comparator that *does* flip: cells of the same (aligned) donor in a random order, the shortest
    prefix of that order that flips the label (a ladder of prefix lengths scored in one batch).

    Same donor, same cells, no ranking: what the search's cell ranking and pruning buy. Returns
    (signal, mask, valid); with no flipping prefix the full substitution is returned with ``valid`` from it.
    """
    q = np.asarray(query, dtype=np.float32)
    grid = CellGrid.for_config(q.shape, fs, cfg)
    donor_al, _ = align_donor(q, np.asarray(donor, dtype=np.float32), fs, cfg.max_lag_s)
    order = rng.permutation(grid.n_cells)
    sizes = _prefix_sizes(grid.n_cells)
    sets = [order[:m] for m in sizes]
    scores = np.asarray(score_fn(grid.apply(q, donor_al, sets)), dtype=np.float64).reshape(-1)
    hit = np.flatnonzero(_flipped(scores, threshold, direction, cfg.margin))
    j = int(hit[0]) if hit.size else len(sizes) - 1
    m = grid.masks([sets[j]])[0]
    return (q * (1 - m) + donor_al * m).astype(np.float32), m, bool(hit.size)
