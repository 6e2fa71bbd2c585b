"""Batched Firth-penalised logistic regression and its penalised likelihood-ratio test (private).

Firth (1993) adds the Jeffreys prior to the log-likelihood, ``l*(b) = l(b) + 0.5 log det I(b)`` with
``I = X' W X``; the estimate is finite even under complete or quasi-complete separation and its
small-sample bias is O(n^-2). The modified score is ``U*_r = sum_i (y_i - mu_i + h_i (1/2 - mu_i)) x_ir``
with ``h_i`` the diagonal of the hat matrix ``W^1/2 X I^-1 X' W^1/2``. As in R's ``logistf`` (Heinze &
Schemper 2002), the update is ``I^-1 U*`` restricted to the free coefficients, capped at ``max_step`` per
coefficient and halved (up to ``max_halvings`` times) while the penalised log-likelihood decreases.

The test of the feature coefficient is the penalised likelihood-ratio test ``2 (l*(b_hat) - l*(b_0))``
against chi-square(1), where ``b_0`` maximises ``l*`` with the feature coefficient fixed at 0 and the
penalty still computed from the *full* design (``logistftest``, PheTK's ``firth_logit``, REGENIE's Firth
fallback). Everything runs for B columns at once: design = shared covariates ``C`` plus one feature column
per fit, one outcome and mask per column, as :func:`analysis._irls.refit_block`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from analysis._irls import _pairwise_products


@dataclass
class FirthResult:
    """Penalised fits for B columns; the feature coefficient is the last column of ``beta``."""

    beta: np.ndarray          # (B, q+1)
    se: np.ndarray            # (B, q+1) sqrt(diag(I^-1)) at the estimate
    pen_loglik: np.ndarray    # (B,) l + 0.5 log det I
    converged: np.ndarray     # (B,) bool
    n_iter: np.ndarray        # (B,)


def _information(C: np.ndarray, CC: np.ndarray, F: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Stacked Fisher information X'WX of the designs [C, f_b], shape (B, q+1, q+1)."""
    q = C.shape[1]
    wf = w * F
    out = np.empty((F.shape[1], q + 1, q + 1))
    out[:, :q, :q] = (CC.T @ w).T.reshape(-1, q, q)
    cf = (C.T @ wf).T
    out[:, :q, q] = cf
    out[:, q, :q] = cf
    out[:, q, q] = np.einsum("nb,nb->b", wf, F)
    return out


def _state(C, CC, F, Y, M, beta):
    """Linear predictor, probabilities, information, its inverse and the penalised log-likelihood."""
    q = C.shape[1]
    eta = C @ beta[:, :q].T + F * beta[:, q]
    mu = expit(eta)
    w = M * mu * (1.0 - mu)
    info = _information(C, CC, F, w)
    sign, logdet = np.linalg.slogdet(info)
    logdet = np.where(sign > 0, logdet, -np.inf)
    ll = ((Y * eta - np.logaddexp(0.0, eta)) * M).sum(0)
    return eta, mu, w, info, ll + 0.5 * logdet


def _hat_diag(C: np.ndarray, CC: np.ndarray, F: np.ndarray, w: np.ndarray, inv: np.ndarray) -> np.ndarray:
    """h_i = w_i x_i' I^-1 x_i for x_i = (c_i, f_ib), all columns at once (n, B)."""
    q = C.shape[1]
    quad = CC @ inv[:, :q, :q].reshape(-1, q * q).T          # c' A c
    quad += 2.0 * F * (C @ inv[:, :q, q].T)                  # 2 f c' b
    quad += F * F * inv[:, q, q]                             # f^2 e
    return w * quad


