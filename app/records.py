"""Record sources for the case review page: the demo test set, the shipped real PTB-XL examples."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from data_access.errors import ECGDataError
from data_access.record import ECGRecord, read_record

log = logging.getLogger(__name__)

SOURCE_DEMO = "Test fold of the model's training data"
SOURCE_PTBXL = "Real PTB-XL examples"
SOURCE_UPLOAD = "Upload ECG (XML, DICOM, EDF or WFDB)"
_MAX_LISTED = 200


@dataclass(frozen=True)
class RecordEntry:
    """One selectable record: where it lives and its reference labels (when known)."""

    key: str
    label: str
    path: Path
    reference_labels: tuple[str, ...] = ()
    source: str = "ptbxl"


def ptbxl_entries(root: Path, folds: tuple[int, ...] | None = None, source: str = "ptbxl",
                  limit: int = _MAX_LISTED) -> list[RecordEntry]:
    """Records of a PTB-XL-layout directory (optionally only some folds), 100 Hz files."""
    from data_access.ptbxl import read_metadata

    meta = read_metadata(root)
    if folds is not None:
        meta = meta[meta["strat_fold"].isin(folds)]
    out = []
    for ecg_id, row in meta.head(limit).iterrows():
        codes = tuple(sorted(row["scp"])) if isinstance(row.get("scp"), dict) else ()
        desc = f"ecg_id {ecg_id}" + (f" — {', '.join(codes)}" if codes else "")
        out.append(RecordEntry(key=f"{source}:{ecg_id}", label=desc,
                               path=Path(root) / str(row["filename_lr"]),
                               reference_labels=codes, source=source))
    return out


def demo_data_dir(configured: Path | None, bundle: object) -> Path | None:
    """The demo data directory: the app setting, else the dataset recorded in the model's fingerprint."""
    if configured is not None:
        return configured
    fp = getattr(bundle, "fingerprint", None) or {}
    val = fp.get("dataset") if isinstance(fp, dict) else None
    if isinstance(val, str) and (Path(val) / "ptbxl_database.csv").is_file():
        return Path(val)
    return None


def load_entry(entry: RecordEntry) -> ECGRecord:
    """Read one listed record (raises ECGDataError subclasses with a readable reason)."""
    return read_record(entry.path)


def safe_entries(root: Path | None, folds: tuple[int, ...] | None, source: str
                 ) -> tuple[list[RecordEntry], str | None]:
    """Entries, or an empty list and the reason (missing or malformed metadata)."""
    if root is None:
        return [], None
    try:
        return ptbxl_entries(root, folds, source), None
    except (ECGDataError, OSError, KeyError, pd.errors.ParserError) as exc:
        log.warning("cannot list records in %s: %s", root, exc)
        return [], f"cannot list the records in {root}: {exc}"
