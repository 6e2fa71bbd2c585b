"""Per-ECG feature table for the phenotype analysis: every prototype similarity, the fused class
probabilities and the branch logits of a model bundle, for every MIMIC-IV-ECG record.

Output: a Parquet *dataset directory* (``features.parquet/``) of part files, one per chunk of records, so
that

* memory stays bounded (one chunk of signals in memory at a time);
* the job is **sharded** (``shard=(i, n)`` takes the studies with ``study_id % n == i``; shards can run
  in parallel into the same directory);
* it is **resumable**: part files are written atomically (temporary name, then rename), and a rerun
  skips the studies already written or already listed as bad;
* records stream through a torch ``DataLoader`` (decode workers read WFDB while the model runs the
  fast serving path of :mod:`protoecg.model.fast`); ECG/s are logged and kept in ``_run_stats*.json``;
* bad records are listed with their reason in ``_bad_records.csv`` (``_bad_records.shard-i-of-n.csv``
  when sharded) inside the directory. The leading underscore makes Parquet readers skip the sidecars, so
  ``pandas.read_parquet("features.parquet")`` reads the whole table.

Columns: ``study_id``, ``sim_<prototype_id>`` (pooled cosine similarity), ``prob_<code>`` (fused
probability), ``logit_<branch>_<code>`` (the branch classifier's logit; ``logit_fused_<code>`` for a
model without branches). ``_manifest.json`` records the bundle, whether it is a demo model, and the
preprocessing; ``_prototypes.csv`` is the bundle's prototype table (prototype → class, branch).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_access.errors import ECGDataError, MetadataError
from data_access.mimic_ecg import read_record_list

log = logging.getLogger(__name__)

CHUNK_RECORDS = 512


def feature_columns(bundle: Any) -> tuple[list[tuple[str, str, int]], list[str], list[str]]:
    """(similarity columns as (name, branch, branch_index), probability columns, logit columns)."""
    sims = [(f"sim_{r.prototype_id}", r.branch, int(r.branch_index)) for r in bundle.prototypes.itertuples()]
    probs = [f"prob_{c}" for c in bundle.codes]
    has_branches = bool(sims)
    logits = [f"logit_{bundle.branch_of[c] if has_branches else 'fused'}_{c}" for c in bundle.codes]
    return sims, probs, logits


def _shard_name(shard: tuple[int, int]) -> str:
    i, n = shard
    return "" if n == 1 else f".shard-{i}-of-{n}"


def bad_records_path(out_path: str | Path, shard: tuple[int, int] = (0, 1)) -> Path:
    return Path(out_path) / f"_bad_records{_shard_name(shard)}.csv"


def _done_studies(out: Path, shard: tuple[int, int]) -> tuple[set[int], int]:
    import pyarrow.parquet as pq

    prefix = f"part{_shard_name(shard) or '.shard-0-of-1'}-"
    done: set[int] = set()
    last = -1
    for f in sorted(out.glob(f"{prefix}*.parquet")):
        done |= set(pq.read_table(f, columns=["study_id"]).column("study_id").to_pylist())
        last = max(last, int(f.stem.rsplit("-", 1)[1]))
    bad = bad_records_path(out, shard)
    if bad.exists():
        done |= set(pd.read_csv(bad)["study_id"].astype(int))
    return done, last + 1


def _predict_frame(bundle: Any, study_ids: list[int], x: np.ndarray, batch_size: int) -> pd.DataFrame:
    sims_cols, prob_cols, logit_cols = feature_columns(bundle)
    pred = bundle.predict(x, batch_size=batch_size, with_leads=False, fast=True)
    cols: dict[str, np.ndarray] = {"study_id": np.asarray(study_ids, dtype=np.int64)}
    for name, branch, j in sims_cols:
        cols[name] = pred.sims[branch][:, j].astype(np.float32)
    for k, name in enumerate(prob_cols):
        cols[name] = pred.probs[:, k].astype(np.float32)
    lg = pred.combined_logits if pred.combined_logits is not None else pred.logits
    for k, name in enumerate(logit_cols):
        cols[name] = lg[:, k].astype(np.float32)
    return pd.DataFrame(cols)


def _write_manifest(out: Path, bundle: Any, mimic_ecg_dir: Path) -> None:
    m = {"bundle": str(getattr(bundle, "path", "")), "bundle_git_commit": getattr(bundle, "git_commit", None),
         "is_demo": bool(getattr(bundle, "is_demo", False)), "fs": bundle.fs, "n_samples": bundle.n_samples,
         "mimic_ecg_dir": str(mimic_ecg_dir),
         "preprocessing": f"WFDB → {bundle.fs} Hz (polyphase) → 0.5 Hz zero-phase high-pass → first "
                          f"{bundle.n_samples} samples (data_access.preprocess.to_model_input)",
         "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    (out / "_manifest.json").write_text(json.dumps(m, indent=2))
    bundle.prototypes.to_csv(out / "_prototypes.csv", index=False)


def extract_features(bundle: Any, mimic_ecg_dir: str | Path, out_path: str | Path,
                     shard: tuple[int, int] = (0, 1), batch_size: int = 64, progress: bool = True,
                     chunk_records: int = CHUNK_RECORDS, study_ids: list[int] | None = None,
                     workers: int | None = None) -> Path:
    """Run ``bundle`` over the MIMIC-IV-ECG records of one shard; returns the dataset directory.

    Records stream through a ``DataLoader`` (``workers`` decode processes, default
    :func:`analysis.ecg_stream.default_workers`; 0 decodes in this process) into the model's fast serving
    path; throughput is logged and written to ``_run_stats<shard>.json``.
    """
    from tqdm.auto import tqdm

    from .ecg_stream import MimicRecords, chunk_batches, default_workers, record_loader

    i, n = shard
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    root, out = Path(mimic_ecg_dir), Path(out_path)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a feature dataset directory")
    out.mkdir(parents=True, exist_ok=True)
    records = read_record_list(root)
    if study_ids is not None:
        records = records[records["study_id"].isin(study_ids)]
    records = records[records["study_id"] % n == i].sort_values("study_id")
    done, next_part = _done_studies(out, shard)
    todo = records[~records["study_id"].isin(done)]
    log.info("shard %d/%d: %d records, %d already done, %d to go", i, n, len(records), len(records) - len(todo),
             len(todo))
    _write_manifest(out, bundle, root)
    bad_path = bad_records_path(out, shard)
    prefix = f"part{_shard_name(shard) or '.shard-0-of-1'}-"
    workers = default_workers() if workers is None else workers
    dataset = MimicRecords(root, todo["study_id"].tolist(), todo["path"].tolist(), bundle.fs, bundle.n_samples)
    batches = chunk_batches(len(dataset), chunk_records, batch_size)
    bar = tqdm(total=len(todo), desc=f"features shard {i}/{n}", unit="ecg", disable=not progress)
    t_start, model_s, n_good = time.perf_counter(), 0.0, 0
    frames: list[pd.DataFrame] = []
    bad: list[dict] = []

    def flush() -> None:
        nonlocal next_part
        if frames:
            final = out / f"{prefix}{next_part:05d}.parquet"
            tmp = out / f"_tmp-{final.name}"
            pd.concat(frames, ignore_index=True).to_parquet(tmp, index=False)
            os.replace(tmp, final)
            next_part += 1
        if bad:   # after the part file: a crash between the two only repeats the bad records' check
            pd.DataFrame(bad).to_csv(bad_path, mode="a", header=not bad_path.exists(), index=False)
        frames.clear()
        bad.clear()

    current = 0
    for (chunk, _), items in zip(batches, record_loader(dataset, batches, workers)):
        if chunk != current:
            flush()
            current = chunk
        good = [it for it in items if it.signal is not None]
        for it in items:
            if it.signal is None:
                bad.append({"study_id": it.study_id, "path": it.path, "reason": it.reason})
                log.warning("study %s skipped: %s", it.study_id, it.reason)
        if good:
            t0 = time.perf_counter()
            frames.append(_predict_frame(bundle, [it.study_id for it in good],
                                         np.stack([it.signal for it in good]), batch_size))
            model_s += time.perf_counter() - t0
            n_good += len(good)
        bar.update(len(items))
    flush()
    bar.close()
    _write_stats(out, shard, len(todo), n_good, time.perf_counter() - t_start, model_s, workers)
    return out


def _write_stats(out: Path, shard: tuple[int, int], n_todo: int, n_good: int, wall_s: float, model_s: float,
                 workers: int) -> None:
    stats = {"records": n_todo, "ecgs_inferred": n_good, "bad_records": n_todo - n_good,
             "wall_s": round(wall_s, 3), "model_s": round(model_s, 3), "decode_workers": workers,
             "ecg_per_s": round(n_good / wall_s, 1) if wall_s > 0 else None,
             "model_ecg_per_s": round(n_good / model_s, 1) if model_s > 0 else None}
    log.info("shard %d/%d: %d ECGs in %.1f s: %s ECG/s end to end (model alone %s ECG/s, %d decode workers)",
             shard[0], shard[1], n_good, wall_s, stats["ecg_per_s"], stats["model_ecg_per_s"], workers)
    (out / f"_run_stats{_shard_name(shard)}.json").write_text(json.dumps(stats, indent=2))


def read_run_stats(path: str | Path, shard: tuple[int, int] = (0, 1)) -> dict:
    """Throughput of the last :func:`extract_features` run of ``shard`` (empty if none was recorded)."""
    f = Path(path) / f"_run_stats{_shard_name(shard)}.json"
    return json.loads(f.read_text()) if f.exists() else {}


def read_features(path: str | Path) -> pd.DataFrame:
    """The whole feature table (all shards, or one Parquet file), indexed by ``study_id`` (int64, sorted).

    A study written twice (an interrupted shard rerun) is kept once, its first row. A missing path is a
    ``FileNotFoundError``; a table without ``study_id`` (column or index) a :class:`MetadataError`.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"feature table {p} not found (write it with `protoecg infer`)")
    df = pd.read_parquet(p)
    if "study_id" in df.columns:
        df = df.set_index("study_id")
    elif df.index.name != "study_id":
        raise MetadataError(f"{p}: no study_id column")
    df.index = df.index.astype("int64")
    return df[~df.index.duplicated()].sort_index()


def read_bad_records(path: str | Path) -> pd.DataFrame:
    """All shards' bad records (study_id, path, reason)."""
    files = sorted(Path(path).glob("_bad_records*.csv"))
    if not files:
        return pd.DataFrame(columns=["study_id", "path", "reason"])
    return pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
