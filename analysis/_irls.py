"""Vectorised logistic-regression core of the PheWAS engine (private; use :class:`analysis.phewas.PheWAS`).

Three pieces, all plain numpy:

* :func:`fit_null_block` fits the covariate-only model (intercept, age, sex) for a block of phecodes at
  once by Newton-Raphson (= IRLS for the canonical logit link). Units excluded for a phecode carry weight 0.
* :func:`score_block` computes the efficient score test of *every* feature against each null model with a
  handful of matrix products (features x units x phecodes), the step that replaces ~10^6 separate fits.
  The statistic is invariant to centring and scaling of the feature (the intercept absorbs the shift), so
  features need no per-phecode z-scoring here; per-phecode means and SDs come out of the same products.
* :func:`refit_block` runs exact Newton fits of the full model (covariates + one z-scored feature) for many
  features of one phecode together, solving stacked (q+1)x(q+1) systems; it yields the maximum-likelihood
  beta, its SE, the log-likelihood (for the likelihood-ratio test) and a per-fit convergence flag.

Rank-deficient covariates (e.g. sex constant within a sex-specific phecode) are handled with
pseudo-inverses in the null model and by dropping the constant column before refits.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


def _loglik(y: np.ndarray, eta: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Bernoulli log-likelihood summed over units (axis 0), computed stably."""
    ll = y * eta - np.logaddexp(0.0, eta)
    if mask is not None:
        ll = ll * mask
    return ll.sum(axis=0)


def _pairwise_products(C: np.ndarray) -> np.ndarray:
    """Columns c_a * c_b for all a, b (n x q^2), used to assemble stacked Hessians with one product."""
    n, q = C.shape
    return (C[:, :, None] * C[:, None, :]).reshape(n, q * q)


@dataclass
class NullFit:
    """Covariate-only fits for a block of K phecodes."""

    beta: np.ndarray      # (K, q)
    mu: np.ndarray        # (n, K) fitted probabilities (meaningless where excluded)
    loglik: np.ndarray    # (K,)
    hess_pinv: np.ndarray  # (K, q, q) pseudo-inverse of C' W C
    converged: np.ndarray  # (K,) bool


def fit_null_block(C: np.ndarray, Y: np.ndarray, M: np.ndarray, tol: float = 1e-10,
                   max_iter: int = 50) -> NullFit:
    """Newton fits of y_k ~ C for K phecodes; ``Y`` and ``M`` are (n, K), M = 1 where a unit is analysed."""
    n, q = C.shape
    K = Y.shape[1]
    CC = _pairwise_products(C)
    ybar = (Y * M).sum(0) / np.maximum(M.sum(0), 1.0)
    ybar = np.clip(ybar, 1e-6, 1 - 1e-6)
    beta = np.zeros((K, q))
    beta[:, 0] = np.log(ybar / (1 - ybar))  # column 0 is the intercept
    converged = np.zeros(K, dtype=bool)
    for _ in range(max_iter):
        eta = C @ beta.T
        mu = expit(eta)
        W = M * mu * (1.0 - mu)
        g = C.T @ (M * (Y - mu))                      # (q, K)
        H = (CC.T @ W).T.reshape(K, q, q)
        Hinv = np.linalg.pinv(H, hermitian=True)
        step = np.einsum("kab,bk->ka", Hinv, g)
        beta = beta + step
        converged = np.max(np.abs(step), axis=1) < tol
        if converged.all():
            break
    eta = C @ beta.T
    mu = expit(eta)
    W = M * mu * (1.0 - mu)
    H = (CC.T @ W).T.reshape(K, q, q)
    return NullFit(beta=beta, mu=mu, loglik=_loglik(Y, eta, M),
                   hess_pinv=np.linalg.pinv(H, hermitian=True), converged=converged)


