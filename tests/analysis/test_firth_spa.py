"""Firth fits against a direct maximisation of the penalised likelihood; SPA against Monte Carlo."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize
from scipy.special import expit

from analysis._firth import firth_lrt
from analysis._spa import edgeworth_error, spa_log10_p


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
