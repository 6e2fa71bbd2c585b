"""Exact refits of screened (feature, phecode) pairs for their estimates: ML, or Firth where ML is unsafe.

The refit does not change ``p`` (the saddlepoint-corrected score test, see :mod:`analysis.phewas`); it gives
the odds ratio per SD, its SE and CI, the test p-values of the fitted model as extra columns, and the
convergence flag that gates ``hit``. Which fit (the ``estimate`` column):

``ml``
    maximum-likelihood Newton fit (:func:`analysis._irls.refit_block`, identical to ``statsmodels.Logit``);
    ``p_wald`` and ``p_lrt`` (likelihood ratio against the covariate-only model). Used when the phecode has
    at least ``firth_below`` cases and controls and the fit converged without signs of separation.
``firth``
    Firth-penalised fit (:mod:`analysis._firth`) and ``p_firth``, its penalised likelihood-ratio test, for
    phecodes with fewer than ``firth_below`` cases or controls and as the fallback for every ML fit that did
    not converge or showed (quasi-)separation; ``note`` says why.

A fit that still fails to converge is kept with ``converged = False``; it can never be a hit.
"""
from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from analysis import _firth, _irls
from analysis.stats_utils import log10_p_chi2, log10_p_wald


def _zscore(F: np.ndarray, jc: np.ndarray, Mk: np.ndarray) -> np.ndarray:
    """Exact (two-pass) z-scoring of feature columns ``jc`` within each column's analysed units."""
    Fz = F[:, jc]
    nk = Mk.sum(0)
    Fz -= np.einsum("nb,nb->b", Fz, Mk) / nk
    Fz *= Mk
    Fz /= np.sqrt(np.einsum("nb,nb->b", Fz, Fz) / (nk - 1.0))
    return Fz


def refit_requests(requests: list, outs: list, F: np.ndarray, C: np.ndarray, P_arr: np.ndarray,
                   null_beta: np.ndarray, null_ll: np.ndarray, small: np.ndarray, cfg, progress: bool) -> None:
    """Refit the requested pairs (``requests``: [(phecode index, feature indices)]) into ``outs``.

    ``small[k]``: phecode k has fewer than ``cfg.firth_below`` cases or controls (Firth straight away).
    Phecodes where a covariate is constant among the analysed units (e.g. sex for a sex-specific
    phecode) are refitted on their own with that covariate dropped.
    """
    groups: dict[tuple, list] = {}
    for kg, sel in requests:
        m = np.isfinite(P_arr[:, kg])
        keep = tuple([0] + [a for a in range(1, C.shape[1]) if np.ptp(C[m, a]) > 0])
        groups.setdefault((keep, bool(small[kg])), []).append((kg, sel))
    for (keep, firth), reqs in groups.items():
        full_rank = len(keep) == C.shape[1]
        ks = np.concatenate([np.full(len(sel), kg) for kg, sel in reqs])
        js = np.concatenate([sel for _, sel in reqs])
        Ck = C[:, list(keep)]
        chunks = range(0, len(ks), cfg.refit_chunk)
        for c0 in tqdm(chunks, desc="phewas refits", disable=not progress, unit="chunk"):
            kc, jc = ks[c0:c0 + cfg.refit_chunk], js[c0:c0 + cfg.refit_chunk]
            Mk = np.isfinite(P_arr[:, kc]).astype(float)
            Y = np.nan_to_num(P_arr[:, kc])
            Fz = _zscore(F, jc, Mk)
            if full_rank:
                b0, ll0 = null_beta[kc], null_ll[kc]
            else:
                nf = _irls.fit_null_block(Ck, Y, Mk, tol=cfg.tol, max_iter=cfg.max_iter)
                b0, ll0 = nf.beta, nf.loglik
            # the score test's one-step estimate (per within-phecode SD, the scale of Fz) starts Newton
            start = np.array([outs[k]["beta"][j] for k, j in zip(kc, jc)])
            _fit_chunk(outs, kc, jc, Ck, Y, Fz, Mk, b0, ll0, firth, cfg, start)


def _fit_chunk(outs, kc, jc, C, Y, Fz, Mk, b0, ll0, firth: bool, cfg, start: np.ndarray | None = None) -> None:
    B = len(kc)
    use_firth = np.full(B, firth)
    why = np.full(B, "fewer than %d cases or controls" % cfg.firth_below if firth else "", dtype=object)
    res = {k: np.full(B, np.nan) for k in ("beta", "se", "lw", "llrt", "lp")}
    conv = np.zeros(B, dtype=bool)
    method = np.full(B, "lrt", dtype=object)
    if not firth:
        r = _irls.refit_block(C, Y, Fz, b0, mask=Mk, tol=cfg.tol, max_iter=cfg.max_iter, start=start)
        b, s = r.beta[:, -1], r.se[:, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            res["lw"] = log10_p_wald(b / s)
        res["llrt"] = log10_p_chi2(2.0 * (r.loglik - ll0))
        res["beta"], res["se"], res["lp"] = b, s, res["llrt"].copy()
        conv = r.converged.copy()
        bad = ~r.converged | r.separated
        use_firth = bad
        why = np.where(r.separated, "ML fit showed (quasi-)complete separation",
                       np.where(~r.converged, f"ML fit did not converge in {cfg.max_iter} iterations", ""))
    idx = np.flatnonzero(use_firth)
    firth_conv = np.zeros(B, dtype=bool)
    if len(idx):
        ft = _firth.firth_lrt(C, Y[:, idx], Fz[:, idx], Mk[:, idx], b0[idx] if b0.ndim == 2 else
                              np.broadcast_to(b0, (len(idx), len(b0))), tol=max(cfg.tol, 1e-6),
                              max_iter=2 * cfg.max_iter)
        res["beta"][idx], res["se"][idx] = ft.beta, ft.se
        res["lp"][idx] = log10_p_chi2(ft.lr)
        if firth:   # no ML fit was made: the Wald column carries Firth's Wald p
            with np.errstate(divide="ignore", invalid="ignore"):
                res["lw"][idx] = log10_p_wald(ft.beta / ft.se)
        conv[idx] = ft.converged
        firth_conv[idx] = ft.converged
        method[idx] = "firth_lrt"
    for kg in np.unique(kc):
        w = kc == kg
        out, js = outs[kg], jc[w]
        out["beta"][js] = res["beta"][w]
        out["se"][js] = res["se"][w]
        out["log10_p_wald"][js] = res["lw"][w]
        out["log10_p_lrt"][js] = res["llrt"][w]
        out["estimate"][js] = np.where(method[w] == "firth_lrt", "firth", "ml")
        out["converged"][js] = conv[w]
        fw = use_firth[w]
        note = np.where(fw, np.where(firth_conv[w], "Firth estimate (" + why[w].astype(str) + ")",
                                     "Firth fit did not converge (" + why[w].astype(str) + "); never a hit"), "")
        out["note"][js] = note
        if (method[w] == "firth_lrt").any():
            lf = np.where(method[w] == "firth_lrt", res["lp"][w], np.nan)
            out["log10_p_firth"][js] = lf
