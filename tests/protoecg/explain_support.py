"""Shared test support for the explanation tests: a tiny model trained on generated ECGs, built once.

Training uses the model engineer's public API (``protoecg.training.trainer.train`` with the ``tiny``
preset) on ECGs from ``data_access.synth`` (generated, so no data outside the repository is needed).
The bundle is cached per test session.
"""
from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

# Classes with clear signatures in every branch; each ECG gets one finding (plus sinus rhythm).
TINY_CLASSES = (("NORM",), ("AFIB",), ("CLBBB",), ("IMI",), ("LVH",), ("STACH",))
N_PER_CLASS = 24


@lru_cache(maxsize=4)
def synthetic_ptbxl(n_per_class: int = N_PER_CLASS, seed: int = 0):
    """A PTBXLData of generated ECGs at 100 Hz (high-passed), folds 1-8 / 9 / 10 assigned round-robin.

    Cached: callers must not modify the arrays."""
    from data_access.preprocess import highpass
    from data_access.ptbxl import PTBXLData, codes, label_matrix
    from data_access.synth.ecg import synthesize_ecg

    rng = np.random.default_rng(seed)
    sigs, scps, folds = [], [], []
    fold_cycle = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2]
    for labels in TINY_CLASSES:
        for i in range(n_per_class):
            sigs.append(synthesize_ecg(set(labels), rng, fs=100, duration_s=10))
            scps.append({c: 100.0 for c in labels})
            folds.append(fold_cycle[i % len(fold_cycle)])
    ids = np.arange(1, len(sigs) + 1, dtype=np.int64)
    meta = pd.DataFrame({"scp": scps, "strat_fold": folds}, index=pd.Index(ids, name="ecg_id"))
    x = highpass(np.stack(sigs), 100.0)
    return PTBXLData(ids, x.astype(np.float32), label_matrix(meta), np.asarray(folds), 100.0, meta, codes())


@lru_cache(maxsize=1)
def tiny_bundle_path() -> Path:
    """Train the tiny preset once per session; returns the bundle directory.

    ``PROTOECG_TINY_BUNDLE`` may name an already trained tiny bundle (developer convenience)."""
    import os

    reuse = os.environ.get("PROTOECG_TINY_BUNDLE")
    if reuse and (Path(reuse) / "model.pt").exists():
        return Path(reuse)
    from protoecg.training.config import preset
    from protoecg.training.trainer import train

    out = Path(tempfile.mkdtemp(prefix="protoecg_tiny_bundle_")) / "run"
    train(synthetic_ptbxl(), preset("tiny", threads=2, joint_epochs=8, last_layer_epochs=2, fusion_epochs=4, patience=20),
          out, is_demo=True, progress=False, n_boot=20)
    return out


def training_bank(bundle):
    """The donor bank of the tiny bundle: its generated training-fold ECGs with their labels."""
    from protoecg.explain.donors import bank_from_arrays

    tr = synthetic_ptbxl().split(tuple(bundle.config.train_folds))
    return bank_from_arrays(bundle, tr.signals, tr.ecg_ids, tr.labels, source="generated training folds")
