"""PheWAS estimator: every ECG feature against every phecode, adjusted for age and sex.

Model per (feature, phecode): ``logit P(case) = b0 + b_age*age + b_sex*sex + beta*z``, where ``z`` is the
feature z-scored (sample SD) within the phecode's analysed units (cases + controls), so ``exp(beta)`` is the
odds ratio per SD.

How the ~10^6 regressions are made fast (see :mod:`analysis._irls`):

1. one null model (covariates only) per phecode, fitted for blocks of phecodes at once;
2. a score test of all features against each null model with a few matrix products;
3. exact batched Newton refits of the full model (batched across features *and* phecodes, one outcome
   and mask per column) for the pairs with score p < ``screen_p`` or score-test BH q < 2 x alpha
   (``refit='hits'``), or for every pair (``refit='all'``), giving the maximum-likelihood beta, SE,
   Wald p (the reported ``p``; identical to ``statsmodels.Logit``) and a likelihood-ratio p.

Multiple testing (:mod:`analysis.fdr`): ``q`` is Benjamini-Hochberg over all tests; ``q_phecode`` is BH over
phecodes of each phecode's Simes p-value; ``q_hier`` is the two-stage (phecode, then feature) adjusted
value. ``hit`` is ``q_hier < alpha`` by default (``fdr='hierarchical'``) or ``q < alpha`` (``fdr='bh'``).

Pairs that are not refitted keep the score p (``method='score'``) with a one-step estimate
``beta = U/V`` and ``se = 1/sqrt(V)`` (on the per-SD scale), which is accurate for small effects. BH q-values
are computed across all tests; ``bonferroni`` flags p < alpha / n_tests. Non-converged or separated fits
are kept with ``converged=False`` and a ``note``.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from analysis import _irls
from analysis.fdr import METHODS as FDR_METHODS
from analysis.fdr import hierarchical_qvalues
from analysis.stats_utils import LN10, bh_qvalues, log10_p_chi2, log10_p_wald
from protoecg.errors import ProtoECGError

log = logging.getLogger(__name__)

RESULT_COLUMNS = [
    "feature", "feature_kind", "phecode", "description", "category", "n_cases", "n_controls",
    "beta", "se", "odds_ratio", "or_ci_low", "or_ci_high", "p", "log10_p", "q", "bonferroni",
    "q_phecode", "q_hier", "hit", "p_score", "p_wald", "p_lrt", "converged", "method", "note",
]

_KIND_PREFIXES = (("sim_", "prototype"), ("prob_", "class_probability"), ("logit_", "branch_logit"),
                  ("agg_", "class_aggregate"), ("concept_", "machine_concept"))


class PheWASInputError(ProtoECGError):
    """The feature, phenotype or covariate tables cannot be analysed as given."""


def feature_kind(name: str) -> str:
    """Kind of a feature column from its prefix (``sim_`` prototype, ``prob_`` class probability, ...)."""
    for prefix, kind in _KIND_PREFIXES:
        if name.startswith(prefix):
            return kind
    return "other"


@dataclass(frozen=True)
class PheWASConfig:
    """Parameters of a scan; saved beside every result (``PheWAS.config_``)."""

    min_cases: int = 20
    min_controls: int = 20
    screen_p: float = 1e-3
    refit: str = "hits"
    covariates: tuple[str, ...] = ("age", "sex")
    alpha: float = 0.05
    tol: float = 1e-8
    max_iter: int = 50
    block_size: int = 32
    refit_chunk: int = 256
    fdr: str = "hierarchical"   # which adjusted value decides ``hit``: "hierarchical" (q_hier) or "bh" (q)


class PheWAS:
    """Lifelines-style estimator: ``PheWAS(...).fit(features, phenotypes, covariates)`` then ``results_``.

    Example::

        pw = PheWAS(min_cases=20).fit(features, cohort.phenotypes, cohort.units[["age", "sex"]],
                                      phecode_info=cohort.phecode_info)
        pw.summary.head()
    """

    def __init__(self, min_cases: int = 20, min_controls: int = 20, screen_p: float = 1e-3,
                 refit: str = "hits", covariates: Sequence[str] = ("age", "sex"), alpha: float = 0.05,
                 tol: float = 1e-8, max_iter: int = 50, block_size: int = 32, refit_chunk: int = 256,
                 fdr: str = "hierarchical", progress: bool = False) -> None:
        if refit not in ("hits", "all"):
            raise ValueError("refit must be 'hits' or 'all'")
        if fdr not in FDR_METHODS:
            raise ValueError(f"fdr must be one of {FDR_METHODS}, got {fdr!r}")
        self.config = PheWASConfig(min_cases, min_controls, float(screen_p), refit, tuple(covariates),
                                   float(alpha), float(tol), int(max_iter), int(block_size),
                                   int(refit_chunk), fdr)
        self.progress = progress

    # ------------------------------------------------------------------ inputs
    def _align(self, features: pd.DataFrame, phenotypes: pd.DataFrame, covariates: pd.DataFrame):
        cfg = self.config
        missing = [c for c in cfg.covariates if c not in covariates.columns]
        if missing:
            raise PheWASInputError(f"covariate column(s) {missing} not found; have {list(covariates.columns)}")
        feats = features.select_dtypes(include=[np.number])
        if feats.shape[1] == 0:
            raise PheWASInputError("the feature table has no numeric columns")
        units = feats.index.intersection(phenotypes.index).intersection(covariates.index)
        if len(units) == 0:
            raise PheWASInputError("features, phenotypes and covariates share no unit ids "
                                   "(index them all by study_id)")
        cov = covariates.loc[units, list(cfg.covariates)].astype(float)
        F = feats.to_numpy(dtype=float, copy=True) if feats.index.equals(units) else \
            feats.loc[units].to_numpy(dtype=float)
        bad = cov.isna().any(axis=1).to_numpy() | np.isnan(F).any(axis=1)
        self.dropped_units_ = list(units[bad])
        if bad.any():
            log.warning("dropping %d units with missing covariates or features", int(bad.sum()))
            units = units[~bad]
            F = F[~bad]
        mean = F.mean(axis=0)
        F -= mean
        sd = np.sqrt(np.einsum("ij,ij->j", F, F) / len(F))
        const = sd <= 1e-12 * np.maximum(1.0, np.abs(mean))
        self.constant_features_ = list(feats.columns[const])
        if const.any():
            log.warning("skipping %d constant feature(s): %s", int(const.sum()), self.constant_features_[:5])
            F = F[:, ~const]
        # Global standardisation only for numerical conditioning; results are per within-phecode SD.
        F /= sd[~const]
        return units, F, list(feats.columns[~const]), cov.loc[units].to_numpy(), phenotypes.loc[units]

    def _select_phecodes(self, P: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
        cfg = self.config
        cases = (P == 1).sum(0)
        controls = (P == 0).sum(0)
        ok = (cases >= cfg.min_cases) & (controls >= cfg.min_controls)
        skipped = pd.DataFrame({"phecode": P.columns[~ok.to_numpy()], "n_cases": cases[~ok].to_numpy(),
                                "n_controls": controls[~ok].to_numpy()})
        skipped["reason"] = (f"fewer than {cfg.min_cases} cases or {cfg.min_controls} controls")
        return [str(c) for c in P.columns[ok.to_numpy()]], skipped

    # ------------------------------------------------------------------ fit
    def fit(self, features: pd.DataFrame, phenotypes: pd.DataFrame, covariates: pd.DataFrame,
            phecode_info: pd.DataFrame | None = None) -> "PheWAS":
        """Scan all numeric feature columns against all phecode columns (1 case, 0 control, NaN excluded)."""
        cfg = self.config
        units, F, names, cov, P = self._align(features, phenotypes, covariates)
        P.columns = [str(c) for c in P.columns]
        phecodes, self.skipped_phecodes_ = self._select_phecodes(P)
        if not phecodes:
            raise PheWASInputError(f"no phecode has >= {cfg.min_cases} cases and >= {cfg.min_controls} "
                                   f"controls among {len(units)} units")
        # The score products run in float32 (their error, ~1e-6 relative, only touches screening and
        # the score p of pairs that are not refitted); refits use the float64 matrix.
        F32 = F.astype(np.float32)
        Fsq32 = F32 * F32
        cmean, csd = cov.mean(0), cov.std(0)
        csd[csd == 0] = 1.0
        C = np.column_stack([np.ones(len(units)), (cov - cmean) / csd])
        P_arr = P[phecodes].to_numpy(dtype=float)
        outs, requests = [], []
        null_beta = np.zeros((len(phecodes), C.shape[1]))
        null_ll = np.zeros(len(phecodes))
        bs = cfg.block_size
        starts = range(0, len(phecodes), bs)
        for b0 in tqdm(starts, desc="phewas scan", disable=not self.progress, unit="block"):
            Yraw = P_arr[:, b0:b0 + bs]
            M = np.isfinite(Yraw).astype(float)
            Y = np.nan_to_num(Yraw, nan=0.0)
            null = _irls.fit_null_block(C, Y, M, tol=cfg.tol, max_iter=cfg.max_iter)
            sc = _irls.score_block(F32, Fsq32, C, Y, M, null)
            null_beta[b0:b0 + Y.shape[1]] = null.beta
            null_ll[b0:b0 + Y.shape[1]] = null.loglik
            for k in range(Y.shape[1]):
                out, sel = self._score_phecode(phecodes[b0 + k], k, Y[:, k], M[:, k].astype(bool), null, sc)
                outs.append(out)
                if len(sel):
                    requests.append((b0 + k, sel))
        requests = self._add_score_hits(requests, outs)
        self._refit_all(requests, outs, F, C, P_arr, null_beta, null_ll)
        res = pd.DataFrame({key: np.concatenate([o[key] for o in outs]) for key in outs[0]})
        res.insert(0, "feature", np.asarray(names, dtype=object)[res.pop("_j").to_numpy()])
        kinds = {n: feature_kind(n) for n in names}
        res.insert(1, "feature_kind", res["feature"].map(kinds))
        self._finish(res, phecode_info)
        self.n_units_ = len(units)
        self.features_ = names
        self.config_ = asdict(cfg)
        return self

    def _score_phecode(self, code: str, k: int, y: np.ndarray, m: np.ndarray, null: _irls.NullFit,
                       sc: _irls.ScoreBlock) -> tuple[dict, np.ndarray]:
        """Score-test results of one phecode and the features to refit exactly."""
        cfg = self.config
        U, V, sd = sc.U[:, k], sc.V[:, k], sc.sd[:, k]
        p = len(U)
        n_cases = int(y[m].sum())
        n_controls = int(m.sum()) - n_cases
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = U ** 2 / V
            beta = U / V * sd
            se = sd / np.sqrt(V)
        # Features are globally standardised (SD 1) and the score products are float32, so "constant
        # within this phecode" means an SD below 1e-4, and "explained by the covariates" an efficient
        # information below 1e-5 of what an unrelated feature with that SD would have.
        mu = null.mu[m, k]
        wsum = float((mu * (1.0 - mu)).sum())
        usable = (sd > 1e-4) & (V > 1e-5 * sd ** 2 * wsum)
        log10_ps = np.where(usable, log10_p_chi2(stat), np.nan)
        note = np.full(p, "", dtype=object)
        note[~usable] = "feature constant within this phecode's units (or fully explained by the covariates)"
        out = {"_j": np.arange(p), "phecode": np.full(p, code, dtype=object),
               "n_cases": np.full(p, n_cases), "n_controls": np.full(p, n_controls),
               "beta": np.where(usable, beta, np.nan), "se": np.where(usable, se, np.nan),
               "log10_p": log10_ps, "log10_p_score": log10_ps.copy(),
               "log10_p_wald": np.full(p, np.nan), "log10_p_lrt": np.full(p, np.nan),
               "converged": np.where(usable, bool(null.converged[k]), False),
               "method": np.full(p, "score", dtype=object), "note": note}
        sel = np.flatnonzero(usable & ((log10_ps < np.log10(cfg.screen_p)) | (cfg.refit == "all")))
        return out, sel

    def _add_score_hits(self, requests: list, outs: list) -> list:
        """Also refit every pair whose score-test q is below 2 x alpha, so hits always carry exact fits
        even when the BH threshold lies above ``screen_p`` (many true associations)."""
        if self.config.refit == "all":
            return requests
        q = bh_qvalues(_p_for_bh(np.concatenate([o["log10_p_score"] for o in outs])))
        have = {k: set(sel.tolist()) for k, sel in requests}
        merged, pos = [], 0
        for k, o in enumerate(outs):
            n = len(o["_j"])
            extra = np.flatnonzero(q[pos:pos + n] < 2 * self.config.alpha)
            pos += n
            sel = np.array(sorted(have.get(k, set()) | set(extra.tolist())), dtype=int)
            if len(sel):
                merged.append((k, sel))
        return merged

    def _refit_all(self, requests: list, outs: list, F: np.ndarray, C: np.ndarray, P_arr: np.ndarray,
                   null_beta: np.ndarray, null_ll: np.ndarray) -> None:
        """Exact refits of the requested pairs, batched across phecodes (one outcome/mask per column).

        Phecodes where a covariate is constant among the analysed units (e.g. sex for a sex-specific
        phecode) are refitted on their own with that covariate dropped.
        """
        cfg = self.config
        pairs_k, pairs_j = [], []
        for kg, sel in requests:
            m = np.isfinite(P_arr[:, kg])
            if all(np.ptp(C[m, a]) > 0 for a in range(1, C.shape[1])):
                pairs_k.append(np.full(len(sel), kg))
                pairs_j.append(sel)
            else:
                self._refit_reduced(sel, F, C, np.nan_to_num(P_arr[:, kg]), m, outs[kg])
        if not pairs_k:
            return
        ks, js = np.concatenate(pairs_k), np.concatenate(pairs_j)
        chunks = range(0, len(ks), cfg.refit_chunk)
        for c0 in tqdm(chunks, desc="phewas refits", disable=not self.progress, unit="chunk"):
            kc, jc = ks[c0:c0 + cfg.refit_chunk], js[c0:c0 + cfg.refit_chunk]
            Yraw = P_arr[:, kc]
            Mk = np.isfinite(Yraw).astype(float)
            # exact (two-pass) z-scoring within each column's analysed units; zero elsewhere
            Fz = F[:, jc]
            nk = Mk.sum(0)
            Fz -= np.einsum("nb,nb->b", Fz, Mk) / nk
            Fz *= Mk
            Fz /= np.sqrt(np.einsum("nb,nb->b", Fz, Fz) / (nk - 1.0))
            r = _irls.refit_block(C, np.nan_to_num(Yraw), Fz, null_beta[kc], mask=Mk, tol=cfg.tol,
                                  max_iter=cfg.max_iter)
            for kg in np.unique(kc):
                w = kc == kg
                self._store(outs[kg], jc[w], r, w, null_ll[kg])

    def _refit_reduced(self, sel: np.ndarray, F: np.ndarray, C: np.ndarray, y: np.ndarray, m: np.ndarray,
                       out: dict) -> None:
        cfg = self.config
        keep = [0] + [a for a in range(1, C.shape[1]) if np.ptp(C[m, a]) > 0]
        Cm, ym = C[m][:, keep], y[m]
        beta0, ll0 = _null_fit_reduced(Cm, ym, cfg.tol, cfg.max_iter)
        rows = np.flatnonzero(m)
        for start in range(0, len(sel), cfg.refit_chunk):
            js = sel[start:start + cfg.refit_chunk]
            Fj = F[np.ix_(rows, js)]
            Fz = (Fj - Fj.mean(0)) / Fj.std(0, ddof=1)
            r = _irls.refit_block(Cm, ym, Fz, beta0, tol=cfg.tol, max_iter=cfg.max_iter)
            self._store(out, js, r, np.ones(len(js), dtype=bool), ll0)

    def _store(self, out: dict, js: np.ndarray, r: _irls.RefitResult, w: np.ndarray, ll0: float) -> None:
        b, s = r.beta[w, -1], r.se[w, -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            lw = log10_p_wald(b / s)
        out["beta"][js] = b
        out["se"][js] = s
        out["log10_p_wald"][js] = lw
        out["log10_p_lrt"][js] = log10_p_chi2(2.0 * (r.loglik[w] - ll0))
        out["log10_p"][js] = lw
        out["method"][js] = "irls"
        out["converged"][js] = r.converged[w]
        out["note"][js] = np.where(r.separated[w], "possible (quasi-)complete separation; estimate unreliable",
                                   np.where(~r.converged[w],
                                            f"did not converge in {self.config.max_iter} iterations", ""))

    def _finish(self, res: pd.DataFrame, phecode_info: pd.DataFrame | None) -> None:
        cfg = self.config
        res["p"] = np.power(10.0, res["log10_p"])
        for col in ("score", "wald", "lrt"):
            res[f"p_{col}"] = np.power(10.0, res.pop(f"log10_p_{col}"))
        p_ranked = _p_for_bh(res["log10_p"].to_numpy())
        res["q"] = bh_qvalues(p_ranked)
        hq = hierarchical_qvalues(pd.DataFrame({"p": p_ranked, "phecode": res["phecode"].to_numpy()}))
        res["q_phecode"] = hq["q_phecode"].to_numpy()
        res["q_hier"] = hq["q_hier"].to_numpy()
        decide = res["q_hier"] if cfg.fdr == "hierarchical" else res["q"]
        res["hit"] = (decide < cfg.alpha).to_numpy()
        n_tests = int(res["log10_p"].notna().sum())
        res["bonferroni"] = res["log10_p"] < np.log10(cfg.alpha / max(n_tests, 1))
        z = stats.norm.ppf(0.975)
        with np.errstate(over="ignore"):  # separated fits can have huge betas: OR = inf, flagged
            res["odds_ratio"] = np.exp(res["beta"])
            res["or_ci_low"] = np.exp(res["beta"] - z * res["se"])
            res["or_ci_high"] = np.exp(res["beta"] + z * res["se"])
        info = _phecode_info_frame(phecode_info)
        res["description"] = res["phecode"].map(info["description"]) if info is not None else ""
        res["category"] = res["phecode"].map(info["category"]) if info is not None else ""
        res["description"] = res["description"].fillna("")
        res["category"] = res["category"].fillna("")
        res["converged"] = res["converged"].astype(bool)
        self.results_ = res[RESULT_COLUMNS].reset_index(drop=True)
        self.n_tests_ = n_tests
        self.n_hits_ = int(res["hit"].sum())
        self.n_phecodes_selected_ = int(res.loc[res["q_phecode"] < cfg.alpha, "phecode"].nunique())
        log.info("PheWAS: %d tests, %d hits (%s FDR < %.2f; %d phecodes selected; %d refitted)", n_tests,
                 self.n_hits_, cfg.fdr, cfg.alpha, self.n_phecodes_selected_, int((res["method"] == "irls").sum()))

    # ------------------------------------------------------------------ views
    @property
    def summary(self) -> pd.DataFrame:
        """Hits (``hit``: the configured FDR procedure at ``alpha``) sorted by p, the table read first."""
        r = self._check()
        return r[r["hit"]].sort_values("log10_p").reset_index(drop=True)

    def _check(self) -> pd.DataFrame:
        if not hasattr(self, "results_"):
            raise RuntimeError("call fit() first")
        return self.results_

    def plot_manhattan(self, **kw):
        from analysis.plots import manhattan
        return manhattan(self._check(), alpha=self.config.alpha, **kw)

    def plot_volcano(self, **kw):
        from analysis.plots import volcano
        return volcano(self._check(), alpha=self.config.alpha, **kw)

    def plot_forest(self, **kw):
        from analysis.plots import forest
        return forest(self._check(), alpha=self.config.alpha, **kw)


def _p_for_bh(log10_p: np.ndarray) -> np.ndarray:
    """p-values for BH; underflowed p are replaced by tiny ranks-preserving values (BH only uses ranks+p)."""
    p = np.power(10.0, log10_p)
    tiny = np.isfinite(log10_p) & (p == 0)
    if tiny.any():  # keep the order among underflowed p-values
        p[tiny] = 1e-300 * np.power(10.0, (log10_p[tiny] - log10_p[tiny].max()) / 1e3)
    return p


def _null_fit_reduced(C: np.ndarray, y: np.ndarray, tol: float, max_iter: int) -> tuple[np.ndarray, float]:
    """Covariate-only fit on the analysed units (the refit start and the LRT reference)."""
    nf = _irls.fit_null_block(C, y[:, None], np.ones((len(y), 1)), tol=tol, max_iter=max_iter)
    return nf.beta[0], float(nf.loglik[0])


def _phecode_info_frame(info: pd.DataFrame | None) -> pd.DataFrame | None:
    if info is None:
        return None
    df = info.copy()
    if "phecode" in df.columns:
        df = df.set_index("phecode")
    df.index = df.index.astype(str)
    for col in ("description", "category"):
        if col not in df.columns:
            df[col] = ""
    return df[~df.index.duplicated()]


__all__ = ["PheWAS", "PheWASConfig", "PheWASInputError", "RESULT_COLUMNS", "feature_kind", "LN10"]
