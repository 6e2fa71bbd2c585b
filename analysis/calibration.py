"""Null calibration of a PheWAS by permutation of case status over the real feature matrix.

Rows of the phenotype table (every phecode's case / control / excluded status together) are permuted
against the features and covariates, which makes every (feature, phecode) pair null while keeping the
features' real distributions (skewed trained-model probabilities, near-duplicate similarities) and the
phecodes' case counts. The scan is run on the permuted tables and the share of tests below 1e-2, 1e-3 and
1e-4 is compared with its nominal value: ``ratio = observed / expected``; a calibrated test gives ~1.

Near-duplicate features make the count of small p-values bursty (one chance association in a permuted
phecode shows up in every copy of the feature), so the ratio of a few permutations over all features is
noisy. ``decorrelate`` keeps a subset of the real features with pairwise |r| below the given value
(greedy, in column order) so that many permutations are cheap and the estimate is precise; the
``n_families`` column says how many (permutation, phecode) families produced the small p-values.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

THRESHOLDS = (1e-2, 1e-3, 1e-4)


@dataclass(frozen=True)
class CalibrationResult:
    """Per threshold: tests, observed and expected counts below it, ratio, for ``p`` and the plain score p."""

    table: pd.DataFrame
    n_permutations: int
    n_features: int
    n_phecodes: int

    def to_dict(self) -> dict:
        return {"n_permutations": self.n_permutations, "n_features": self.n_features,
                "n_phecodes": self.n_phecodes, "thresholds": self.table.to_dict("records")}

    def within(self, lo: float = 0.8, hi: float = 1.25) -> bool:
        """All ratios of the reported ``p`` inside [lo, hi]."""
        return bool(((self.table["ratio"] >= lo) & (self.table["ratio"] <= hi)).all())


def decorrelated_columns(features: pd.DataFrame, max_abs_r: float) -> list[str]:
    """Greedy subset of numeric, non-constant columns with pairwise |Pearson r| < ``max_abs_r``."""
    X = features.select_dtypes(include=[np.number])
    X = X.loc[:, X.std() > 0]
    Z = (X - X.mean()) / X.std()
    R = np.abs(np.corrcoef(Z.to_numpy().T))
    keep: list[int] = []
    for j in range(R.shape[0]):
        if not keep or R[j, keep].max() < max_abs_r:
            keep.append(j)
    return [X.columns[j] for j in keep]


def permutation_calibration(features: pd.DataFrame, phenotypes: pd.DataFrame, covariates: pd.DataFrame,
                            n_permutations: int = 100, decorrelate: float | None = 0.8, seed: int = 0,
                            batch: int = 20, thresholds=THRESHOLDS, **phewas_kw) -> CalibrationResult:
    """Scan ``n_permutations`` row permutations of ``phenotypes`` (batched as extra phecode columns),
    adjusted for every column of ``covariates``; ``phewas_kw`` go to :class:`analysis.phewas.PheWAS`."""
    from analysis.phewas import PheWAS

    units = features.index.intersection(phenotypes.index).intersection(covariates.index)
    feats = features.loc[units]
    if decorrelate is not None:
        feats = feats[decorrelated_columns(feats, decorrelate)]
    P = phenotypes.loc[units]
    rng = np.random.default_rng(seed)
    counts = {t: [0, 0, 0] for t in thresholds}       # observed p, observed score p, n tests
    fams = {t: set() for t in thresholds}
    done = 0
    while done < n_permutations:
        k = min(batch, n_permutations - done)
        cols = []
        for r in range(done, done + k):
            perm = P.iloc[rng.permutation(len(P))].set_axis(units)
            cols.append(perm.add_suffix(f"~{r}"))
        kw = {"covariates": tuple(covariates.columns), **phewas_kw}
        res = PheWAS(**kw).fit(feats, pd.concat(cols, axis=1), covariates.loc[units]).results_
        ok = res["p"].notna()
        for t in thresholds:
            below = ok & (res["p"] < t)
            counts[t][0] += int(below.sum())
            counts[t][1] += int((ok & (res["p_score"] < t)).sum())
            counts[t][2] += int(ok.sum())
            fams[t] |= set(res.loc[below, "phecode"])
        done += k
        log.info("calibration: %d of %d permutations", done, n_permutations)
    rows = []
    for t in thresholds:
        obs, obs_score, n = counts[t]
        rows.append({"threshold": t, "n_tests": n, "expected": t * n, "observed": obs, "ratio": obs / (t * n),
                     "observed_score_normal": obs_score, "ratio_score_normal": obs_score / (t * n),
                     "n_families": len(fams[t])})
    return CalibrationResult(pd.DataFrame(rows), n_permutations, feats.shape[1], P.shape[1])
