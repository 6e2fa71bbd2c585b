"""AUROC (rank-based, ties), macro/weighted means, bootstrap CIs, thresholds and F1 on hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest

from protoecg import evaluation as E


def _auroc_pairs(y, s):
    """Brute force: fraction of (pos, neg) pairs ordered correctly, ties count 1/2."""
    pos, neg = s[y == 1], s[y == 0]
    return np.mean([(p > n) + 0.5 * (p == n) for p in pos for n in neg])


def test_auroc_hand_case_with_ties():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4])
    # pairs (pos vs neg): 0.35: >0.1 ✓, <0.4 ✗ ✗ → 1; 0.8: 3; 0.4: >0.1, tie, tie → 2 → 6/9
    assert E.auroc(y, s) == pytest.approx(6 / 9)
    rng = np.random.default_rng(0)
    y2 = rng.integers(0, 2, 200)
    s2 = np.round(rng.normal(size=200) + y2, 1)
    assert E.auroc(y2, s2) == pytest.approx(_auroc_pairs(y2, s2))


def test_auroc_undefined_without_both_classes():
    assert np.isnan(E.auroc(np.zeros(5), np.arange(5)))
    assert np.isnan(E.auroc(np.ones(5), np.arange(5)))


def test_macro_and_weighted_skip_undefined_classes():
    y = np.array([[1, 0, 1], [0, 0, 1], [1, 0, 0], [0, 0, 1]])
    s = np.array([[0.9, 0.1, 0.2], [0.2, 0.3, 0.8], [0.7, 0.5, 0.5], [0.1, 0.2, 0.3]])
    per = E.per_class_auroc(y, s)
    assert per[0] == 1.0 and np.isnan(per[1]) and per[2] == pytest.approx(1 / 3)
    assert E.macro_auroc(y, s) == pytest.approx((1.0 + 1 / 3) / 2)
    assert E.weighted_auroc(y, s) == pytest.approx((1.0 * 2 + 1 / 3 * 3) / 5)


def test_bootstrap_ci_brackets_estimate_and_narrows_with_n():
    rng = np.random.default_rng(1)

    def data(n):
        y = rng.integers(0, 2, (n, 2))
        return y, y + rng.normal(0, 1.0, (n, 2))

    y, s = data(200)
    lo, hi = E.bootstrap_ci(y, s, n_boot=200)
    est = E.macro_auroc(y, s)
    assert lo < est < hi
    y2, s2 = data(2000)
    lo2, hi2 = E.bootstrap_ci(y2, s2, n_boot=200)
    assert hi2 - lo2 < hi - lo


def test_tune_thresholds_maximises_f1():
    y = np.array([[1], [1], [0], [1], [0], [0]])
    p = np.array([[0.9], [0.8], [0.7], [0.6], [0.2], [0.1]])
    thr = E.tune_thresholds(y, p)
    # top-4 cut gives F1 = 2*3/(4+3) = 0.857 > top-2 (0.8); threshold between 0.6 and 0.2
    assert thr[0] == pytest.approx(0.4)
    f1 = E.f1_at(y, p, thr)
    assert f1[0] == pytest.approx(6 / 7)
    # a class without positives keeps the default
    assert E.tune_thresholds(np.zeros((3, 1)), np.ones((3, 1)))[0] == 0.5


def test_tune_thresholds_keeps_default_for_too_few_positives():
    # one validation positive ranked 5th of 6: the F1-optimal cut (0.25) would flag 5 of 6 records
    y = np.array([[0], [0], [0], [0], [1], [0]])
    p = np.array([[0.9], [0.8], [0.7], [0.6], [0.3], [0.2]])
    assert E.tune_thresholds(y, p, min_pos=1)[0] == pytest.approx(0.25)
    assert E.tune_thresholds(y, p)[0] == 0.5
    assert E.tune_thresholds(y, p, default=0.3)[0] == 0.3


def test_tune_thresholds_falls_back_to_the_training_prevalence():
    # scores all above 0.5 (as from a pos_weight-trained model): a fixed 0.5 would flag every record
    y = np.zeros((10, 3), dtype=int)
    y[2, 0] = 1
    p = np.tile(np.linspace(0.95, 0.55, 10)[:, None], (1, 3))
    thr = E.tune_thresholds(y, p, prevalence=np.array([0.2, 0.0, 1.0]))
    flagged = (p >= thr).sum(axis=0)
    assert flagged[0] == 2                      # 20% of 10 validation records
    assert flagged[1] == 0                      # a class absent from training is never flagged
    assert flagged[2] == 10
    assert thr[0] == pytest.approx((p[1, 0] + p[2, 0]) / 2)


def test_summarise_keys():
    y = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    s = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.6], [0.1, 0.3]])
    res = E.summarise(y, s, ("A", "B"), n_boot=20)
    assert res["macro_auroc"] == 1.0
    assert set(res["per_class"]["A"]) == {"auroc", "n_pos"} and res["per_class"]["B"]["n_pos"] == 2
    assert len(res["macro_auroc_ci"]) == 2
