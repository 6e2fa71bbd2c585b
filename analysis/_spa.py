"""Saddlepoint approximation (SPA) of the score test's null distribution (private; SAIGE's method).

Under the null model the score of a feature is ``S = sum_i g_i (y_i - mu_i)`` with ``y_i ~ Bernoulli(mu_i)``
independent and ``g`` the feature after removing its projection on the covariates (``g~ = g - C (C'WC)^-1
C'W g``; then ``S`` equals the plain score ``U`` and ``Var S = V``). Its cumulant generating function is
exact and cheap::

    K(t) = sum_i [softplus(logit mu_i + t g_i) - softplus(logit mu_i)] - t sum_i g_i mu_i
    K'(t) = sum_i g_i (p_i(t) - mu_i),   K''(t) = sum_i g_i^2 p_i(t) (1 - p_i(t)),   p_i(t) = expit(logit mu_i + t g_i)

The normal approximation ``S / sqrt(V)`` is poor in the tails when cases are few or the feature is skewed
(trained-model probabilities near 0 or 1): exactly the regime of rare phecodes. The tail probability at
``s`` uses the saddlepoint ``K'(t) = s`` and Barndorff-Nielsen's formula (as SAIGE, Dey et al. 2017;
Zhou et al. 2018)::

    w = sign(t) sqrt(2 (t s - K(t))),   v = t sqrt(K''(t)),   P(S >= s) ~ 1 - Phi(w + log(v / w) / w)

and the two-sided p-value is ``P(S >= |s|) + P(S <= -|s|)``, each tail from its own saddlepoint.

:func:`edgeworth_error` predicts, from the cumulants, how wrong the normal two-sided p-value is at a given z
(the odd skewness term cancels between the tails; the error is ``z (k4/24 H3(z) + g1^2/72 H5(z))``
relative), so that large, balanced scans only pay for the SPA where it matters.
"""
from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import expit

from analysis.stats_utils import LN10


def edgeworth_error(z: np.ndarray, skew: np.ndarray, exkurt: np.ndarray) -> np.ndarray:
    """Predicted relative error of the two-sided normal p-value at ``|z|`` (two-term Edgeworth).

    ``z`` is capped at 5 (p ~ 6e-7): the expansion diverges further out, and the question the gate asks is
    whether the score is close to normal out to that tail (if so, a balanced scan skips the SPA)."""
    z = np.minimum(np.abs(z), 5.0)
    h3 = z ** 3 - 3 * z
    h5 = z ** 5 - 10 * z ** 3 + 15 * z
    return z * (np.abs(exkurt) / 24.0 * np.abs(h3) + skew ** 2 / 72.0 * np.abs(h5))


