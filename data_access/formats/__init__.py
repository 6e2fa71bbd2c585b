"""Clinical ECG formats in: one reader per format, and :func:`read_any`, which picks the reader from
the file's content. Every reader returns the same validated :class:`~data_access.record.ECGRecord` as
:func:`data_access.record.read_record` (mV, canonical lead order, ``fs``, metadata with ``age``,
``sex``, ``acquisition_time``, the machine's ``statements`` and ``intervals`` when the file has them,
and ``derived_leads`` for limb leads computed from I and II)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..record import ECGRecord
from ._common import FORMAT_FS
from .detect import FILE_SUFFIXES, FORMAT_NAMES, FORMATS, WFDB_SUFFIXES, detect_format


def read_any(path: str | Path, *, supported_fs: Sequence[float] = FORMAT_FS, **validate: Any) -> ECGRecord:
    """Read an ECG in any supported format (see :data:`FORMATS`), chosen from the file's content.

    ``validate`` goes to the signal checks (``expected_fs``, ``min_duration_s``, ``allow_flat``). Bad
    input raises a subclass of :class:`~data_access.errors.ECGDataError` naming the file and the problem.
    """
    fmt = detect_format(path)
    if fmt == "wfdb":
        from ..record import read_record
        rec = read_record(path, supported_fs=supported_fs, **validate)
        rec.metadata.setdefault("format", "WFDB")
        return rec
    reader = _READERS[fmt]()
    return reader(path, supported_fs=supported_fs, **validate)


def _muse():
    from .muse import read_muse
    return read_muse


def _philips():
    from .philips import read_philips
    return read_philips


def _aecg():
    from .aecg import read_aecg
    return read_aecg


def _dicom():
    from .dicom import read_dicom
    return read_dicom


def _edf():
    from .edf import read_edf
    return read_edf


_READERS = {"muse": _muse, "philips": _philips, "aecg": _aecg, "dicom": _dicom, "edf": _edf}


def find_ecg_files(directory: str | Path) -> list[Path]:
    """Every ECG under ``directory`` (recursively), sorted: WFDB records (by their ``.hea``, without
    suffix) and files ending in :data:`FILE_SUFFIXES` (any case). Their content is checked when read."""
    root = Path(directory)
    out: set[Path] = set()
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        suf = p.suffix.lower()
        if suf == ".hea":
            out.add(p.with_suffix(""))
        elif suf in FILE_SUFFIXES:
            out.add(p)
    return sorted(out)


def expand_inputs(items: Iterable[str | Path]) -> list[Path]:
    """Files and directories → the ECG paths they name (directories via :func:`find_ecg_files`)."""
    out: list[Path] = []
    for it in items:
        p = Path(it)
        out.extend(find_ecg_files(p) if p.is_dir() else [p])
    return out


__all__ = ["FILE_SUFFIXES", "FORMATS", "FORMAT_FS", "FORMAT_NAMES", "WFDB_SUFFIXES", "detect_format",
           "expand_inputs", "find_ecg_files", "read_any"]
