"""False discovery rate control for a scan of many features against many phecodes.

Two procedures, both returning adjusted values ("q") so a hit at level ``alpha`` is ``q < alpha``:

``bh``
    Benjamini-Hochberg over every (feature, phecode) test at once. It bounds the *expected* proportion of
    false (feature, phecode) hits by ``alpha * m0 / m``. In a prototype PheWAS the ~10^3 features are
    strongly correlated, so a null phecode that crosses the line by chance usually does so with a
    *cluster* of features: false hits arrive in bursts and the proportion on one data set scatters widely
    around its expectation (demo draws: 0-13 % at alpha = 0.05).

``hierarchical`` (the default of :class:`analysis.phewas.PheWAS`)
    Two stages, as proposed for multi-trait association scans (Peterson, Bogomolov, Benjamini & Sabatti,
    *Genetic Epidemiology* 2016) with the phecode as the family:

    1. each phecode gets one p-value for "no feature is associated", the Simes combination of its
       features' p-values (valid for positively dependent tests, the usual case for similarities that
       share a backbone); a rule across phecodes selects ``R`` of the ``G`` phecodes:
       ``phecode_stage='holm'`` (default) is Holm's step-down procedure, which bounds the probability
       that *any* null phecode is selected by ``alpha`` (family-wise error); ``phecode_stage='bh'`` is
       Benjamini-Hochberg, which bounds the expected share of null phecodes among the selected ones;
    2. within each selected phecode, Benjamini-Hochberg over its features at the reduced level
       ``alpha * R / G`` (Benjamini & Bogomolov 2014), which keeps the average within-phecode false
       discovery proportion over the selected phecodes at ``alpha``.

    The error that matters to a clinician - "this diagnosis is linked to the ECG" when it is not - is
    controlled directly at the phecode level, and one chance phecode contributes a few hits instead of a
    cluster of correlated ones. Every selected phecode has at least one hit (Simes and BH agree).

    Why Holm and not BH at the phecode stage: a scan of ECG features finds few truly associated
    diagnoses (~10 of ~300 phecodes on the demo data). BH's guarantee is on the *expectation* of the
    false share, and with ~10 true phecodes one chance phecode is already a false share of 10-25 %
    (the phecode hierarchy repeats a leaf's cases in its one or two parents, so one chance association is
    up to three false phecodes, and correlated features turn each into hundreds of false hits). With BH
    at 0.05 such a draw happens at a rate that keeps the *mean* near 5 % but cannot keep single scans
    clean (demo: the null family 189 / 189.1 / 189.12 selected at Simes p ~ 3e-4 on one draw of four,
    with two different models). Holm makes such a scan a rare event (probability <= alpha per scan,
    whatever the number of true phecodes) at the price of requiring Simes p below ~alpha / G for the
    first selected phecode - the Bonferroni line that PheWAS practice uses anyway.

The hierarchical adjusted value of a test is the smallest ``alpha`` at which the procedure calls it a hit:
``q_hier = max(q_phecode, min_k max(a_k, t / k))`` with ``t = G * q_within``, ``a_k`` the sorted phecode
q-values and ``k`` the number of phecodes selected at level ``a_k`` (derivation in the code below).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats_utils import bh_qvalues, holm_adjusted

METHODS = ("hierarchical", "bh")
PHECODE_STAGES = ("holm", "bh")


def _phecode_adjust(p_group: np.ndarray, phecode_stage: str) -> np.ndarray:
    if phecode_stage == "holm":
        return holm_adjusted(p_group)
    if phecode_stage == "bh":
        return bh_qvalues(p_group)
    raise ValueError(f"phecode_stage must be one of {PHECODE_STAGES}, got {phecode_stage!r}")


def is_hit(results: pd.DataFrame, alpha: float = 0.05) -> pd.Series:
    """The scan's own ``hit`` column when it has one (the FDR procedure it was run with), else BH q < alpha."""
    if "hit" in results.columns:
        return results["hit"].astype(bool)
    return results["q"] < alpha


def simes(p: np.ndarray) -> float:
    """Simes' combined p-value of a family (NaNs ignored; 1.0 for an empty family)."""
    v = np.sort(np.asarray(p, dtype=np.float64)[np.isfinite(p)])
    if v.size == 0:
        return 1.0
    return float(min(1.0, np.min(v * v.size / np.arange(1, v.size + 1))))