def _tail_log10(G: np.ndarray, L: np.ndarray, mu: np.ndarray, s: np.ndarray, upper: bool,
                max_iter: int = 60, tol: float = 1e-9) -> np.ndarray:
    """log10 P(S >= s) (``upper``) or log10 P(S <= s) for each column, by the saddlepoint of K'(t) = s.

    ``G`` (n, B): adjusted features (0 for excluded units); ``L`` = logit(mu) (n, B).
    """
    B = G.shape[1]
    gmu = np.einsum("nb,nb->b", G, mu)
    # Range of S (K'(t) tends to its ends as t -> +-inf): beyond them the tail probability is 0.
    gp, gn = np.clip(G, 0, None), np.clip(-G, 0, None)
    smax = np.einsum("nb,nb->b", gp, 1.0 - mu) + np.einsum("nb,nb->b", gn, mu)
    smin = -(np.einsum("nb,nb->b", gp, mu) + np.einsum("nb,nb->b", gn, 1.0 - mu))
    out = np.full(B, np.nan)
    outside = (s >= smax) if upper else (s <= smin)
    if outside.any():   # s at the end of the support: P = probability of the one extreme outcome
        pos, neg = (G[:, outside] > 0), (G[:, outside] < 0)
        lmu, l1mu = np.log(mu[:, outside]), np.log1p(-mu[:, outside])
        ext = (pos * lmu + neg * l1mu).sum(0) if upper else (pos * l1mu + neg * lmu).sum(0)
        out[outside] = ext / LN10
    var0 = np.einsum("nb,nb->b", G * G, mu * (1 - mu))
    t = s / np.maximum(var0, 1e-300)
    lo = np.full(B, -np.inf)
    hi = np.full(B, np.inf)
    todo = ~outside & np.isfinite(s)
    for _ in range(max_iter):
        idx = np.flatnonzero(todo)
        if len(idx) == 0:
            break
        Gi, Li = (G, L) if len(idx) == B else (G[:, idx], L[:, idx])
        p = Gi * t[idx]
        p += Li
        expit(p, out=p)
        k1 = np.einsum("nb,nb->b", Gi, p) - gmu[idx]
        p *= 1.0 - p
        p *= Gi
        k2 = np.einsum("nb,nb->b", Gi, p)
        f = k1 - s[idx]
        lo[idx] = np.where(f < 0, t[idx], lo[idx])
        hi[idx] = np.where(f > 0, t[idx], hi[idx])
        step = f / np.maximum(k2, 1e-300)
        new = t[idx] - step
        bad = ~((new > lo[idx]) & (new < hi[idx])) | ~np.isfinite(new)
        mid = np.where(np.isfinite(lo[idx]) & np.isfinite(hi[idx]), 0.5 * (lo[idx] + hi[idx]),
                       np.where(np.isfinite(lo[idx]), 2 * np.abs(t[idx]) + 1, -2 * np.abs(t[idx]) - 1))
        new = np.where(bad, mid, new)
        done = np.abs(new - t[idx]) <= tol * np.maximum(1.0, np.abs(t[idx]))
        t[idx] = new
        todo[idx[done]] = False
    idx = np.flatnonzero(~outside & np.isfinite(s))
    if len(idx):
        th, Gi, Li = t[idx], G[:, idx], L[:, idx]
        K = (np.logaddexp(0.0, Li + th * Gi) - np.logaddexp(0.0, Li)).sum(0) - th * gmu[idx]
        p = expit(Li + th * Gi)
        k2 = np.einsum("nb,nb->b", Gi ** 2, p * (1 - p))
        si = s[idx]
        w = np.sign(th) * np.sqrt(np.clip(2.0 * (th * si - K), 0.0, None))
        z = si / np.sqrt(np.maximum(var0[idx], 1e-300))
        out[idx] = _barndorff_nielsen_log10(w, th * np.sqrt(k2), z, upper)
    return out


def _barndorff_nielsen_log10(w: np.ndarray, v: np.ndarray, z: np.ndarray, upper: bool) -> np.ndarray:
    """log10 of the tail ``1 - Phi(w + log(v / w) / w)`` (``upper``; else its lower-tail twin).

    Near the mean (``w ~ 0``) the formula is 0/0: the normal tail of the standardised score ``z`` is used."""
    with np.errstate(divide="ignore", invalid="ignore"):
        arg = w + np.log(v / w) / w
    near = ~np.isfinite(arg) | (np.abs(w) < 1e-3)
    arg = np.where(near, z, arg)
    return (stats.norm.logsf(arg) if upper else stats.norm.logcdf(arg)) / LN10


