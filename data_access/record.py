"""Read one 12-lead WFDB record (PTB-XL ``.dat`` or CinC ``.mat``) into a validated :class:`ECGRecord`.

CONTRACT (other packages rely on it): ``read_record(path) -> ECGRecord`` with ``signal`` of shape
(12, n_samples), float32, millivolts, leads in :data:`data_access.leads.CANONICAL_LEADS` order.

wfdb is permissive: it ignores bytes beyond the length its header declares and fails with an opaque
``ValueError`` on short files. So the header is parsed first and every signal file's size is checked
against it, which turns truncated or mismatched files into precise, typed errors.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import (HeaderError, MissingFileError, RecordLengthError, RecordReadError,
                     TruncatedRecordError, UnitsError)
from .leads import CANONICAL_LEADS, canonical_order
from .signal_checks import MIN_DURATION_S, SUPPORTED_FS, check_fs, validate_signal

# Bytes per sample of the uncompressed WFDB formats (212 and 310/311 pack samples into bit fields).
_BYTES_PER_SAMPLE = {"8": 1.0, "16": 2.0, "24": 3.0, "32": 4.0, "61": 2.0, "80": 1.0, "160": 2.0,
                     "212": 1.5, "310": 4 / 3, "311": 4 / 3}
# Factor that converts a physical unit to millivolts.
_TO_MV = {"mv": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "v": 1e3}


@dataclass(frozen=True)
class ECGRecord:
    """A validated 12-lead ECG (from WFDB here, or a clinical format via :mod:`data_access.formats`).

    ``signal`` is (12, n_samples) float32 in mV, leads in canonical order; ``fs`` in Hz. ``metadata``
    holds the header's ``# Key: value`` comment lines (``Age``, ``Sex``, ``Dx``...), ``comments`` (raw
    lines), ``units``, ``lead_names`` (as written in the file) and ``path``.
    """

    record_id: str
    signal: np.ndarray
    fs: float
    leads: tuple[str, ...] = CANONICAL_LEADS
    metadata: dict[str, Any] = field(default_factory=dict)
    dx_snomed: tuple[str, ...] = ()
    # Leads the file did not carry and the reader computed (Einthoven/Goldberger), e.g. an 8-lead export.
    derived_leads: tuple[str, ...] = ()

    @property
    def duration_s(self) -> float:
        return self.signal.shape[1] / self.fs

    @property
    def n_samples(self) -> int:
        return int(self.signal.shape[1])


def record_base(path: str | Path) -> Path:
    """The WFDB record path without suffix, from a path given with or without ``.hea``/``.dat``/``.mat``."""
    p = Path(path)
    return p.with_suffix("") if p.suffix.lower() in {".hea", ".dat", ".mat"} else p


def _read_header(base: Path) -> Any:
    import wfdb

    hea = base.parent / (base.name + ".hea")
    if not hea.is_file():
        raise MissingFileError(f"header file {hea} not found", record=base.name)
    try:
        hdr = wfdb.rdheader(str(base))
    except Exception as exc:  # wfdb raises many types for malformed headers
        raise HeaderError(f"could not parse header {hea.name} ({type(exc).__name__}: {exc})",
                          record=base.name) from exc
    described = len(hdr.sig_name or [])
    if not hdr.n_sig or described != hdr.n_sig:   # wfdb's record-line parsing is lenient
        raise HeaderError(f"could not parse header {hea.name} (its record line declares {hdr.n_sig} signals "
                          f"but {described} signal lines follow)", record=base.name)
    return hdr


def _check_signal_files(base: Path, hdr: Any) -> None:
    """Compare each signal file's size with the number of samples the header declares."""
    sig_len = getattr(hdr, "sig_len", None)
    files: dict[str, list[int]] = {}
    for i, name in enumerate(hdr.file_name or []):
        files.setdefault(name, []).append(i)
    for name, idx in files.items():
        path = base.parent / name
        if not path.is_file():
            raise MissingFileError(f"signal file {name} named in {base.name}.hea not found", record=base.name)
        if not sig_len:
            continue
        bps = [_BYTES_PER_SAMPLE.get(str(hdr.fmt[i])) for i in idx]
        if any(b is None for b in bps):
            continue  # compressed (FLAC) formats: sizes are not predictable
        spf = hdr.samps_per_frame or [1] * hdr.n_sig
        frame_bytes = sum(b * (spf[i] or 1) for b, i in zip(bps, idx))
        offsets = hdr.byte_offset or []
        offset = (offsets[idx[0]] if idx[0] < len(offsets) else 0) or 0
        size = path.stat().st_size
        held = int(math.floor((size - offset) / frame_bytes + 1e-9)) if size > offset else 0
        if held < sig_len:
            raise TruncatedRecordError(
                f"signal file {name} is truncated: it holds {held} of the {sig_len} samples per lead "
                f"declared in {base.name}.hea ({size} bytes, expected {offset + math.ceil(sig_len * frame_bytes)})",
                record=base.name)
        if held > sig_len:
            raise RecordLengthError(
                f"header/signal length mismatch: {base.name}.hea declares {sig_len} samples per lead "
                f"but {name} holds {held}", record=base.name)


