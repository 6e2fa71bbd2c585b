"""Firth fits against a direct maximisation of the penalised likelihood; SPA against Monte Carlo.

The conditional SPA is checked against its exact reference: with intercept and sex as covariates, the null
distribution of the score given ``C'y`` is that of random case sets with the observed number of cases in
each sex (stratified permutations)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize
from scipy.special import expit

from analysis._firth import firth_lrt
from analysis._spa import conditional_spa_log10_p, edgeworth_error, spa_log10_p


def _neg_pen_loglik(b, X, y):
    eta = X @ b
    w = expit(eta) * (1 - expit(eta))
    return -((y * eta - np.logaddexp(0, eta)).sum() + 0.5 * np.linalg.slogdet(X.T @ (w[:, None] * X))[1])


@pytest.mark.parametrize("separated", [True, False])
def test_firth_matches_direct_maximisation(separated):
    rng = np.random.default_rng(0)
    n = 80
    C = np.column_stack([np.ones(n), rng.standard_normal(n), rng.integers(0, 2, n)])
    f = rng.standard_normal(n)
    y = (f > 0.9).astype(float) if separated else (rng.random(n) < expit(-1 + f)).astype(float)
    X = np.column_stack([C, f])
    full = minimize(_neg_pen_loglik, np.zeros(4), args=(X, y), method="BFGS", options={"gtol": 1e-10})
    restr = minimize(lambda b: _neg_pen_loglik(np.append(b, 0.0), X, y), np.zeros(3), method="BFGS",
                     options={"gtol": 1e-10})
    # two columns over 10 extra units that are masked out; column 1 holds junk there (the mask must hide it)
    Cm = np.vstack([C, np.column_stack([np.ones(10), rng.standard_normal((10, 2))])])
    Y = np.r_[np.column_stack([y, y]), np.column_stack([np.zeros(10), np.ones(10)])]
    F = np.r_[np.column_stack([f, f]), np.column_stack([np.zeros(10), 5 * np.ones(10)])]
    M = np.r_[np.ones((n, 2)), np.zeros((10, 2))]
    r = firth_lrt(Cm, Y, F, M, np.zeros((2, 3)))
    assert r.converged.all()
    for b in range(2):
        np.testing.assert_allclose(r.full.beta[b], full.x, atol=1e-4)
        np.testing.assert_allclose(r.restricted.beta[b, :3], restr.x, atol=1e-4)
        assert r.lr[b] == pytest.approx(2 * (restr.fun - full.fun), abs=1e-6)
    if separated:   # ML diverges; Firth is finite and the penalised LRT strongly rejects
        assert np.isfinite(r.beta).all() and stats.chi2.sf(r.lr[0], 1) < 1e-6


def test_spa_matches_monte_carlo_where_the_normal_approximation_fails():
    rng = np.random.default_rng(1)
    n, cases = 400, 8
    mu = np.full(n, cases / n)
    g = rng.exponential(1, n) ** 2
    g -= np.average(g, weights=mu * (1 - mu))
    V = float((g * g * mu * (1 - mu)).sum())
    Y = rng.random((100_000, n)) < mu
    S = (Y - mu) @ g
    s = stats.norm.isf(1e-3 / 2) * np.sqrt(V)       # normal p would be 1e-3
    mc = float((np.abs(S) >= s).mean())
    spa = 10 ** spa_log10_p(g[:, None], mu[:, None], np.array([s]))[0]
    assert mc > 3e-3                                # the normal approximation is badly off here
    assert spa == pytest.approx(mc, rel=0.15)
    assert edgeworth_error(np.array([3.3]), np.array([2.0]), np.array([1.0]))[0] > 0.01
    assert edgeworth_error(np.array([3.3]), np.array([0.001]), np.array([0.0001]))[0] < 0.01


def test_conditional_spa_matches_stratified_permutations_with_a_rank_deficient_design():
    rng = np.random.default_rng(2)
    n0 = n1 = 300
    k0, k1 = 6, 9                                    # 15 cases: the regime where the case count's variation matters
    n = n0 + n1
    sex = np.r_[np.zeros(n0), np.ones(n1)]
    # a constant column collinear with the intercept, as sex is within a sex-specific phecode's units
    C = np.column_stack([np.ones(n), sex, 0.5 * np.ones(n)])
    mu = np.where(sex == 1, k1 / n1, k0 / n0)        # the null MLE given intercept and sex
    G = rng.exponential(1, n) ** 2                   # a skewed feature, adjusted for the covariates
    for v in (0, 1):
        G[sex == v] -= G[sex == v].mean()
    B, chunk = 200_000, 20_000
    S = np.empty(B)
    for b0 in range(0, B, chunk):
        r0 = rng.random((chunk, n0)).argpartition(k0, axis=1)[:, :k0]
        r1 = rng.random((chunk, n1)).argpartition(k1, axis=1)[:, :k1]
        S[b0:b0 + chunk] = G[:n0][r0].sum(1) + G[n0:][r1].sum(1)
    S -= G @ mu
    for level in (3e-3, 1e-3):
        s = float(np.quantile(np.abs(S), 1 - level))
        mc = float((np.abs(S) >= s).mean())
        cond = 10 ** conditional_spa_log10_p(G[:, None], C, mu, np.array([s]))[0]
        uncond = 10 ** spa_log10_p(G[:, None], mu[:, None], np.array([s]))[0]
        assert cond == pytest.approx(mc, rel=0.15), (level, cond, mc)
        assert abs(cond - mc) < abs(uncond - mc), (level, cond, uncond, mc)    # the unconditional one is conservative
    # a score beyond the end of its conditional support in one tail still gets a finite, tiny p-value
    far = np.array([float(np.abs(S).max()) * 3])
    assert np.isfinite(conditional_spa_log10_p(G[:, None], C, mu, far)).all()