def spa_log10_p(G: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Two-sided saddlepoint log10 p-value of scores ``s`` (B,) for adjusted features ``G`` (n, B) under
    null probabilities ``mu`` (n, B); excluded units must have ``G = 0``."""
    mu = np.clip(mu, 1e-15, 1 - 1e-15)
    L = np.log(mu) - np.log1p(-mu)
    a = np.abs(s)
    up = _tail_log10(G, L, mu, a, upper=True)
    dn = _tail_log10(G, L, mu, -a, upper=False)
    lp = np.logaddexp(up * LN10, dn * LN10) / LN10
    return np.minimum(lp, 0.0)


def score_moments(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Skewness and fourth standardised moment of each (globally standardised) feature column."""
    step = max(1, F.shape[0] // 10_000)     # a gate needs no more than ~10,000 rows
    Fs = np.ascontiguousarray(F[::step], dtype=np.float32)
    F2 = Fs * Fs
    n = Fs.shape[0]
    return (F2 * Fs).sum(0, dtype=np.float64) / n, (F2 * F2).sum(0, dtype=np.float64) / n


def spa_gate(z: np.ndarray, feat_skew: np.ndarray, feat_m4: np.ndarray, mu: np.ndarray, m: np.ndarray,
             tol: float) -> np.ndarray:
    """Pairs of one phecode whose normal score p-value is predicted to be off by more than ``tol``.

    The score's third and fourth cumulants are ``sum g^3 w (1 - 2 mu)`` and ``sum g^4 w (1 - 6 w)``
    (``w = mu (1 - mu)``); with the feature's own skewness and fourth moment standing in for its values
    among the phecode's units, the standardised cumulants are ``skew * sum w(1-2mu) / (sum w)^1.5`` and
    ``m4 * sum w(1-6w) / (sum w)^2``. Rare phecodes and skewed features give large values (SPA applied);
    a balanced phecode with thousands of cases and a symmetric feature does not.
    """
    mu = mu[m]
    w = mu * (1.0 - mu)
    sw = max(float(w.sum()), 1e-300)
    g1 = feat_skew * float((w * (1 - 2 * mu)).sum()) / sw ** 1.5
    k4 = feat_m4 * float((w * (1 - 6 * w)).sum()) / sw ** 2
    return edgeworth_error(z, g1, k4) > tol


def adjusted_features(F: np.ndarray, C: np.ndarray, w: np.ndarray, m: np.ndarray, hess_pinv: np.ndarray,
                      cols: np.ndarray) -> np.ndarray:
    """``g~ = g - C (C'WC)^-1 C'W g`` for feature columns ``cols`` of one phecode, 0 outside its units."""
    G = F[:, cols].astype(np.float64)
    A = C.T @ (w[:, None] * G)                       # (q, B)
    G -= C @ (hess_pinv @ A)
    G *= m[:, None]
    return G


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _conditional_tail(G: np.ndarray, C: np.ndarray, L: np.ndarray, mu: np.ndarray, s: np.ndarray,
                      upper: bool, max_iter: int = 50, tol: float = 1e-8) -> np.ndarray:
    """log10 P(S >= s | C'y) (``upper``) or P(S <= s | C'y) by Skovgaard's double saddlepoint.

    ``G`` (n, B) adjusted features, ``C`` (n, q) covariates with the intercept, ``L`` / ``mu`` (n,) the null
    fit's logits / probabilities, all restricted to the phecode's units. NaN where the saddlepoint was not
    found (an observed score at the end of its conditional support)."""
    n, B = G.shape
    q = C.shape[1]
    a_c = C.T @ mu                                        # C'y at the null MLE
    b_g = G.T @ mu + s                                    # target of G'y
    w0 = mu * (1.0 - mu)
    det0 = np.linalg.det(C.T @ (w0[:, None] * C))
    tau = np.zeros((q, B))
    var0 = np.einsum("nb,n->b", G * G, w0)
    t = s / np.maximum(var0, 1e-300)
    sp0 = _softplus(L).sum()

    def objective(tau_: np.ndarray, t_: np.ndarray) -> np.ndarray:
        eta = L[:, None] + C @ tau_ + G * t_
        return _softplus(eta).sum(0) - sp0 - np.einsum("q,qb->b", a_c, tau_) - t_ * b_g

    h = objective(tau, t)
    ok = np.zeros(B, dtype=bool)
    # convergence: each gradient entry small against the size of its statistic
    scale = np.concatenate([np.broadcast_to(np.abs(a_c)[:, None] + 1.0, (q, B)), (np.sqrt(var0) + 1e-12)[None, :]])
    for _ in range(max_iter):
        eta = L[:, None] + C @ tau + G * t
        p = expit(eta)
        r = p - mu[:, None]
        grad = np.concatenate([C.T @ r, (np.einsum("nb,nb->b", G, p) - b_g)[None, :]], axis=0)   # (q+1, B)
        W = p * (1.0 - p)
        H = np.empty((B, q + 1, q + 1))
        H[:, :q, :q] = np.einsum("nq,nb,nr->bqr", C, W, C)
        cg = np.einsum("nq,nb->bq", C, W * G)
        H[:, :q, q] = cg
        H[:, q, :q] = cg
        H[:, q, q] = np.einsum("nb,nb->b", W, G * G)
        ok = (np.abs(grad) <= tol * scale).all(0)
        if ok.all():
            break
        try:
            step = np.linalg.solve(H + 1e-12 * np.eye(q + 1), grad.T[:, :, None])[:, :, 0].T
        except np.linalg.LinAlgError:
            break
        alpha = np.ones(B)
        for _ in range(30):                               # backtracking on the convex objective
            new_tau, new_t = tau - alpha * step[:q], t - alpha * step[q]
            hn = objective(new_tau, new_t)
            worse = ~(hn <= h + 1e-12 * np.abs(h)) & ~ok
            if not worse.any():
                break
            alpha = np.where(worse, alpha / 2, alpha)
        upd = ~ok
        tau[:, upd], t[upd], h[upd] = new_tau[:, upd], new_t[upd], hn[upd]
    out = np.full(B, np.nan)
    good = ok & np.isfinite(h) & np.isfinite(t)
    if not good.any():
        return out
    detH = np.linalg.det(H[good])
    w = np.sign(t[good]) * np.sqrt(np.clip(-2.0 * h[good], 0.0, None))
    u = t[good] * np.sqrt(np.clip(detH, 0.0, None) / max(det0, 1e-300))
    z = s[good] / np.sqrt(np.maximum(var0[good], 1e-300))
    out[good] = _barndorff_nielsen_log10(w, u, z, upper)
    return out


def _column_basis(C: np.ndarray) -> np.ndarray:
    """An orthonormal basis of the span of ``C``'s columns: conditioning on ``C'y`` is conditioning on it.

    Why: restricted to a phecode's units a covariate can be constant (sex for a sex-specific phecode) or
    collinear with others; the joint saddlepoint's Hessian is then singular and the tail came out as
    10^-5000 for an ordinary score."""
    U, sv, _ = np.linalg.svd(C, full_matrices=False)
    keep = sv > max(C.shape) * np.finfo(float).eps * (sv[0] if len(sv) else 0.0) * 1e3
    return U[:, keep] * np.sqrt(C.shape[0])


def conditional_spa_log10_p(G: np.ndarray, C: np.ndarray, mu: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Two-sided log10 p of scores ``s`` (B,) conditional on the covariates' sufficient statistics ``C'y``.

    Why conditional: the null fit estimates the intercept (and covariate effects) from the same outcomes, so
    the score's real null distribution is that of ``g~'y`` given ``C'y`` (for an intercept-only null: given
    the number of cases), not of independent Bernoulli draws. The unconditional SPA adds the variation of
    the case count, ``3 / cases`` of excess kurtosis, and is conservative for rare phecodes: measured with
    an estimated intercept and 30 cases, 0.75x nominal at 1e-3 and 0.64x at 1e-4, against 0.98x / 0.95x
    with the intercept known. Skovgaard's (1987) double saddlepoint on the joint cumulant generating
    function of ``(C'y, g~'y)`` removes it; the denominator's saddlepoint is 0 because ``mu`` is the null
    MLE. Inputs are restricted to the phecode's units. A tail whose conditional saddlepoint is not found (a
    score beyond the end of its conditional support) falls back to the unconditional tail, which is larger.
    """
    mu = np.clip(np.asarray(mu, dtype=np.float64), 1e-15, 1 - 1e-15)
    L = np.log(mu) - np.log1p(-mu)
    a = np.abs(np.asarray(s, dtype=np.float64))
    C = _column_basis(np.asarray(C, dtype=np.float64))
    tails = []
    for upper, sv in ((True, a), (False, -a)):
        lt = _conditional_tail(G, C, L, mu, sv, upper=upper)
        miss = ~np.isfinite(lt)
        if miss.any():      # no conditional saddlepoint (e.g. beyond the support's end): the unconditional tail
            Gm = G[:, miss]
            lt[miss] = _tail_log10(Gm, np.broadcast_to(L[:, None], Gm.shape), np.broadcast_to(mu[:, None], Gm.shape),
                                   sv[miss], upper=upper)
        tails.append(lt)
    up, dn = tails
    with np.errstate(invalid="ignore"):
        lp = np.logaddexp(up * LN10, dn * LN10) / LN10
    return np.minimum(lp, 0.0)
