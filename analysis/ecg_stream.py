"""Streaming MIMIC-IV-ECG records into the model: a torch ``DataLoader`` whose workers read and preprocess
WFDB files while the main process runs the model.

Batches never straddle a chunk of records (the unit of one Parquet part file of
:func:`analysis.features.extract_features`), so the part files, sharding and resumption are the same with
any number of workers. A record that cannot be read is not an error of the loader: its item carries the
reason, and the caller lists it as a bad record.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import DataLoader, Dataset

from data_access.errors import ECGDataError
from data_access.mimic_ecg import load_mimic_ecg, to_model_input


@dataclass(frozen=True)
class RecordItem:
    """One record after decoding: ``signal`` (12, T) float32, or ``None`` with the ``reason``."""

    study_id: int
    path: str
    signal: np.ndarray | None
    reason: str = ""


class MimicRecords(Dataset):
    """Records ``(study_id, relative path)`` of a MIMIC-IV-ECG root, decoded to model input on access."""

    def __init__(self, root: str | Path, study_ids: list[int], paths: list[str], fs: int, n_samples: int) -> None:
        self.root, self.study_ids, self.paths = Path(root), list(study_ids), list(paths)
        self.fs, self.n_samples = fs, n_samples

    def __len__(self) -> int:
        return len(self.study_ids)

    def __getitem__(self, i: int) -> RecordItem:
        sid, rel = int(self.study_ids[i]), self.paths[i]
        try:
            rec = load_mimic_ecg(self.root, path=rel)
            sig = to_model_input(rec, target_fs=self.fs, n_samples=self.n_samples).astype(np.float32)
            return RecordItem(sid, rel, sig)
        except ECGDataError as exc:
            return RecordItem(sid, rel, None, exc.reason)


def _keep_items(items: list[RecordItem]) -> list[RecordItem]:
    return items


def chunk_batches(n: int, chunk_records: int, batch_size: int) -> list[tuple[int, list[int]]]:
    """``(chunk index, record indices)`` batches of at most ``batch_size``, none crossing a chunk."""
    out = []
    for c, start in enumerate(range(0, n, chunk_records)):
        stop = min(start + chunk_records, n)
        out += [(c, list(range(b, min(b + batch_size, stop)))) for b in range(start, stop, batch_size)]
    return out


def record_loader(dataset: MimicRecords, batches: list[tuple[int, list[int]]], workers: int) -> DataLoader:
    """Batches of :class:`RecordItem` in order; ``workers`` > 0 decode in background processes."""
    return DataLoader(dataset, batch_sampler=[idx for _, idx in batches], collate_fn=_keep_items,
                      num_workers=workers, prefetch_factor=4 if workers > 0 else None,
                      persistent_workers=False)


def default_workers() -> int:
    """Decode workers: one per spare core, at most 4 (the model uses the others)."""
    return max(0, min(4, len(_cpus()) - 1))


def _cpus() -> list[int]:
    import os
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:       # not Linux
        return list(range(os.cpu_count() or 1))
