"""PTB-XL reader: metadata, the 71-label matrix, branch label matrices, folds and signals.

CONTRACT (other packages rely on it; extend, do not break):
- ``codes()``: tuple of the 71 statement codes in ``scp_statements.csv`` order.
- ``branch_of() -> dict[code, 'rhythm'|'morphology'|'diffuse']``; ``branch_codes()`` per branch.
- ``read_metadata(root) -> DataFrame`` indexed by ``ecg_id`` with a ``scp`` column of parsed dicts.
- ``label_matrix(meta)`` (N, 71); ``branch_label_matrices(labels)`` {branch: (N, k)}.
- ``load_ptbxl(root, fs=100, folds=None, ...) -> PTBXLData`` (signals preprocessed for the model),
  memory-mapped from a disk cache on the second load (see :mod:`data_access.cache`).
"""
from __future__ import annotations

import ast
import logging
import math
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .errors import ECGDataError, MetadataError

log = logging.getLogger(__name__)

TRAIN_FOLDS = (1, 2, 3, 4, 5, 6, 7, 8)
VAL_FOLDS = (9,)
TEST_FOLDS = (10,)
BRANCHES: tuple[str, ...] = ("rhythm", "morphology", "diffuse")
RECORD_SECONDS = 10
REQUIRED_COLUMNS = ("ecg_id", "scp_codes", "strat_fold", "filename_lr", "filename_hr")


@lru_cache(maxsize=1)
def _branch_table() -> pd.DataFrame:
    with resources.files("data_access").joinpath("resources/ptbxl_branch_groups.csv").open() as f:
        return pd.read_csv(f)


@lru_cache(maxsize=1)
def scp_statements() -> pd.DataFrame:
    """The official 71-row statement table shipped with the package (index = code)."""
    with resources.files("data_access").joinpath("resources/scp_statements.csv").open() as f:
        return pd.read_csv(f, index_col=0)


def codes() -> tuple[str, ...]:
    """The 71 PTB-XL statement codes, in ``scp_statements.csv`` order."""
    return tuple(scp_statements().index)


def branch_of() -> dict[str, str]:
    """Map each of the 71 codes to its branch: rhythm, morphology or diffuse."""
    t = _branch_table()
    return dict(zip(t["scp_code"], t["branch"]))


def branch_codes(code_list: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """The codes of each branch, in ``code_list`` order (default :func:`codes`): 16 / 52 / 3."""
    code_list = code_list or codes()
    b = branch_of()
    return {br: tuple(c for c in code_list if b.get(c) == br) for br in BRANCHES}


def branch_label_matrices(labels: np.ndarray, code_list: tuple[str, ...] | None = None
                          ) -> dict[str, np.ndarray]:
    """Split an (N, len(code_list)) label matrix into {branch: (N, k_branch)}, columns as in
    :func:`branch_codes`."""
    code_list = code_list or codes()
    if labels.ndim != 2 or labels.shape[1] != len(code_list):
        raise ValueError(f"labels have shape {labels.shape}; expected (N, {len(code_list)})")
    col = {c: j for j, c in enumerate(code_list)}
    return {br: labels[:, [col[c] for c in cs]] for br, cs in branch_codes(code_list).items()}


def parse_scp_codes(cell: Any, ecg_id: int | None = None) -> dict[str, float]:
    """Parse a ``scp_codes`` cell (a Python dict literal ``{code: likelihood}``) safely, without ``eval``."""
    rec = None if ecg_id is None else str(ecg_id)
    if not isinstance(cell, str) or not cell.strip():
        raise MetadataError(f"empty scp_codes cell ({cell!r}); expected a dict like {{'NORM': 100.0}}", rec)
    try:
        value = ast.literal_eval(cell)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
        raise MetadataError(f"malformed scp_codes cell {cell!r}; expected a dict like {{'NORM': 100.0}}",
                            rec) from exc
    if not isinstance(value, dict):
        raise MetadataError(f"scp_codes is not a dict: {cell!r}", rec)
    try:
        return {str(k): float(v) for k, v in value.items()}
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"scp_codes likelihoods must be numbers: {cell!r}", rec) from exc


def _fold_of(value: Any) -> int | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return int(f) if math.isfinite(f) and f == int(f) and 1 <= f <= 10 else None


