"""Covariates for the PheWAS, as PheTK users expect: age and sex by default plus any columns of a file.

``--covariates FILE`` (CSV or Parquet) holds one row per subject (``subject_id``) or per unit (``study_id``
/ ``unit_id``) and any other columns. Numeric columns enter as they are; text, boolean or categorical
columns are dummy-coded (first level as reference, missing values kept missing). Columns that are constant
over the analysed units, or a linear combination of the intercept and earlier columns (collinear), are
dropped and reported instead of breaking the fits. Units with a missing covariate are dropped by the scan
(counted in ``run.json``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from data_access.errors import ECGDataError  # noqa: F401

log = logging.getLogger(__name__)

KEYS_UNIT = ("study_id", "unit_id")
KEY_SUBJECT = "subject_id"


class CovariateError(ECGDataError):
    """The covariate file cannot be used (unreadable, no key column, no usable column)."""


@dataclass(frozen=True)
class CovariateDesign:
    """Numeric covariates indexed like the units, and what was done to get them."""

    table: pd.DataFrame
    dummies: dict[str, list[str]] = field(default_factory=dict)   # source column -> dummy columns
    dropped: dict[str, str] = field(default_factory=dict)         # column -> reason

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns)

    def report(self) -> dict:
        return {"columns": self.columns, "dummy_coded": self.dummies, "dropped": self.dropped}


def read_covariate_file(path: str | Path) -> pd.DataFrame:
    p = Path(path)
    if not p.is_file():
        raise CovariateError(f"covariate file {p} not found")
    try:
        return pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as err:  # pandas raises many types for a malformed file
        raise CovariateError(f"covariate file {p} could not be read as "
                             f"{'Parquet' if p.suffix.lower() in ('.parquet', '.pq') else 'CSV'}: {err}") from err


def _attach(raw: pd.DataFrame, units: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rows of ``raw`` aligned to ``units`` (index unit_id, with a subject_id column) by its key column."""
    key = next((k for k in KEYS_UNIT if k in raw.columns), None)
    if key is not None:
        r = raw.drop_duplicates(key).set_index(key)
        r.index = r.index.astype("int64")
        return r.drop(columns=[c for c in (KEY_SUBJECT, *KEYS_UNIT) if c in r.columns]).reindex(units.index)
    if KEY_SUBJECT in raw.columns:
        dup = raw[KEY_SUBJECT].duplicated()
        if dup.any():
            raise CovariateError(f"{source}: subject_id repeats in {int(dup.sum())} rows; give one row per "
                                 f"subject, or key the rows by study_id")
        r = raw.set_index(KEY_SUBJECT)
        r.index = r.index.astype("int64")
        return r.reindex(units["subject_id"].astype("int64").to_numpy()).set_axis(units.index)
    raise CovariateError(f"{source}: no key column; need one of subject_id, study_id or unit_id "
                         f"(have {list(raw.columns)[:10]})")


def _encode(df: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    parts, dummies = [], {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype(float)
        if pd.api.types.is_numeric_dtype(s):
            parts.append(s.astype(float).rename(col))
            continue
        levels = sorted(s.dropna().astype(str).unique())
        d = pd.DataFrame({f"{col}={lv}": (s.astype(str) == lv).astype(float) for lv in levels[1:]}, index=df.index)
        d[s.isna().to_numpy()] = np.nan
        dummies[col] = list(d.columns)
        parts.append(d)
    return (pd.concat(parts, axis=1) if parts else pd.DataFrame(index=df.index)), dummies


def _drop_degenerate(X: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """Drop constant columns, then collinear ones (greedy, in order, on complete rows)."""
    dropped: dict[str, str] = {}
    full = X.dropna()
    keep: list[str] = []
    basis = np.ones((len(full), 1))
    for col in X.columns:
        v = full[col].to_numpy(dtype=float)
        if len(v) == 0 or np.ptp(v) == 0:
            dropped[col] = "constant over the analysed units"
            continue
        z = (v - v.mean()) / v.std()
        resid = z - basis @ np.linalg.lstsq(basis, z, rcond=None)[0]
        if np.sqrt(np.mean(resid ** 2)) < 1e-6:
            dropped[col] = "collinear with " + (", ".join(["intercept"] + keep))
            continue
        keep.append(col)
        basis = np.column_stack([basis, z])
    for col, why in dropped.items():
        log.warning("covariate %s dropped: %s", col, why)
    return X[keep], dropped


def build_covariates(units: pd.DataFrame, defaults: tuple[str, ...] = ("age", "sex"),
                     path: str | Path | None = None, columns: list[str] | None = None) -> CovariateDesign:
    """Covariates for ``units`` (the cohort's unit table): ``defaults`` from it, plus the file's columns
    (``columns`` to pick some; default all but the key)."""
    missing = [c for c in defaults if c not in units.columns]
    if missing:
        raise CovariateError(f"default covariate(s) {missing} not in the unit table")
    base = units[list(defaults)].copy()
    extra = pd.DataFrame(index=units.index)
    if path is not None:
        raw = read_covariate_file(path)
        extra = _attach(raw, units, str(path))
        if columns:
            absent = [c for c in columns if c not in extra.columns]
            if absent:
                raise CovariateError(f"{path}: column(s) {absent} not found; have {list(extra.columns)}")
            extra = extra[columns]
        clash = [c for c in extra.columns if c in base.columns]
        extra = extra.drop(columns=clash)
        if clash:
            log.warning("covariate file columns %s already come from the cohort; the cohort's are used", clash)
        n_unmatched = int(extra.isna().all(axis=1).sum()) if extra.shape[1] else 0
        if n_unmatched:
            log.warning("%d of %d units have no row in %s (dropped from the scan)", n_unmatched, len(units), path)
    X, dummies = _encode(pd.concat([base, extra], axis=1))
    X, dropped = _drop_degenerate(X)
    if X.shape[1] == 0:
        log.warning("no usable covariate: the scan is adjusted for nothing but the intercept")
    return CovariateDesign(X, dummies, dropped)
