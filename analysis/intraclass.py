"""Mixed significance within a class vs intra-class prototype distance.

The reference study observed that classes whose prototypes disagree in significance for a phecode (some
prototypes significant, others not) have prototypes that lie further apart. This module tests that:

1. For each class with >= 2 prototypes and each phecode where at least one of its prototypes is
   significant (a hit: the scan's ``hit`` column, else q < alpha), the (class, phecode) pair is *mixed* if some of its prototypes are not
   significant, otherwise *concordant*.
2. A class is *mixed* if it has at least one mixed pair, *concordant* if it has significant pairs and all
   are concordant (classes with no significant prototype are left out).
3. Each class's spread is the mean pairwise cosine distance between its prototypes' vectors; by default a
   prototype's vector is its similarity profile over the analysed units (its column of the feature table,
   centred), which needs no model weights; latent prototype vectors can be passed instead.
4. One-sided Mann-Whitney U test (mixed > concordant) and a permutation test of the difference in means.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.fdr import is_hit


@dataclass
class IntraclassResult:
    classes: pd.DataFrame        # class, n_prototypes, mean_cosine_distance, n_sig_phecodes, n_mixed, group
    pairs: pd.DataFrame          # class, phecode, n_prototypes, n_significant, mixed
    mean_mixed: float
    mean_concordant: float
    mannwhitney_p: float
    permutation_p: float
    n_permutations: int


def mean_pairwise_cosine_distance(vectors: np.ndarray) -> float:
    """Mean of 1 - cos(v_i, v_j) over prototype pairs i < j (rows of ``vectors``)."""
    v = np.asarray(vectors, dtype=float)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norm == 0, 1.0, norm)
    sim = v @ v.T
    iu = np.triu_indices(len(v), k=1)
    return float(np.mean(1.0 - sim[iu]))


def intraclass_test(results: pd.DataFrame, prototype_class: dict[str, str],
                    vectors: pd.DataFrame, alpha: float = 0.05, n_permutations: int = 10_000,
                    seed: int = 0) -> IntraclassResult:
    """Run steps 1-4 above.

    ``results``: PheWAS results (feature, phecode, q). ``prototype_class``: feature name (``sim_<id>``) ->
    class. ``vectors``: one row per prototype feature name (e.g. ``features[sim_cols].T``, centred inside).
    """
    r = results[results["feature"].isin(prototype_class.keys())].copy()
    r["class"] = r["feature"].map(prototype_class)
    r["sig"] = is_hit(r, alpha)
    g = r.groupby(["class", "phecode"])["sig"].agg(["size", "sum"]).reset_index()
    g.columns = ["class", "phecode", "n_prototypes", "n_significant"]
    g = g[(g["n_prototypes"] >= 2) & (g["n_significant"] >= 1)]
    g["mixed"] = g["n_significant"] < g["n_prototypes"]
    vec = vectors.sub(vectors.mean(axis=1), axis=0)
    rows = []
    for cls, grp in pd.Series(prototype_class).groupby(pd.Series(prototype_class)):
        feats = [f for f in grp.index if f in vec.index]
        if len(feats) < 2:
            continue
        sub = g[g["class"] == cls]
        group = "mixed" if sub["mixed"].any() else ("concordant" if len(sub) else "none")
        rows.append({"class": cls, "n_prototypes": len(feats),
                     "mean_cosine_distance": mean_pairwise_cosine_distance(vec.loc[feats].to_numpy()),
                     "n_sig_phecodes": len(sub), "n_mixed": int(sub["mixed"].sum()), "group": group})
    classes = pd.DataFrame(rows, columns=["class", "n_prototypes", "mean_cosine_distance", "n_sig_phecodes",
                                          "n_mixed", "group"])
    a = classes.loc[classes["group"] == "mixed", "mean_cosine_distance"].to_numpy()
    b = classes.loc[classes["group"] == "concordant", "mean_cosine_distance"].to_numpy()
    mw_p = perm_p = float("nan")
    if len(a) and len(b):
        mw_p = float(stats.mannwhitneyu(a, b, alternative="greater").pvalue)
        rng = np.random.default_rng(seed)
        pooled = np.concatenate([a, b])
        obs = a.mean() - b.mean()
        count = 0
        for _ in range(n_permutations):
            perm = rng.permutation(pooled)
            count += perm[:len(a)].mean() - perm[len(a):].mean() >= obs - 1e-15
        perm_p = (count + 1) / (n_permutations + 1)
    return IntraclassResult(classes=classes, pairs=g.reset_index(drop=True),
                            mean_mixed=float(a.mean()) if len(a) else float("nan"),
                            mean_concordant=float(b.mean()) if len(b) else float("nan"),
                            mannwhitney_p=mw_p, permutation_p=float(perm_p), n_permutations=n_permutations)
