"""Mixed-significance classes vs intra-class prototype distance."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.intraclass import intraclass_test, mean_pairwise_cosine_distance


def test_mean_pairwise_cosine_distance():
    assert abs(mean_pairwise_cosine_distance(np.array([[1.0, 0], [0, 1.0]])) - 1.0) < 1e-12
    assert abs(mean_pairwise_cosine_distance(np.array([[1.0, 0], [2.0, 0], [3.0, 0]]))) < 1e-12


def _setup(spread_mixed: float, spread_conc: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, vec, pmap = [], {}, {}
    for c in range(12):
        mixed = c < 6
        base = rng.standard_normal(50)
        for k in range(3):
            name = f"sim_{c * 3 + k}"
            pmap[name] = f"C{c}"
            spread = spread_mixed if mixed else spread_conc
            vec[name] = base + spread * rng.standard_normal(50)
            q = 0.001 if (k == 0 or not mixed) else 0.5   # mixed: only the first prototype significant
            rows.append({"feature": name, "phecode": "427.2", "q": q})
    return pd.DataFrame(rows), pmap, pd.DataFrame(vec).T


def test_mixed_classes_have_larger_spread():
    res, pmap, vectors = _setup(spread_mixed=2.0, spread_conc=0.2)
    out = intraclass_test(res, pmap, vectors, n_permutations=2000)
    assert set(out.classes["group"]) == {"mixed", "concordant"}
    assert (out.classes["group"] == "mixed").sum() == 6
    assert out.mean_mixed > out.mean_concordant
    assert out.mannwhitney_p < 0.01 and out.permutation_p < 0.01
    assert out.pairs["mixed"].sum() == 6


def test_no_difference_when_spreads_equal():
    res, pmap, vectors = _setup(spread_mixed=1.0, spread_conc=1.0, seed=4)
    out = intraclass_test(res, pmap, vectors, n_permutations=2000)
    assert out.mannwhitney_p > 0.05
