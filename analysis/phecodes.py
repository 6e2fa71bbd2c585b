"""Phecode maps (1.2 and X) shipped as package data, ICD → phecode mapping and case/control/excluded status.

Both maps are *unrolled*: one ICD code maps to its phecode and every ancestor (``427.21`` → 427.21,
427.2, 427; ``CV_416.21`` → CV_416.21, CV_416.2, CV_416). A unit (ECG-admission) is a **case** of phecode
P when at least one of its ICD codes rolls up to P. It is **excluded** (NaN) when it is not a case but
has a related phecode, and a **control** (0) otherwise. Related phecodes are:

* phecode 1.2: the ``exclude_range`` list of the map (a comma-separated list of phecodes in this file);
* phecode X (which ships no exclusion ranges): P's lineage — its ancestors and descendants.

Sex-restricted phecodes (``sex`` = Male/Female) are NaN for units of the other (or unknown) sex.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from data_access.phecode_tables import read_phecode_table

from .icd import ICDCodeError, dot_icd_series

log = logging.getLogger(__name__)

VERSIONS = ("1.2", "X")


@dataclass(frozen=True, eq=False)
class PhecodeMap:
    """One phecode system: ``icd_map`` (icd, icd_version, phecode; all rolled-up levels), ``info``
    (index phecode: description, category, sex) and ``exclusions`` (phecode → related phecodes)."""

    version: str
    icd_map: pd.DataFrame
    info: pd.DataFrame
    exclusions: Mapping[str, tuple[str, ...]]


def _lineage(p: str, all_codes: set[str]) -> tuple[str, ...]:
    """Ancestors and descendants of a PhecodeX code (``CV_416.21`` ↔ CV_416.2, CV_416, CV_416.211 …)."""
    out = []
    root, _, dec = p.partition(".")
    for k in range(len(dec) - 1, -1, -1):
        anc = root if k == 0 else f"{root}.{dec[:k]}"
        if anc in all_codes:
            out.append(anc)
    prefix = p if dec else p + "."
    out += [c for c in all_codes if c != p and c.startswith(prefix)]
    return tuple(sorted(set(out)))


@lru_cache(maxsize=2)
def load_phecode_map(version: str = "1.2") -> PhecodeMap:
    """Load the shipped map for ``version`` '1.2' or 'X' (cached)."""
    if version not in VERSIONS:
        raise ValueError(f"phecode version must be one of {VERSIONS}, got {version!r}")
    raw = read_phecode_table(version).copy()
    raw["icd_version"] = raw["flag"].astype(int)
    if version == "1.2":
        leaf = raw.drop_duplicates("phecode").set_index("phecode")
        icd_map = raw[["ICD", "icd_version", "phecode_unrolled"]].rename(
            columns={"ICD": "icd", "phecode_unrolled": "phecode"})
        exclusions = {p: tuple(sorted({q.strip() for q in str(r).split(",") if q.strip()} - {p}))
                      for p, r in leaf["exclude_range"].items()}
    else:
        leaf = raw.drop_duplicates("phecode").set_index("phecode")
        icd_map = raw[["ICD", "icd_version", "phecode"]].rename(columns={"ICD": "icd"})
        codes = set(leaf.index)
        exclusions = {p: _lineage(p, codes) for p in leaf.index}
    icd_map = icd_map.drop_duplicates().reset_index(drop=True)
    info = pd.DataFrame({"description": leaf["phecode_string"], "category": leaf["phecode_category"],
                         "sex": leaf["sex"]})
    info.index.name = "phecode"
    return PhecodeMap(version, icd_map, info, exclusions)


def map_diagnoses(diagnoses: pd.DataFrame, pmap: PhecodeMap) -> pd.DataFrame:
    """Map MIMIC-IV ``diagnoses_icd`` rows (undotted ``icd_code``, ``icd_version`` 9/10) to phecodes.

    Returns the input columns plus ``icd`` (dotted) and ``phecode``, one row per (diagnosis, phecode
    level). Codes with no phecode are dropped (logged with their count).
    """
    if diagnoses.empty:
        return diagnoses.assign(icd=pd.Series(dtype=str), phecode=pd.Series(dtype=str))
    d = diagnoses.copy()
    d["icd_version"] = pd.to_numeric(d["icd_version"], errors="coerce")
    if d["icd_version"].isna().any() or not d["icd_version"].isin([9, 10]).all():
        raise ICDCodeError("diagnoses contain icd_version values other than 9/10; clean them first")
    d["icd_version"] = d["icd_version"].astype(int)
    d["icd"] = dot_icd_series(d["icd_code"], d["icd_version"])
    out = d.merge(pmap.icd_map, on=["icd", "icd_version"], how="inner")
    n_unmapped = len(d) - d.merge(pmap.icd_map[["icd", "icd_version"]].drop_duplicates(),
                                  on=["icd", "icd_version"], how="inner").shape[0]
    if n_unmapped:
        log.info("%d of %d diagnosis rows have no phecode %s mapping", n_unmapped, len(d), pmap.version)
    return out


def phenotype_matrix(unit_phecodes: pd.DataFrame, units: pd.Index, sex: pd.Series, pmap: PhecodeMap,
                     phecodes: Iterable[str] | None = None, min_code_count: int = 1) -> pd.DataFrame:
    """Case (1.0) / control (0.0) / excluded (NaN) status, one row per unit and one column per phecode.

    ``unit_phecodes``: columns ``unit_id``, ``phecode`` (rolled up; duplicates allowed) and, for
    ``min_code_count > 1``, ``icd``. A case needs at least ``min_code_count`` distinct ICD codes of the phecode
    (PheTK / the R PheWAS package: 2); a unit with fewer, but at least one, is excluded (neither case nor
    control), as in the R package.
    ``sex``: indexed like ``units``, 1 = male, 0 = female, NaN = unknown.
    ``phecodes``: the columns wanted (default: every phecode with at least one case).
    """
    up = unit_phecodes[unit_phecodes["unit_id"].isin(units)]
    few = None
    if min_code_count > 1:
        n_codes = up.drop_duplicates(["unit_id", "phecode", "icd"]).groupby(["unit_id", "phecode"]).size()
        few = n_codes[n_codes < min_code_count].reset_index()[["unit_id", "phecode"]]
    up = up.drop_duplicates(["unit_id", "phecode"])
    present = sorted(up["phecode"].unique())
    col = {p: j for j, p in enumerate(present)}
    row = pd.Series(np.arange(len(units)), index=units)
    has = np.zeros((len(units), len(present)), dtype=bool)
    has[row.loc[up["unit_id"]].to_numpy(), up["phecode"].map(col).to_numpy()] = True
    wanted = present if phecodes is None else list(phecodes)
    sx = pd.Series(sex, index=units).to_numpy(dtype=float)
    out = np.full((len(units), len(wanted)), 0.0, dtype=np.float32)
    for k, p in enumerate(wanted):
        j = col.get(p)
        case = has[:, j] if j is not None else np.zeros(len(units), bool)
        rel = [col[q] for q in pmap.exclusions.get(p, ()) if q in col]
        excluded = has[:, rel].any(axis=1) & ~case if rel else np.zeros(len(units), bool)
        v = np.where(case, 1.0, np.where(excluded, np.nan, 0.0))
        restriction = pmap.info["sex"].get(p, "Both")
        if restriction == "Male":
            v[sx != 1] = np.nan
        elif restriction == "Female":
            v[sx != 0] = np.nan
        if few is not None:
            u = few.loc[few["phecode"] == p, "unit_id"]
            if len(u):
                v[row.loc[u].to_numpy()] = np.nan
        out[:, k] = v
    return pd.DataFrame(out, index=units, columns=pd.Index(wanted, name="phecode"))