@dataclass
class ScoreBlock:
    """Score statistics and per-phecode feature moments for p features x K phecodes."""

    U: np.ndarray     # (p, K) score, raw-feature scale
    V: np.ndarray     # (p, K) efficient information, raw-feature scale
    mean: np.ndarray  # (p, K) feature mean within the phecode's analysed units
    sd: np.ndarray    # (p, K) feature SD (ddof=1) within those units


def score_block(F: np.ndarray, Fsq: np.ndarray, C: np.ndarray, Y: np.ndarray, M: np.ndarray,
                null: NullFit) -> ScoreBlock:
    """Score test of each column of F added to each null model, via six stacked matrix products."""
    n, q = C.shape
    K = Y.shape[1]
    W = M * null.mu * (1.0 - null.mu)
    R = M * (Y - null.mu)
    dt = F.dtype  # float32 F halves the cost of the two big products (screening precision ~1e-6)
    blocks = [R, M] + [W * C[:, [a]] for a in range(q)]
    prod = (F.T @ np.hstack(blocks).astype(dt)).astype(np.float64)       # (p, (2+q)K)
    prod2 = (Fsq.T @ np.hstack([W, M]).astype(dt)).astype(np.float64)    # (p, 2K)
    U = prod[:, :K]
    s1 = prod[:, K:2 * K]
    A = prod[:, 2 * K:].reshape(F.shape[1], q, K)      # (p, q, K): C' W f
    fwf = prod2[:, :K]
    s2 = prod2[:, K:]
    quad = np.einsum("pak,kab,pbk->pk", A, null.hess_pinv, A)
    V = fwf - quad
    nk = M.sum(0)
    mean = s1 / nk
    var = (s2 - nk * mean ** 2) / np.maximum(nk - 1.0, 1.0)
    sd = np.sqrt(np.clip(var, 0.0, None))
    return ScoreBlock(U=U, V=V, mean=mean, sd=sd)


@dataclass
class RefitResult:
    """Full-model fits for B features of one phecode (feature coefficient is the last column)."""

    beta: np.ndarray       # (B, q+1)
    se: np.ndarray         # (B, q+1)
    loglik: np.ndarray     # (B,)
    converged: np.ndarray  # (B,) bool
    n_iter: np.ndarray     # (B,) int
    separated: np.ndarray  # (B,) bool: fitted probabilities pinned at 0/1 or a diverging coefficient


