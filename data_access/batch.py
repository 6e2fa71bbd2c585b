"""Reading many single WFDB records: bad ones are skipped and listed, never fatal."""
from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ECGDataError
from .preprocess import MODEL_FS, MODEL_N_SAMPLES, to_model_input
from .record import ECGRecord, read_record

log = logging.getLogger(__name__)


@dataclass
class RecordBatch:
    """Records that were read, in input order, and the ones that were not, with reasons."""

    records: list[ECGRecord] = field(default_factory=list)
    bad_records: list[dict] = field(default_factory=list)   # [{record, path, reason, error}]

    @property
    def record_ids(self) -> list[str]:
        return [r.record_id for r in self.records]

    def model_inputs(self, fs: float = MODEL_FS, n_samples: int = MODEL_N_SAMPLES) -> np.ndarray:
        """(N, 12, n_samples) float32 via :func:`~data_access.preprocess.to_model_input`.

        Records too short for the model are moved to ``bad_records`` rather than raising.
        """
        out, ok = [], []
        for rec in self.records:
            try:
                out.append(to_model_input(rec, fs, n_samples))
                ok.append(rec)
            except ECGDataError as exc:
                self.bad_records.append(_bad_entry(rec.record_id, rec.metadata.get("path", ""), exc))
        self.records = ok
        return np.stack(out) if out else np.zeros((0, 12, n_samples), np.float32)


def _bad_entry(rid: str, path: str | Path, exc: ECGDataError) -> dict:
    return {"record": rid, "path": str(path), "reason": exc.reason, "error": type(exc).__name__}


def iter_records(paths: Iterable[str | Path], progress: bool = False, **read_kwargs: Any
                 ) -> Iterator[tuple[Path, ECGRecord | ECGDataError]]:
    """Yield ``(path, record)`` or ``(path, error)`` for each path; never raises :class:`ECGDataError`.

    ``read_kwargs`` go to :func:`~data_access.record.read_record` (``expected_fs``, ``allow_flat``...).
    """
    from tqdm.auto import tqdm

    paths = list(paths)
    for p in tqdm(paths, disable=not (progress and sys.stderr.isatty()), desc="ECG records"):
        try:
            yield Path(p), read_record(p, **read_kwargs)
        except ECGDataError as exc:
            yield Path(p), exc


def load_records(paths: Iterable[str | Path], progress: bool = False, **read_kwargs: Any) -> RecordBatch:
    """Read every WFDB record in ``paths``; bad ones are listed in ``bad_records`` with their reason."""
    batch = RecordBatch()
    for p, item in iter_records(paths, progress, **read_kwargs):
        if isinstance(item, ECGRecord):
            batch.records.append(item)
        else:
            rid = item.record or Path(p).with_suffix("").name
            batch.bad_records.append(_bad_entry(rid, p, item))
            log.warning("skipping record %s: %s", rid, item.reason)
    return batch


def find_records(directory: str | Path) -> list[Path]:
    """All WFDB records (``*.hea``, recursively) under ``directory``, sorted, without suffix."""
    return sorted(p.with_suffix("") for p in Path(directory).rglob("*.hea"))
