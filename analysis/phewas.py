"""PheWAS estimator: every ECG feature against every phecode, adjusted for age, sex and other covariates.

Model per (feature, phecode): ``logit P(case) = b0 + covariates + beta*z``, where ``z`` is the feature
z-scored (sample SD) within the phecode's analysed units (cases + controls), so ``exp(beta)`` is the odds
ratio per SD.

``p`` comes from one test for every pair: the **efficient score test** against the covariate-only model,
with the **saddlepoint approximation** of its null distribution, conditional on the covariates' sufficient
statistics ``C'y`` (Skovgaard's double saddlepoint, :func:`analysis._spa.conditional_spa_log10_p`): the null
model's intercept is estimated from the same outcomes, and SAIGE's unconditional SPA, which adds the case
count's variation, was 0.67x nominal at 1e-4 by permutation on a trained model's features (conditional:
0.86-0.87x on decorrelated features, 1.09-1.17x over all). It applies where the normal approximation is unsafe
(``method='score_spa'``: score p < ``spa_cutoff`` and a predicted Edgeworth error above ``spa_tol``; rare
phecodes and skewed features), else the normal approximation (``method='score'``). Why not the refit's Wald or likelihood-ratio p: Wald fails under separation (a
non-converged fit gave Wald p 2e-32 for an LRT p of 1), and replacing the screening p by a refit p only
for pairs below the screening threshold biases the null tail (measured by permutation: 0.62x nominal at
1e-3). The SPA is exact for the score statistic's tail (permutation p 2.5e-5 vs SPA 1.3e-5 where the normal
approximation said 2.4e-7) and stays finite and valid under separation.

How the ~10^6 regressions are made fast (see :mod:`analysis._irls`):

1. one null model (covariates only) per phecode, fitted for blocks of phecodes at once;
2. a score test of all features against each null model with a few matrix products, then the SPA for the
   pairs that need it (a few Newton steps per pair on the exact cumulant generating function);
3. batched refits (``estimate`` column, :mod:`analysis._refits`) for pairs with p < ``screen_p`` or BH q
   < 2 x alpha (``refit='hits'``) or all pairs (``refit='all'``): maximum likelihood (identical to
   ``statsmodels.Logit``; ``p_wald``, ``p_lrt``), or Firth's penalised likelihood (``p_firth``, penalised
   LRT as logistf) for phecodes with fewer than ``firth_below`` cases or controls and whenever the ML
   fit did not converge or showed separation. Other pairs keep the one-step estimate ``beta = U/V``,
   ``se = 1/sqrt(V)`` (``estimate='one_step'``), accurate for small effects.

Multiple testing (:mod:`analysis.fdr`): ``q`` is Benjamini-Hochberg over all tests; ``q_phecode`` is the
Holm-adjusted (``phecode_stage='holm'``, default: family-wise error over phecodes) or BH-adjusted value over
phecodes of each phecode's Simes p-value; ``q_hier`` is the two-stage (phecode, then feature) adjusted
value. ``hit`` is ``q_hier < alpha`` by default (``fdr='hierarchical'``) or ``q < alpha`` (``fdr='bh'``),
and the pair's fit converged: a non-converged fit is never a hit. ``bonferroni`` flags p < alpha / n_tests.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from tqdm.auto import tqdm

from analysis import _irls, _refits, _spa
from analysis.fdr import METHODS as FDR_METHODS
from analysis.fdr import PHECODE_STAGES
from analysis.fdr import hierarchical_qvalues
from analysis.stats_utils import LN10, bh_qvalues, log10_p_chi2, log10_p_wald
from protoecg.errors import ProtoECGError

log = logging.getLogger(__name__)

RESULT_COLUMNS = [
    "feature", "feature_kind", "phecode", "description", "category", "n_cases", "n_controls",
    "beta", "se", "odds_ratio", "or_ci_low", "or_ci_high", "p", "log10_p", "q", "bonferroni",
    "q_phecode", "q_hier", "hit", "p_score", "p_spa", "p_wald", "p_lrt", "p_firth", "converged", "method",
    "estimate", "note",
]

REFIT_ESTIMATES = ("ml", "firth")

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
    spa_cutoff: float = 0.05    # score p below which the saddlepoint approximation is considered (SAIGE: |z|>2)
    spa_tol: float = 0.01       # ... and applied where the normal p is predicted to be off by more than this
    firth_below: int = 200      # refits of phecodes with fewer cases (or controls) use Firth
    phecode_stage: str = "holm"  # rule selecting phecodes in the two-stage FDR: "holm" (family-wise) or "bh"


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
                 fdr: str = "hierarchical", spa_cutoff: float = 0.05, spa_tol: float = 0.01,
                 firth_below: int = 200, phecode_stage: str = "holm", progress: bool = False) -> None:
        if refit not in ("hits", "all"):
            raise ValueError("refit must be 'hits' or 'all'")
        if fdr not in FDR_METHODS:
            raise ValueError(f"fdr must be one of {FDR_METHODS}, got {fdr!r}")
        if phecode_stage not in PHECODE_STAGES:
            raise ValueError(f"phecode_stage must be one of {PHECODE_STAGES}, got {phecode_stage!r}")
        self.config = PheWASConfig(min_cases, min_controls, float(screen_p), refit, tuple(covariates),
                                   float(alpha), float(tol), int(max_iter), int(block_size),
                                   int(refit_chunk), fdr, float(spa_cutoff), float(spa_tol), int(firth_below),
                                   phecode_stage)
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
        small = np.zeros(len(phecodes), dtype=bool)
        feat_skew, feat_m4 = _spa.score_moments(F)
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
                m = M[:, k].astype(bool)
                out = self._score_phecode(phecodes[b0 + k], k, Y[:, k], m, null, sc)
                self._saddlepoint(out, F, C, m, null, sc, k, feat_skew, feat_m4)
                small[b0 + k] = min(out["n_cases"][0], out["n_controls"][0]) < cfg.firth_below
                outs.append(out)
                sel = np.flatnonzero(~np.isnan(out["log10_p"]) & ((out["log10_p"] < np.log10(cfg.screen_p))
                                                                    | (cfg.refit == "all")))
                if len(sel):
                    requests.append((b0 + k, sel))
        requests = self._add_score_hits(requests, outs)
        _refits.refit_requests(requests, outs, F, C, P_arr, null_beta, null_ll, small, cfg, self.progress)
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
                       sc: _irls.ScoreBlock) -> dict:
        """Score-test results of one phecode (normal approximation)."""
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
               "log10_p_spa": np.full(p, np.nan), "log10_p_wald": np.full(p, np.nan),
               "log10_p_lrt": np.full(p, np.nan), "log10_p_firth": np.full(p, np.nan),
               "converged": np.where(usable, bool(null.converged[k]), False),
               "method": np.full(p, "score", dtype=object), "estimate": np.full(p, "one_step", dtype=object),
               "note": note, "_U": U}
        return out

    def _saddlepoint(self, out: dict, F: np.ndarray, C: np.ndarray, m: np.ndarray, null: _irls.NullFit,
                     sc: _irls.ScoreBlock, k: int, feat_skew: np.ndarray, feat_m4: np.ndarray) -> None:
        """SPA p-values (:mod:`analysis._spa`) for the pairs with score p < ``spa_cutoff`` whose normal
        approximation is predicted to be off by more than ``spa_tol``; they become ``method='score_spa'``."""
        cfg = self.config
        lp = out["log10_p_score"]
        cand = np.flatnonzero(np.isfinite(lp) & (lp < np.log10(cfg.spa_cutoff)))
        if len(cand) == 0:
            return
        z = out["_U"][cand] / np.sqrt(sc.V[cand, k])
        cand = cand[_spa.spa_gate(z, feat_skew[cand], feat_m4[cand], null.mu[:, k], m, cfg.spa_tol)]
        w = np.where(m, null.mu[:, k] * (1.0 - null.mu[:, k]), 0.0)
        for c0 in range(0, len(cand), cfg.refit_chunk):
            cc = cand[c0:c0 + cfg.refit_chunk]
            G = _spa.adjusted_features(F, C, w, m, null.hess_pinv[k], cc)
            ls = _spa.conditional_spa_log10_p(G[m], C[m], null.mu[m, k], out["_U"][cc])
            out["log10_p_spa"][cc] = ls
            out["log10_p"][cc] = ls
            out["method"][cc] = "score_spa"

    def _add_score_hits(self, requests: list, outs: list) -> list:
        """Also refit every pair whose score-test q is below 2 x alpha, so hits always carry exact fits
        even when the BH threshold lies above ``screen_p`` (many true associations)."""
        if self.config.refit == "all":
            return requests
        q = bh_qvalues(_p_for_bh(np.concatenate([o["log10_p"] for o in outs])))
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

    def _finish(self, res: pd.DataFrame, phecode_info: pd.DataFrame | None) -> None:
        cfg = self.config
        res.pop("_U")
        res["p"] = np.power(10.0, res["log10_p"])
        for col in ("score", "spa", "wald", "lrt", "firth"):
            res[f"p_{col}"] = np.power(10.0, res.pop(f"log10_p_{col}"))
        p_ranked = _p_for_bh(res["log10_p"].to_numpy())
        res["q"] = bh_qvalues(p_ranked)
        hq = hierarchical_qvalues(pd.DataFrame({"p": p_ranked, "phecode": res["phecode"].to_numpy()}),
                                  phecode_stage=cfg.phecode_stage)
        res["q_phecode"] = hq["q_phecode"].to_numpy()
        res["q_hier"] = hq["q_hier"].to_numpy()
        decide = res["q_hier"] if cfg.fdr == "hierarchical" else res["q"]
        # a fit that did not converge (or separated data that Firth could not fit) is never a hit
        res["hit"] = ((decide < cfg.alpha) & res["converged"].astype(bool)).to_numpy()
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
        log.info("PheWAS: %d tests, %d hits (%s FDR < %.2f; %d phecodes selected by %s; %d refitted)",
                 n_tests, self.n_hits_, cfg.fdr, cfg.alpha, self.n_phecodes_selected_, cfg.phecode_stage,
                 int(res["estimate"].isin(REFIT_ESTIMATES).sum()))

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


__all__ = ["PheWAS", "PheWASConfig", "PheWASInputError", "REFIT_ESTIMATES", "RESULT_COLUMNS", "feature_kind", "LN10"]