def _smallest_level(t: np.ndarray, a_sorted: np.ndarray) -> np.ndarray:
    """For each ``t``: the smallest alpha with ``alpha * R(alpha) >= t``, R(alpha) = #{a_k <= alpha}.

    alpha * R(alpha) is non-decreasing, and for every k the level ``max(a_k, t / k)`` is feasible (at least
    k phecodes are selected there), while the optimum lies in some step k where it equals that level, so
    the answer is ``min_k max(a_k, t / k)``. With ``c_k = k * a_k`` (non-decreasing) the minimum sits at
    the first k with ``c_k >= t`` or the one before it.
    """
    G = a_sorted.size
    k = np.arange(1, G + 1, dtype=np.float64)
    c = k * a_sorted
    first = np.searchsorted(c, t, side="left")            # 0-based index of the first k with c_k >= t
    out = np.full(t.shape, np.inf)
    has = first < G
    out[has] = a_sorted[first[has]]
    prev = first >= 1                                      # k = first (1-based) with c_k < t: level t / k
    out[prev] = np.minimum(out[prev], t[prev] / first[prev])
    return np.minimum(out, 1.0)


def hierarchical_qvalues(results: pd.DataFrame, p_col: str = "p", group_col: str = "phecode",
                         phecode_stage: str = "holm") -> pd.DataFrame:
    """``p_phecode`` (Simes), ``q_phecode`` (Holm- or BH-adjusted across phecodes, by ``phecode_stage``),
    ``q_within`` (BH inside each phecode) and ``q_hier`` (the two-stage adjusted value) for every row of a
    tidy results table.

    Rows with a missing p-value get NaN everywhere and do not count as tests.
    """
    p = results[p_col].to_numpy(dtype=np.float64)
    groups = results[group_col].astype(str).to_numpy()
    out = pd.DataFrame(index=results.index, columns=["p_phecode", "q_phecode", "q_within", "q_hier"],
                       dtype=np.float64)
    tested = np.isfinite(p)
    if not tested.any():
        return out
    codes, inv = np.unique(groups[tested], return_inverse=True)
    pt = p[tested]
    q_within = np.empty_like(pt)
    p_group = np.empty(codes.size)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(codes.size + 1))
    for g in range(codes.size):
        idx = order[bounds[g]:bounds[g + 1]]
        p_group[g] = simes(pt[idx])
        q_within[idx] = bh_qvalues(pt[idx])
    q_group = _phecode_adjust(p_group, phecode_stage)
    G = codes.size
    level = _smallest_level(G * q_within, np.sort(q_group))
    q_hier = np.maximum(q_group[inv], level)
    out.loc[tested, "p_phecode"] = p_group[inv]
    out.loc[tested, "q_phecode"] = q_group[inv]
    out.loc[tested, "q_within"] = q_within
    out.loc[tested, "q_hier"] = q_hier
    return out


def hits_two_stage(results: pd.DataFrame, alpha: float, p_col: str = "p", group_col: str = "phecode",
                   phecode_stage: str = "holm") -> np.ndarray:
    """The procedure written out step by step (select phecodes, then BH inside at ``alpha * R / G``).

    Used by the tests as an independent check of :func:`hierarchical_qvalues`; the Holm selection is
    written as its step-down loop, not through adjusted values.
    """
    p = results[p_col].to_numpy(dtype=np.float64)
    groups = results[group_col].astype(str).to_numpy()
    tested = np.isfinite(p)
    codes = np.unique(groups[tested])
    p_group = np.array([simes(p[tested & (groups == c)]) for c in codes])
    if phecode_stage == "holm":
        order = np.argsort(p_group, kind="mergesort")
        n_sel = 0
        for i, g in enumerate(order):      # step down: the i-th smallest must be <= alpha / (G - i)
            if p_group[g] > alpha / (len(codes) - i):
                break
            n_sel += 1
        selected = codes[order[:n_sel]]
    else:
        selected = codes[bh_qvalues(p_group) <= alpha]
    level = alpha * len(selected) / len(codes)
    hit = np.zeros(len(p), dtype=bool)
    for c in selected:
        idx = np.flatnonzero(tested & (groups == c))
        hit[idx] = bh_qvalues(p[idx]) <= level
    return hit
