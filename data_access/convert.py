"""Clinical formats → WFDB: one record (:func:`write_wfdb`) or a batch (:func:`convert_many`) that skips
bad files and lists them with their reasons (also as CSV)."""
from __future__ import annotations

import csv
import logging
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ECGDataError
from .formats import read_any
from .leads import CANONICAL_LEADS
from .record import ECGRecord

log = logging.getLogger(__name__)

_META_KEYS = (("age", "Age"), ("sex", "Sex"), ("acquisition_time", "Acquired"), ("device", "Device"),
              ("format", "Source format"))


def _safe_name(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_")
    return s or "record"


def header_comments(rec: ECGRecord) -> list[str]:
    """``Key: value`` comment lines carrying the record's metadata into the WFDB header."""
    meta = rec.metadata
    lines = [f"{label}: {meta[key]}" for key, label in _META_KEYS if meta.get(key) not in (None, "")]
    if rec.derived_leads:
        lines.append(f"Derived leads: {' '.join(rec.derived_leads)} (computed from I and II by the reader)")
    if meta.get("statements"):
        lines.append("Statements: " + " | ".join(str(s).replace("\n", " ") for s in meta["statements"]))
    if meta.get("intervals"):
        lines.append("Intervals: " + " ".join(f"{k}={v:g}" for k, v in meta["intervals"].items()))
    if rec.dx_snomed:
        lines.append("Dx: " + ",".join(rec.dx_snomed))
    return lines


def write_wfdb(rec: ECGRecord, out_dir: str | Path, name: str | None = None, fs: float | None = None) -> Path:
    """Write ``rec`` as a 16-bit WFDB record (mV, canonical leads) in ``out_dir``; returns the record path.

    ``fs`` resamples first (the project's anti-aliased resampler); default: the record's own rate.
    """
    import wfdb

    from .preprocess import resample

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = _safe_name(name or rec.record_id)
    sig, rate = rec.signal, rec.fs
    if fs is not None and float(fs) != rec.fs:
        sig, rate = resample(sig, rec.fs, float(fs)), float(fs)
    p = np.ascontiguousarray(sig.T, dtype=np.float64)
    wfdb.wrsamp(name, fs=rate, units=["mV"] * 12, sig_name=list(CANONICAL_LEADS), p_signal=p,
                fmt=["16"] * 12, comments=header_comments(rec), write_dir=str(out_dir))
    return out_dir / name


@dataclass
class ConvertRun:
    """What a batch conversion did: ``written`` (input → WFDB record path) and ``bad`` (with reasons)."""

    written: list[tuple[Path, Path]] = field(default_factory=list)
    bad: list[dict] = field(default_factory=list)       # [{path, format, error, reason}]
    failures_csv: Path | None = None


def convert_many(paths: Iterable[str | Path], out_dir: str | Path, fs: float | None = None,
                 progress: bool = False, failures_csv: str | Path | None = None) -> ConvertRun:
    """Convert every input to WFDB in ``out_dir``; unreadable inputs are skipped and listed.

    Output names are the input file names (made WFDB-safe); a clash gets ``_2``, ``_3``… The failures
    are written to ``failures_csv`` (default ``out_dir/conversion_failures.csv``) when there are any.
    """
    from tqdm.auto import tqdm

    from .formats import detect_format

    out_dir = Path(out_dir)
    run, used = ConvertRun(), set()
    items = [Path(p) for p in paths]
    for p in tqdm(items, disable=not progress, desc="converting", unit="file", file=sys.stderr):
        try:
            rec = read_any(p)
            name = base = _safe_name(p.stem if p.suffix.lower() not in {".hea", ".dat", ".mat"} else p.stem)
            k = 2
            while name in used:
                name, k = f"{base}_{k}", k + 1
            used.add(name)
            run.written.append((p, write_wfdb(rec, out_dir, name, fs)))
        except ECGDataError as exc:
            try:
                fmt = detect_format(p)
            except ECGDataError:
                fmt = "unknown"
            run.bad.append({"path": str(p), "format": fmt, "error": type(exc).__name__, "reason": exc.reason})
            log.warning("skipping %s: %s", p, exc.reason)
    if run.bad:
        out_dir.mkdir(parents=True, exist_ok=True)
        target = Path(failures_csv) if failures_csv else out_dir / "conversion_failures.csv"
        with target.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["path", "format", "error", "reason"])
            w.writeheader()
            w.writerows(run.bad)
        run.failures_csv = target
    return run
