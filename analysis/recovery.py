"""Scoring a PheWAS against planted ground truth (the demo MIMIC data's ``ground_truth.csv``).

Rule (also in the README):

* A planted pair is a ``ground_truth.csv`` row with ``planted`` true: an ECG signature ``S`` (a PTB-XL code
  such as ``AFIB``) and a phecode ``P``.
* Features *tied* to ``S``: the class probability ``prob_S``, branch logits ``logit_<branch>_S``, every
  prototype of class ``S`` (``sim_<id>``, from the prototype table), the class aggregates
  ``agg_mean_S`` / ``agg_max_S`` and the machine-statement concepts that name ``S``
  (:data:`analysis.comparators.CONCEPT_CODES`, e.g. ``concept_low_voltage`` for ``LVOLT``).
* The pair is *recovered* if any tied feature is a hit for ``P`` or for a child of ``P`` (a phecode
  that extends it, e.g. 427.21 under 427.2). Sensitivity = recovered / planted pairs whose phecode (or a
  child) was tested.
* A hit (any feature; the results' ``hit`` column, i.e. the FDR procedure the scan was run with, or
  BH q < alpha for tables without one) is *false* if its phecode is neither a planted phecode nor a child or
  parent of one (a null diagnosis); false discovery proportion = false hits / hits. Every (feature,
  phecode) test counts once, as BH counts it (a parent phecode whose cases are exactly its child's is a
  second, identical test, for planted and null phecodes alike).

What to expect of the false discovery proportion: with plain BH over all tests (``fdr='bh'``), Benjamini-Hochberg
at ``alpha`` bounds its *expectation*
by ``alpha * m0 / m`` (``nominal_fdr``: null tests over tests, ~0.049 on the demo data where ~97 % of the
tests are null), not its value on one data set; with ~5 false hits expected per scan the proportion
scatters around that (demo seeds 0-9: 2-11 %). Whether the p-values behind it are honest is checked
directly: ``null_p_below`` holds the fraction of null tests with p below 0.05 / 0.01 / 0.001 (uniform
p-values give those fractions), and ``expected_false_hits`` = ``nominal_fdr`` x hits (BH's identity
E[false hits / hits] = alpha m0/m for independent uniform null p-values), to set against ``n_false_hits``.
The default hierarchical procedure (:mod:`analysis.fdr`) controls the share of *phecodes* selected by
mistake (``n_false_phecodes`` of ``n_phecodes_hit``), so a chance phecode brings a few hits, not a cluster.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.fdr import is_hit
from data_access.errors import MetadataError


def is_descendant_or_self(code: str, parent: str) -> bool:
    """True if phecode ``code`` equals ``parent`` or refines it (427.21 under 427.2 and 427)."""
    code, parent = str(code), str(parent)
    if code == parent:
        return True
    if not code.startswith(parent):
        return False
    nxt = code[len(parent)]
    return nxt == "." or ("." in parent and nxt.isdigit())


def read_ground_truth(path: str | Path, phecode_version: str | None = None) -> pd.DataFrame:
    """Read ``ground_truth.csv``; with ``phecode_version`` keep that version's rows (if the column exists).

    Use ``phecode_version='survival'`` for the survival rows (phecode ``death``)."""
    df = pd.read_csv(path, dtype={"phecode": str, "signature": str, "phecode_version": str})
    missing = {"signature", "phecode", "planted"} - set(df.columns)
    if missing:
        raise MetadataError(f"{path}: ground truth lacks column(s) {sorted(missing)}")
    df["planted"] = df["planted"].astype(str).str.lower().isin(["true", "1", "yes"])
    if phecode_version is not None and "phecode_version" in df.columns:
        df = df[df["phecode_version"] == str(phecode_version)]
    return df.reset_index(drop=True)


def tied_features(signature: str, features: list[str], prototype_class: dict[str, str]) -> list[str]:
    from analysis.comparators import CONCEPT_CODES

    s = str(signature)
    out = []
    for f in features:
        if f in (f"prob_{s}", f"agg_mean_{s}", f"agg_max_{s}") or prototype_class.get(f) == s:
            out.append(f)
        elif f.startswith("concept_") and s in CONCEPT_CODES.get(f[len("concept_"):], ()):
            out.append(f)
        elif f.startswith("logit_") and f.endswith(f"_{s}") and f.count("_") >= 2:
            out.append(f)
    return out


def score_recovery(results: pd.DataFrame, truth: pd.DataFrame, prototype_class: dict[str, str] | None = None,
                   alpha: float = 0.05) -> dict:
    """Sensitivity, false discovery proportion and counts (see module docstring for the rule)."""
    prototype_class = prototype_class or {}
    planted = truth[truth["planted"]]
    feats = list(results["feature"].unique())
    tested = results["phecode"].astype(str).unique()
    hits = results[is_hit(results, alpha)]
    hit_codes = hits["phecode"].astype(str).to_numpy()
    n_rec = n_tested = 0
    per_pair = []
    for sig, code in zip(planted["signature"], planted["phecode"]):
        under = [c for c in tested if is_descendant_or_self(c, code)]
        tied = tied_features(sig, feats, prototype_class)
        ok_tested = bool(under) and bool(tied)
        rec = bool(ok_tested and ((hits["feature"].isin(tied))
                                  & hits["phecode"].astype(str).isin(under)).any())
        n_tested += ok_tested
        n_rec += rec
        per_pair.append({"signature": sig, "phecode": code, "tested": ok_tested, "recovered": rec})
    planted_codes = list(planted["phecode"].astype(str).unique())
    related_code = {c: any(is_descendant_or_self(c, p) or is_descendant_or_self(p, c) for p in planted_codes)
                    for c in tested}
    related = np.array([related_code[c] for c in hit_codes], dtype=bool)
    n_hits = len(hits)
    n_tests = int(results["p"].notna().sum())
    null_p = results.loc[~results["phecode"].astype(str).map(related_code).astype(bool), "p"].dropna()
    return {"n_tests": int(results["q"].notna().sum()), "n_hits": int(n_hits),
            "n_null_tests": int(len(null_p)),
            "nominal_fdr": float(alpha * len(null_p) / n_tests) if n_tests else float("nan"),
            "expected_false_hits": float(alpha * len(null_p) / n_tests * n_hits) if n_tests else 0.0,
            "null_p_below": {str(t): float((null_p < t).mean()) if len(null_p) else float("nan")
                             for t in (0.05, 0.01, 0.001)},
            "n_planted": int(len(planted)), "n_planted_tested": int(n_tested), "n_recovered": int(n_rec),
            "sensitivity": (n_rec / n_tested) if n_tested else float("nan"),
            "n_false_hits": int((~related).sum()),
            "n_phecodes_hit": int(len(set(hit_codes))),
            "n_false_phecodes": int(len({c for c, r in zip(hit_codes, related) if not r})),
            "false_discovery_proportion": float((~related).sum() / n_hits) if n_hits else 0.0,
            "pairs": per_pair}
