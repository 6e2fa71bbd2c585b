"""Per-ECG feature table for the phenotype analysis: every prototype similarity, the fused class
probabilities and the branch logits of a model bundle, for every MIMIC-IV-ECG record.

Output: a Parquet *dataset directory* (``features.parquet/``) of part files, one per chunk of records, so
that

* memory stays bounded (one chunk of signals in memory at a time);
* the job is **sharded** (``shard=(i, n)`` takes the studies with ``study_id % n == i``; shards can run
  in parallel into the same directory);
* it is **resumable**: part files are written atomically (temporary name, then rename), and a rerun
  skips the studies already written or already listed as bad;
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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data_access.errors import ECGDataError, MetadataError
from data_access.mimic_ecg import load_mimic_ecg, read_record_list, to_model_input

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
    pred = bundle.predict(x, batch_size=batch_size, with_leads=False)
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
                     chunk_records: int = CHUNK_RECORDS, study_ids: list[int] | None = None) -> Path:
    """Run ``bundle`` over the MIMIC-IV-ECG records of one shard; returns the dataset directory."""
    from tqdm.auto import tqdm

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
    bar = tqdm(total=len(todo), desc=f"features shard {i}/{n}", unit="ecg", disable=not progress)
    for start in range(0, len(todo), chunk_records):
        chunk = todo.iloc[start:start + chunk_records]
        ids, sigs, bad = [], [], []
        for sid, rel in zip(chunk["study_id"], chunk["path"]):
            try:
                rec = load_mimic_ecg(root, path=rel)
                sigs.append(to_model_input(rec, target_fs=bundle.fs, n_samples=bundle.n_samples))
                ids.append(int(sid))
            except ECGDataError as exc:
                bad.append({"study_id": int(sid), "path": rel, "reason": exc.reason})
                log.warning("study %s skipped: %s", sid, exc.reason)
        if ids:
            frame = _predict_frame(bundle, ids, np.stack(sigs), batch_size)
            final = out / f"{prefix}{next_part:05d}.parquet"
            tmp = out / f"_tmp-{final.name}"
            frame.to_parquet(tmp, index=False)
            os.replace(tmp, final)
            next_part += 1
        if bad:   # after the part file: a crash between the two only repeats the bad records' check
            pd.DataFrame(bad).to_csv(bad_path, mode="a", header=not bad_path.exists(), index=False)
        bar.update(len(chunk))
    bar.close()
    return out


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
