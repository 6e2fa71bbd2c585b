"""The shipped phecode map tables (phecode 1.2 and PhecodeX), read as raw text tables.

The tables live here because ``data_access`` owns reading files; the mapping logic (dotting, roll-up,
exclusions) is in ``analysis.phecodes``. The demo MIMIC generator reads them too, to pick ICD codes.
"""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

PHECODE_FILES = {"1.2": "phecode12.csv.gz", "X": "phecodeX.csv.gz"}


@lru_cache(maxsize=2)
def read_phecode_table(version: str = "1.2") -> pd.DataFrame:
    """The raw map for ``version`` ('1.2' or 'X'), every column as text (ICD codes carry the dot).

    Cached: callers must copy before modifying.
    """
    if version not in PHECODE_FILES:
        raise ValueError(f"phecode version must be one of {tuple(PHECODE_FILES)}, got {version!r}")
    path = resources.files("data_access").joinpath(f"resources/{PHECODE_FILES[version]}")
    with path.open("rb") as f:
        return pd.read_csv(f, dtype=str, compression="gzip", keep_default_na=False)