def firth_block(C: np.ndarray, Y: np.ndarray, F: np.ndarray, M: np.ndarray, beta0: np.ndarray,
                fix_feature: bool = False, tol: float = 1e-8, max_iter: int = 100, max_step: float = 5.0,
                max_halvings: int = 10) -> FirthResult:
    """Firth fits of ``Y[:, b] ~ C + F[:, b]`` (units with ``M = 0`` ignored) for every column b.

    ``beta0`` (B, q) or (B, q+1): start. With ``fix_feature`` the feature coefficient is held at 0 (the
    restricted fit of the penalised likelihood-ratio test) while the penalty keeps the full design.
    A column has converged when its largest coefficient update is below ``tol`` and its modified score
    below ``sqrt(tol)``.
    """
    n, q = C.shape
    B = F.shape[1]
    d = q + 1
    CC = _pairwise_products(C)
    beta = np.zeros((B, d))
    beta[:, :beta0.shape[1]] = beta0
    if fix_feature:
        beta[:, q] = 0.0
    free = slice(0, q) if fix_feature else slice(0, d)
    converged = np.zeros(B, dtype=bool)
    n_iter = np.zeros(B, dtype=int)
    _, mu, w, info, pll = _state(C, CC, F, Y, M, beta)
    for _ in range(max_iter):
        idx = np.flatnonzero(~converged)
        if len(idx) == 0:
            break
        Fa, Ya, Ma = F[:, idx], Y[:, idx], M[:, idx]
        inv = np.linalg.pinv(info[idx], hermitian=True)
        h = _hat_diag(C, CC, Fa, w[:, idx], inv)
        r = Ma * (Ya - mu[:, idx] + h * (0.5 - mu[:, idx]))
        g = np.empty((len(idx), d))
        g[:, :q] = (C.T @ r).T
        g[:, q] = np.einsum("nb,nb->b", Fa, r)
        step = np.zeros((len(idx), d))
        sub = np.linalg.pinv(info[idx][:, free, free], hermitian=True)
        step[:, free] = np.einsum("bij,bj->bi", sub, g[:, free])
        step = np.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        big = np.max(np.abs(step), axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        gmax = np.max(np.abs(g[:, free]), axis=1)
        # step-halving on the penalised log-likelihood, for the columns where it went down
        t = np.ones(len(idx))
        todo = np.arange(len(idx))
        new_beta = beta[idx].copy()
        for _h in range(max_halvings + 1):
            cand = beta[idx[todo]] + t[todo, None] * step[todo]
            _, mu_c, w_c, info_c, pll_c = _state(C, CC, F[:, idx[todo]], Y[:, idx[todo]], M[:, idx[todo]], cand)
            ok = pll_c >= pll[idx[todo]] - 1e-12 * np.abs(pll[idx[todo]]) - 1e-12
            last = _h == max_halvings
            take = ok | last
            sel = todo[take]
            new_beta[sel] = cand[take]
            gi = idx[sel]
            mu[:, gi], w[:, gi], info[gi], pll[gi] = mu_c[:, take], w_c[:, take], info_c[take], pll_c[take]
            todo = todo[~take]
            if len(todo) == 0:
                break
            t[todo] *= 0.5
        moved = np.max(np.abs(new_beta - beta[idx]), axis=1)
        beta[idx] = new_beta
        n_iter[idx] += 1
        converged[idx] = (moved < tol) & (gmax < np.sqrt(tol))
    inv = np.linalg.pinv(info, hermitian=True)
    se = np.sqrt(np.clip(np.diagonal(inv, axis1=1, axis2=2), 0.0, None))
    if fix_feature:
        se[:, q] = np.nan
    ok = np.isfinite(pll) & np.isfinite(beta).all(axis=1)
    return FirthResult(beta=beta, se=se, pen_loglik=pll, converged=converged & ok, n_iter=n_iter)


@dataclass
class FirthTest:
    """Firth estimate of the feature coefficient and its penalised likelihood-ratio test."""

    beta: np.ndarray        # (B,) feature coefficient
    se: np.ndarray          # (B,)
    lr: np.ndarray          # (B,) 2 (l*_full - l*_restricted), clipped at 0
    converged: np.ndarray   # (B,) both fits converged
    full: FirthResult
    restricted: FirthResult


def firth_lrt(C: np.ndarray, Y: np.ndarray, F: np.ndarray, M: np.ndarray, beta_null: np.ndarray,
              tol: float = 1e-8, max_iter: int = 100) -> FirthTest:
    """Full and restricted (feature coefficient 0) Firth fits and the penalised LR statistic."""
    r0 = firth_block(C, Y, F, M, beta_null, fix_feature=True, tol=tol, max_iter=max_iter)
    r1 = firth_block(C, Y, F, M, r0.beta, fix_feature=False, tol=tol, max_iter=max_iter)
    lr = np.clip(2.0 * (r1.pen_loglik - r0.pen_loglik), 0.0, None)
    q = C.shape[1]
    return FirthTest(beta=r1.beta[:, q], se=r1.se[:, q], lr=lr, converged=r0.converged & r1.converged,
                     full=r1, restricted=r0)
