"""Reading the phenotype-association outputs of ``protoecg phewas`` / ``protoecg survival``.

The figures themselves come from :mod:`analysis.plots`; Kaplan-Meier curves are the self-contained
HTML files ``protoecg survival`` writes (the app computes no statistics).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from protoecg.errors import ProtoECGError

log = logging.getLogger(__name__)

RESULT_FILES = ("results.parquet", "results.csv")
SURVIVAL_FILES = ("survival.parquet", "survival.csv")
NEEDED = ("feature", "phecode", "odds_ratio", "p", "log10_p")


class ResultsError(ProtoECGError, ValueError):
    """A results file exists but cannot be used (message says which and why)."""


@dataclass
class PhenotypeResults:
    directory: Path
    table: pd.DataFrame
    source: Path
    survival: pd.DataFrame | None = None
    km_html: dict[str, Path] = field(default_factory=dict)


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={"phecode": str})
    except Exception as exc:  # noqa: BLE001 - a damaged file gets a message, not a traceback
        raise ResultsError(f"cannot read {path}: {exc}") from exc


def find_results(directory: Path | None, survival_dir: Path | None = None) -> PhenotypeResults | None:
    """The PheWAS table (and Cox table / KM figures when present); None when nothing was written yet."""
    if directory is None or not Path(directory).is_dir():
        return None
    d = Path(directory)
    src = next((d / f for f in RESULT_FILES if (d / f).is_file()), None)
    if src is None:
        return None
    table = _read(src)
    missing = [c for c in NEEDED if c not in table.columns]
    if missing:
        raise ResultsError(f"{src} lacks column(s) {', '.join(missing)}; was it written by "
                           "`protoecg phewas`?")
    table["phecode"] = table["phecode"].astype(str)
    surv, km = None, {}
    if survival_dir is not None and Path(survival_dir).is_dir():
        s = Path(survival_dir)
        s_src = next((s / f for f in SURVIVAL_FILES if (s / f).is_file()), None)
        if s_src is not None:
            try:
                surv = _read(s_src)
            except ResultsError as exc:
                log.warning("%s", exc)
        km = {p.stem.removeprefix("km_"): p for p in sorted(s.glob("km_*.html"))}
    return PhenotypeResults(d, table, src, surv, km)
