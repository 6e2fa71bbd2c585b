"""What a substitution counterfactual is made of: its settings (:class:`CFConfig`), the (lead × window)
cells and their blend masks (:class:`CellGrid`), the time alignment of a donor to the query, and the
change metrics of a result. The search itself is :mod:`protoecg.explain.counterfactual`.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ExplainError

__all__ = ["CELL_KINDS", "DIRECTIONS", "CFConfig", "CellGrid", "CounterfactualError", "GradFn", "ScoreFn",
           "align_donor", "cell_rows", "change_metrics"]

ScoreFn = Callable[[np.ndarray], np.ndarray]
# Optional: (B, 12, T) -> (scores (B,), d score / d input (B, 12, T)) for a one-pass cell ranking.
GradFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
DIRECTIONS = ("to_positive", "to_negative")


class CounterfactualError(ExplainError):
    """The counterfactual search cannot run on these inputs (no donor, bad shapes, bad direction)."""


CELL_KINDS = ("lead", "lead_group", "all")


def cell_rows(kind: str, n_leads: int = 12) -> tuple[tuple[int, ...], ...] | None:
    """Lead sets substituted together for a :class:`CFConfig` ``cells`` kind (None: every lead alone)."""
    if kind == "lead":
        return None
    if kind == "all":
        return (tuple(range(n_leads)),)
    if kind == "lead_group":
        from data_access.leads import CANONICAL_LEADS, LEAD_GROUPS

        return tuple(tuple(CANONICAL_LEADS.index(name) for name in leads) for leads in LEAD_GROUPS.values())
    raise CounterfactualError(f"cells must be one of {CELL_KINDS}, got {kind!r}")


@dataclass(frozen=True)
class CFConfig:
    """Search settings. ``window_s`` is the cell length; ``blend_samples`` the edge cross-fade."""

    window_s: float = 0.5
    max_donors: int = 16      # candidate donors (nearest of each kind first); screened in one pass
    max_model_calls: int = 18
    blend_samples: int = 4
    max_lag_s: float = 0.6
    margin: float = 0.0       # require the score to pass the threshold by this much (logit units)
    path_steps: int = 6       # gradient evaluations along query→donor when a grad_fn is given
    exact_prune_max: int = 24  # exact single-removal pruning only for sets up to this many cells
    donor_tries: int = 2       # flipping donors searched at most (the next one only if the set is large)
    retry_cells: int = 24      # a set larger than this (10 % of 240 cells) triggers the next donor
    screen_steps: int = 2      # gradient evaluations per candidate donor when ranking donors (0: no screen)
    cells: str = "lead_group"  # what a cell spans across leads: "lead" (one lead), "lead_group" (an
    #                            anatomical group: lateral, inferior, septal, anterior, aVR) or "all" (all
    #                            12 leads: whole beats, as a real rhythm change would look)

    def __post_init__(self) -> None:
        if self.cells not in CELL_KINDS:
            raise CounterfactualError(f"cells must be one of {CELL_KINDS}, got {self.cells!r}")


def _activity(x: np.ndarray) -> np.ndarray:
    """A QRS-energy envelope (sum over leads of |first difference|), zero-mean: cheap to cross-correlate."""
    e = np.abs(np.diff(x, axis=-1)).sum(axis=0)
    return e - e.mean()


def align_donor(query: np.ndarray, donor: np.ndarray, fs: float, max_lag_s: float = 0.6
                ) -> tuple[np.ndarray, int]:
    """Shift ``donor`` in time so its beats line up with the query's (cross-correlation of activity).

    Returns the shifted donor (edges filled by repeating the end samples) and the lag in samples
    (positive = donor moved later).
    """
    a, b = _activity(query), _activity(donor)
    n = a.size
    max_lag = int(round(max_lag_s * fs))
    spec = np.fft.rfft(a, 2 * n) * np.conj(np.fft.rfft(b, 2 * n))
    cc = np.fft.irfft(spec, 2 * n)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    lag = int(lags[np.argmax(cc[lags])])
    if lag == 0:
        return donor.copy(), 0
    shifted = np.empty_like(donor)
    if lag > 0:
        shifted[:, lag:] = donor[:, :-lag]
        shifted[:, :lag] = donor[:, :1]
    else:
        shifted[:, :lag] = donor[:, -lag:]
        shifted[:, lag:] = donor[:, -1:]
    return shifted, lag


class CellGrid:
    """(lead × window) cells over a (12, T) signal and the blend masks that substitute them."""

    def __init__(self, n_leads: int, n_samples: int, fs: float, window_s: float, blend: int,
                 rows: Sequence[Sequence[int]] | None = None) -> None:
        self.n_leads, self.n_samples, self.fs = n_leads, n_samples, fs
        # A cell row is a set of leads substituted together (default: every lead on its own).
        self.rows = tuple(tuple(int(i) for i in r) for r in rows) if rows else tuple((i,) for i in range(n_leads))
        self._member = np.zeros((len(self.rows), n_leads), dtype=bool)
        for r, leads in enumerate(self.rows):
            self._member[r, list(leads)] = True
        self.win = max(1, int(round(window_s * fs)))
        self.n_windows = int(np.ceil(n_samples / self.win))
        self.blend = max(0, int(blend))
        # One window's blend profile: 1 inside, cosine ramps spilling ``blend`` samples over each edge.
        self._ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, self.blend + 2)[1:-1]) if self.blend else None

    @classmethod
    def for_config(cls, shape: tuple[int, int], fs: float, cfg: "CFConfig") -> "CellGrid":
        """The grid a search with ``cfg`` uses over a (leads, samples) signal."""
        return cls(shape[0], shape[1], fs, cfg.window_s, cfg.blend_samples, cell_rows(cfg.cells, shape[0]))

    @property
    def n_cells(self) -> int:
        return len(self.rows) * self.n_windows

    def cell(self, k: int) -> tuple[int, int]:
        """(row, window) of a flat cell index."""
        return divmod(k, self.n_windows)

    def lead_cells(self, cells: Sequence[int]) -> list[tuple[int, int]]:
        """The (lead, window) pairs covered by flat cell indices, sorted."""
        return sorted({(lead, w) for k in cells for r, w in [self.cell(int(k))] for lead in self.rows[r]})

    def gains(self, contrib: np.ndarray) -> np.ndarray:
        """Flat per-cell sums of a per-sample (12, T) contribution map."""
        pad = self.n_windows * self.win - self.n_samples
        per_lead = np.pad(contrib, ((0, 0), (0, pad))).reshape(self.n_leads, self.n_windows, self.win).sum(-1)
        return (self._member.astype(np.float64) @ per_lead).ravel()

    def span(self, w: int) -> tuple[int, int]:
        return w * self.win, min((w + 1) * self.win, self.n_samples)

    def masks(self, sets: Sequence[Sequence[int]]) -> np.ndarray:
        """(len(sets), 12, T) blend masks for sets of flat cell indices."""
        out = np.zeros((len(sets), self.n_leads, self.n_samples), dtype=np.float32)
        for i, cells in enumerate(sets):
            rows = np.zeros((len(self.rows), self.n_windows), dtype=bool)
            for k in cells:
                r, w = self.cell(int(k))
                rows[r, w] = True
            cover = (self._member.T.astype(np.int64) @ rows.astype(np.int64)) > 0     # (leads, windows)
            m = np.repeat(cover, self.win, axis=1)[:, : self.n_samples].astype(np.float32)
            if self._ramp is not None:
                m = self._blend(m, cover)
            out[i] = m
        return out

    def _blend(self, m: np.ndarray, cover: np.ndarray) -> np.ndarray:
        r, b = self._ramp, self.blend
        for lead in np.flatnonzero(cover.any(axis=1)):
            row = cover[lead]
            for w in np.flatnonzero(row):
                s, e = self.span(w)
                if w > 0 and not row[w - 1] and s - b >= 0:
                    m[lead, s - b:s] = np.maximum(m[lead, s - b:s], r)
                if w + 1 < self.n_windows and not row[w + 1] and e + b <= self.n_samples:
                    m[lead, e:e + b] = np.maximum(m[lead, e:e + b], r[::-1])
        return m

    def apply(self, query: np.ndarray, donor: np.ndarray, sets: Sequence[Sequence[int]]) -> np.ndarray:
        m = self.masks(sets)
        return (query[None] * (1 - m) + donor[None] * m).astype(np.float32)


def change_metrics(query: np.ndarray, cf: np.ndarray, mask: np.ndarray, fs: float) -> dict[str, float]:
    """Leads / seconds / fraction changed and L1 / L2 distances of a substitution counterfactual."""
    changed = mask > 0
    diff = (np.asarray(cf, dtype=np.float64) - np.asarray(query, dtype=np.float64))
    any_time = changed.any(axis=0)
    return {"fraction_changed": float(changed.mean()),
            "seconds_changed": float(any_time.sum() / fs),
            "leads_changed": [int(i) for i in np.flatnonzero(changed.any(axis=1))],
            "l1": float(np.abs(diff).mean()),
            "l2": float(np.sqrt((diff ** 2).sum()))}
