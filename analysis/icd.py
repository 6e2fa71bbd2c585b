"""ICD-9-CM / ICD-10-CM code normalisation: MIMIC-IV stores codes without the dot; the phecode maps use it.

Rule (MIMIC-IV convention): insert the dot after the 3rd character, except ICD-9 external-cause codes
(``E``-codes, e.g. ``E8497`` → ``E849.7``), where it goes after the 4th. Codes no longer than the
category (``412``, ``I10``) stay as they are.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from data_access.errors import MetadataError

VALID_VERSIONS = (9, 10)
_ICD9 = re.compile(r"^(\d{3,5}|V\d{2,4}|E\d{3,4})$")
_ICD10 = re.compile(r"^[A-Z]\d[0-9A-Z]{1,5}$")


class ICDCodeError(MetadataError):
    """An ICD code or version that cannot be interpreted."""


def normalise_icd(code: str) -> str:
    """Strip whitespace and any dot, upper-case: the undotted form MIMIC-IV stores."""
    return str(code).strip().replace(".", "").upper()


def is_valid_icd(code: str, version: int) -> bool:
    """Whether an undotted code has the shape of an ICD-9-CM or ICD-10-CM code of that version."""
    c = normalise_icd(code)
    if version == 9:
        return bool(_ICD9.match(c))
    if version == 10:
        return bool(_ICD10.match(c))
    return False


def dot_icd(code: str, version: int) -> str:
    """Insert the dot into one undotted MIMIC-IV code (``42731``/9 → ``427.31``, ``I4891``/10 → ``I48.91``)."""
    if version not in VALID_VERSIONS:
        raise ICDCodeError(f"icd_version must be 9 or 10, got {version!r}", record=str(code))
    c = normalise_icd(code)
    if not c:
        raise ICDCodeError("empty ICD code")
    cut = 4 if (version == 9 and c.startswith("E")) else 3
    return c if len(c) <= cut else f"{c[:cut]}.{c[cut:]}"


def dot_icd_series(codes: pd.Series, versions: pd.Series) -> pd.Series:
    """Vectorised :func:`dot_icd` for whole columns (versions must already be 9 or 10)."""
    c = codes.astype(str).str.strip().str.replace(".", "", regex=False).str.upper()
    v = pd.to_numeric(versions, errors="coerce").to_numpy()
    bad = ~np.isin(v, VALID_VERSIONS)
    if bad.any():
        raise ICDCodeError(f"{int(bad.sum())} row(s) with an icd_version other than 9 or 10")
    cut = np.where((v == 9) & c.str.startswith("E").to_numpy(), 4, 3)
    out = c.copy()
    for k in (3, 4):
        m = (cut == k) & (c.str.len().to_numpy() > k)
        out[m] = c[m].str[:k] + "." + c[m].str[k:]
    return out