def _to_millivolts(p_signal: np.ndarray, units: Sequence[str | None], names: Sequence[str],
                   record: str) -> np.ndarray:
    factors = []
    for u, n in zip(units, names):
        key = (u or "mV").strip().lower()
        if key not in _TO_MV:
            raise UnitsError(f"lead {n} is in unit {u!r}; expected a voltage (mV, uV or V)", record)
        factors.append(_TO_MV[key])
    f = np.asarray(factors, dtype=np.float64)
    return p_signal if np.all(f == 1.0) else p_signal * f[None, :]


def parse_header_comments(comments: Sequence[str]) -> tuple[dict[str, str], tuple[str, ...]]:
    """Split ``# Key: value`` header comment lines into a dict, and the SNOMED codes of ``Dx:``."""
    fields: dict[str, str] = {}
    for line in comments:
        key, sep, value = line.strip().lstrip("#").partition(":")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    dx_line = next((v for k, v in fields.items() if k.lower() == "dx"), "")
    dx = tuple(c.strip() for c in dx_line.split(",") if c.strip())
    return fields, dx


def read_record(path: str | Path, *, expected_fs: float | None = None,
                supported_fs: Sequence[float] = SUPPORTED_FS, min_duration_s: float = MIN_DURATION_S,
                allow_flat: bool = False) -> ECGRecord:
    """Read a WFDB record given its path with or without the ``.hea`` suffix.

    Raises a subclass of :class:`~data_access.errors.ECGDataError` naming the record and the problem:
    missing files, an unparseable header, a truncated or over-long signal file, lead problems, a
    sampling rate that is unsupported or differs from ``expected_fs``, a short record, NaNs, flat leads.
    """
    import wfdb

    base = record_base(path)
    rid = base.name
    hdr = _read_header(base)
    names = list(hdr.sig_name or [])
    canonical_order(names, rid)                       # lead problems before touching the signal
    check_fs(hdr.fs, rid, supported_fs, expected_fs)
    _check_signal_files(base, hdr)
    try:
        rec = wfdb.rdrecord(str(base), physical=True)
    except Exception as exc:  # wfdb raises many types for corrupt files
        raise RecordReadError(f"could not decode the signal ({type(exc).__name__}: {exc})", record=rid) from exc
    if rec.p_signal is None or rec.p_signal.shape[0] != (hdr.sig_len or rec.p_signal.shape[0]):
        got = None if rec.p_signal is None else rec.p_signal.shape[0]
        raise RecordLengthError(f"header declares {hdr.sig_len} samples per lead, decoded {got}", rid)
    mv = _to_millivolts(rec.p_signal, rec.units or [None] * len(names), names, rid)
    sig = validate_signal(mv.T, names, rec.fs, record=rid, min_duration_s=min_duration_s,
                          supported_fs=supported_fs, expected_fs=expected_fs, allow_flat=allow_flat)
    comments = list(rec.comments or [])
    fields, dx = parse_header_comments(comments)
    meta: dict[str, Any] = dict(fields)
    meta.update({"comments": comments, "units": list(rec.units or []), "lead_names": names,
                 "path": str(base)})
    return ECGRecord(record_id=rid, signal=sig, fs=float(rec.fs), dx_snomed=dx, metadata=meta)