def read_metadata_checked(root: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """Read ``ptbxl_database.csv``; rows with a malformed ``scp_codes`` cell, fold or filename are
    dropped and listed as ``[{ecg_id, reason, strat_fold}]`` instead of stopping the whole read.

    Table-level problems (no file, missing columns, duplicated ``ecg_id``) raise :class:`MetadataError`.
    """
    path = Path(root) / "ptbxl_database.csv"
    if not path.is_file():
        raise MetadataError(f"no ptbxl_database.csv in {root}")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MetadataError(f"cannot parse {path} ({exc})") from exc
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise MetadataError(f"{path.name} lacks column(s) {', '.join(missing)}")
    ids = pd.to_numeric(df["ecg_id"], errors="coerce")
    if ids.isna().any():
        raise MetadataError(f"{path.name}: non-numeric ecg_id on CSV line(s) "
                            f"{', '.join(str(i + 2) for i in np.flatnonzero(ids.isna())[:10])}")
    dup = sorted(set(ids[ids.duplicated()].astype(int)))
    if dup:
        raise MetadataError(f"{path.name}: duplicated ecg_id(s) {', '.join(map(str, dup[:10]))}")
    df["ecg_id"] = ids.astype(np.int64)
    df = df.set_index("ecg_id")
    keep, parsed, bad = [], [], []
    for ecg_id, cell, fold, lr, hr in zip(df.index, df["scp_codes"], df["strat_fold"],
                                          df["filename_lr"], df["filename_hr"]):
        f = _fold_of(fold)
        try:
            scp = parse_scp_codes(cell, ecg_id)
            if f is None:
                raise MetadataError(f"strat_fold {fold!r} is not a fold number 1-10", str(ecg_id))
            for col, v in (("filename_lr", lr), ("filename_hr", hr)):
                if not isinstance(v, str) or not v.strip():
                    raise MetadataError(f"empty {col}", str(ecg_id))
        except MetadataError as exc:
            bad.append({"ecg_id": int(ecg_id), "reason": exc.reason, "strat_fold": f})
            log.warning("skipping metadata row %s: %s", ecg_id, exc.reason)
            continue
        keep.append(ecg_id)
        parsed.append(scp)
    df = df.loc[keep].copy()
    df["strat_fold"] = df["strat_fold"].astype(int)
    df["scp"] = parsed
    known = set(codes())
    unknown = sorted({c for d in parsed for c in d} - known)
    if unknown:
        log.warning("%s: code(s) not among the 71 PTB-XL statements are ignored: %s", path.name, unknown)
    return df, bad


def read_metadata(root: str | Path) -> pd.DataFrame:
    """Read ``ptbxl_database.csv`` with a parsed ``scp`` column; indexed by ``ecg_id``.

    Strict: the first malformed row raises :class:`MetadataError` (use :func:`read_metadata_checked`
    to skip and list bad rows).
    """
    df, bad = read_metadata_checked(root)
    if bad:
        raise MetadataError(bad[0]["reason"], record=str(bad[0]["ecg_id"]))
    return df


def label_matrix(meta: pd.DataFrame, code_list: tuple[str, ...] | None = None) -> np.ndarray:
    """(n_records, n_codes) uint8; any listed code counts as positive (likelihood ignored)."""
    code_list = code_list or codes()
    idx = {c: j for j, c in enumerate(code_list)}
    y = np.zeros((len(meta), len(code_list)), dtype=np.uint8)
    for i, d in enumerate(meta["scp"]):
        for c in d:
            if c in idx:
                y[i, idx[c]] = 1
    return y


@dataclass
class PTBXLData:
    """Signals and labels of a PTB-XL-layout dataset (records that failed to load are in ``bad_records``).

    ``signals`` may be a copy-on-write memory map of the disk cache: indexing is cheap, writes stay in
    memory.
    """

    ecg_ids: np.ndarray            # (N,) int
    signals: np.ndarray            # (N, 12, T) float32 mV, preprocessed when requested
    labels: np.ndarray             # (N, 71) uint8
    folds: np.ndarray              # (N,) int
    fs: float
    meta: pd.DataFrame             # rows aligned with ecg_ids
    codes: tuple[str, ...] = field(default_factory=codes)
    bad_records: list[dict] = field(default_factory=list)   # [{ecg_id, reason, ...}]

    def subset(self, mask: np.ndarray) -> "PTBXLData":
        return PTBXLData(self.ecg_ids[mask], self.signals[mask], self.labels[mask], self.folds[mask],
                         self.fs, self.meta.iloc[np.flatnonzero(mask)], self.codes, self.bad_records)

    def split(self, folds: tuple[int, ...]) -> "PTBXLData":
        return self.subset(np.isin(self.folds, folds))

    def branch_labels(self) -> dict[str, np.ndarray]:
        """{branch: (N, k)} label matrices (see :func:`branch_label_matrices`)."""
        return branch_label_matrices(self.labels, self.codes)


def _read_signals(root: Path, meta: pd.DataFrame, col: str, source_fs: int, fs: int, preprocess: bool,
                  progress: bool) -> tuple[np.ndarray, list[int], list[dict]]:
    from tqdm.auto import tqdm

    from .preprocess import highpass, resample
    from .record import read_record

    n_src = RECORD_SECONDS * source_fs
    n_out = RECORD_SECONDS * fs
    out = np.empty((len(meta), 12, n_out), dtype=np.float32)
    keep: list[int] = []
    bad: list[dict] = []
    show = progress and sys.stderr.isatty()
    rows = tqdm(zip(meta.index, meta[col]), total=len(meta), disable=not show, desc=f"PTB-XL {source_fs} Hz")
    for ecg_id, rel in rows:
        try:
            rec = read_record(root / rel, expected_fs=source_fs)
            x = rec.signal[:, :n_src]          # PTB-XL records are 10 s; longer ones are cropped
            if fs != source_fs:
                x = resample(x, source_fs, fs)[:, :n_out]
            if preprocess:
                x = highpass(x, fs)
            out[len(keep)] = x
            keep.append(int(ecg_id))
        except ECGDataError as exc:
            bad.append({"ecg_id": int(ecg_id), "reason": exc.reason, "file": str(rel),
                        "error": type(exc).__name__})
            log.warning("skipping record %s (%s): %s", ecg_id, rel, exc.reason)
    return out[:len(keep)], keep, bad


def load_ptbxl(root: str | Path, fs: int = 100, folds: tuple[int, ...] | None = None,
               preprocess: bool = True, progress: bool = False, *,
               cache_dir: str | Path | Literal[False] | None = None,
               source_fs: int | None = None) -> PTBXLData:
    """Load a PTB-XL-layout dataset at ``fs`` Hz, skipping and listing bad records.

    ``source_fs`` picks the files read (100 → ``filename_lr``, 500 → ``filename_hr``; default ``fs``);
    when it differs from ``fs`` the signals are resampled (anti-aliased). ``preprocess`` applies the
    0.5 Hz zero-phase high-pass. A file whose sampling rate is not ``source_fs`` is a bad record.

    Decoded signals are cached as ``.npy`` files and memory-mapped on later loads; the cache key hashes
    the CSV's and every selected record file's path, size and mtime plus these arguments, so an edited
    dataset is re-read. ``cache_dir=False`` disables the cache; ``None`` picks
    :func:`data_access.cache.default_cache_dir`.
    """
    from .cache import ArrayCache, default_cache_dir, fingerprint

    root = Path(root)
    source_fs = int(source_fs or fs)
    if source_fs not in (100, 500):
        raise ValueError(f"source_fs must be 100 or 500 (PTB-XL's two rates), not {source_fs}")
    meta, bad_meta = read_metadata_checked(root)
    if folds is not None:
        meta = meta[meta["strat_fold"].isin(folds)]
        bad_meta = [b for b in bad_meta if b["strat_fold"] is None or b["strat_fold"] in folds]
    col = "filename_lr" if source_fs == 100 else "filename_hr"
    files = [root / "ptbxl_database.csv"]
    for rel in meta[col]:
        files += [root / f"{rel}.hea", root / f"{rel}.dat"]
    params = {"fs": fs, "source_fs": source_fs, "preprocess": preprocess, "highpass_hz": 0.5,
              "n_records": len(meta)}
    spec = {"root": str(root.resolve()), "fs": fs, "source_fs": source_fs, "preprocess": preprocess,
            "folds": None if folds is None else sorted(folds)}
    cache = None if cache_dir is False else ArrayCache(Path(cache_dir or default_cache_dir()))
    key = fingerprint(files, params) if cache else ""
    hit = cache.load(key) if cache else None
    if hit is not None:
        arrays, info = hit
        signals, keep, bad = arrays["signals"], [int(i) for i in arrays["ecg_ids"]], info["bad_records"]
        log.info("loaded %d PTB-XL records at %d Hz from cache %s", len(keep), fs, cache.directory)
    else:
        signals, keep, bad = _read_signals(root, meta, col, source_fs, fs, preprocess, progress)
        if cache is not None:
            cache.save(key, {"signals": signals, "ecg_ids": np.asarray(keep, dtype=np.int64)},
                       {"bad_records": bad}, spec)
    meta = meta.loc[keep]
    return PTBXLData(np.asarray(keep, dtype=np.int64), signals, label_matrix(meta),
                     meta["strat_fold"].to_numpy(int), float(fs), meta, bad_records=bad_meta + bad)