def refit_block(C: np.ndarray, y: np.ndarray, Fz: np.ndarray, beta0: np.ndarray,
                mask: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 50,
                max_step: float = 5.0, start: np.ndarray | None = None) -> RefitResult:
    """Exact Newton fits of y_b ~ C + f_b for every column b, vectorised across columns.

    ``C`` (n, q): covariates, intercept first. ``y``: (n,) shared 0/1 outcome, or (n, B) one outcome per
    column (then columns may belong to different phecodes). ``mask`` (n, B), optional: 1 where a unit is
    analysed for that column, 0 elsewhere (those units get weight 0). ``beta0``: (q,) or (B, q) null
    coefficients used as the start; ``start`` (B,), optional: start of the feature coefficient (default 0;
    the PheWAS passes the score test's one-step estimate U/V, which saves about one Newton step). Plain
    Newton steps (as statsmodels' default solver), each capped at ``max_step`` per coefficient so that
    separated data cannot overflow; a column stops once its largest step is below ``tol``. Columns still
    moving after ``max_iter`` steps, or with a diverging coefficient, are reported as not converged /
    separated.

    The log-likelihood, the information matrix (for the SEs) and the fitted probabilities (for the
    separation check) are those of the last Newton iteration, i.e. at the estimate before its final step
    (< ``tol``): no extra pass over the data is made after convergence. Newton converges quadratically, so
    the returned ``beta`` (after that step) is exact to rounding, and the SE and log-likelihood differ
    from their values at ``beta`` by O(tol) relative and O(tol^2) respectively.
    """
    n, q = C.shape
    B = Fz.shape[1]
    d = q + 1
    CC = _pairwise_products(C)
    Y = np.broadcast_to(y[:, None], (n, B)) if y.ndim == 1 else y
    if mask is not None and mask.all():
        mask = None     # every unit analysed: no masking passes over the (n, B) arrays
    Mk = mask
    beta = np.zeros((B, d))
    beta[:, :q] = beta0
    if start is not None:
        beta[:, q] = np.clip(np.nan_to_num(start, nan=0.0), -max_step, max_step)
    converged = np.zeros(B, dtype=bool)
    n_iter = np.zeros(B, dtype=int)
    ll = np.full(B, np.nan)
    H = np.full((B, d, d), np.nan)
    pinned = np.zeros(B, dtype=bool)

    def hessian(Fa, mu, Ma):
        w = mu * (1.0 - mu)
        if Ma is not None:
            w *= Ma
        wf = w * Fa
        Ha = np.empty((Fa.shape[1], d, d))
        Ha[:, :q, :q] = (CC.T @ w).T.reshape(-1, q, q)
        cf = (C.T @ wf).T
        Ha[:, :q, q] = cf
        Ha[:, q, :q] = cf
        Ha[:, q, q] = np.einsum("nb,nb->b", wf, Fa)
        return Ha

    def linpred(bb, Fa):
        e = C @ bb[:, :q].T
        e += Fa * bb[:, q]
        return e

    for _ in range(max_iter):
        idx = np.flatnonzero(~converged & (n_iter < max_iter))
        if len(idx) == 0:
            break
        if len(idx) == B:  # views, no copies, while every column is still moving
            Fa, Ya, Ma = Fz, Y, Mk
        else:
            Fa, Ya, Ma = Fz[:, idx], Y[:, idx], None if Mk is None else Mk[:, idx]
        eta = linpred(beta[idx], Fa)
        mu = expit(eta)
        r = Ya - mu
        if Ma is not None:
            r *= Ma
        Ha = hessian(Fa, mu, Ma)
        g = np.empty((len(idx), d))
        g[:, :q] = (C.T @ r).T
        g[:, q] = np.einsum("nb,nb->b", Fa, r)
        try:
            step = np.linalg.solve(Ha, g[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            step = np.einsum("bij,bj->bi", np.linalg.pinv(Ha, hermitian=True), g)
        step = np.nan_to_num(step, nan=0.0, posinf=0.0, neginf=0.0)
        big = np.max(np.abs(step), axis=1, keepdims=True)
        step *= np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        beta[idx] += step
        n_iter[idx] += 1
        converged[idx] = np.max(np.abs(step), axis=1) < tol
        leaving = np.flatnonzero(converged[idx] | (n_iter[idx] >= max_iter))
        if len(leaving):   # last iteration of these columns: keep its likelihood, information, fit
            gi = idx[leaving]
            if len(leaving) == len(idx):
                Yl, el, mu_l, Ml = Ya, eta, mu, Ma
            else:
                Yl, el, mu_l = Ya[:, leaving], eta[:, leaving], mu[:, leaving]
                Ml = None if Ma is None else Ma[:, leaving]
            ll[gi] = _loglik(Yl, el, Ml)
            H[gi] = Ha[leaving]
            edge = (mu_l < 1e-10) | (mu_l > 1 - 1e-10)
            pinned[gi] = (edge if Ml is None else edge & (Ml > 0)).any(axis=0)
    with np.errstate(invalid="ignore"):
        try:
            cov = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            cov = np.linalg.pinv(H, hermitian=True)
        se = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
    separated = (pinned & (np.abs(beta[:, q]) > 8.0)) | ~np.isfinite(beta[:, q]) | (np.abs(beta[:, q]) > 30)
    return RefitResult(beta=beta, se=se, loglik=ll, converged=converged & ~separated, n_iter=n_iter,
                       separated=separated)
