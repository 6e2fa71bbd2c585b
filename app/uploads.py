"""Turn uploaded ECG files into an ECGRecord, with a readable message for anything wrong.

One clinical file (GE MUSE / Philips / HL7 aECG XML, DICOM, EDF; the format is read from its content by
``data_access.formats.read_any``) or a WFDB pair (.hea + .dat/.mat). Only the raw bytes are written (to
a private temporary directory, under sanitised names) and parsed by the readers (XML through
defusedxml); nothing uploaded is ever unpickled or executed. The size limit applies to every file.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from data_access.errors import ECGDataError
from data_access.formats import FILE_SUFFIXES, read_any
from data_access.record import ECGRecord, read_record

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,120}$")
_SIGNAL_SUFFIXES = (".dat", ".mat")
# What the upload widget offers: the WFDB pair and the clinical formats.
UPLOAD_TYPES = ("hea", "dat", "mat") + tuple(s.lstrip(".") for s in FILE_SUFFIXES)


class UploadError(ECGDataError):
    """The uploaded files are not a readable 12-lead ECG (message says what to fix)."""


@dataclass(frozen=True)
class UploadedFilePart:
    name: str
    data: bytes


def upload_key(parts: list[UploadedFilePart]) -> str:
    """A content hash identifying this upload (for caching explanations)."""
    h = hashlib.sha256()
    for p in sorted(parts, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.data).digest())
    return h.hexdigest()[:16]


def _check_files(parts: list[UploadedFilePart], max_bytes: int) -> None:
    if not parts:
        raise UploadError("no file uploaded: choose an ECG file (.xml, .dcm, .edf) or a WFDB header (.hea) "
                          "and its signal file (.dat or .mat)")
    for p in parts:
        name = Path(p.name).name
        if not _SAFE_NAME.match(name):
            raise UploadError(f"file name {p.name!r} is not allowed: use letters, digits, '_', '-' "
                              "and '.' only")
        if len(p.data) > max_bytes:
            raise UploadError(f"{name} is {len(p.data) / 1e6:.1f} MB; the limit is "
                              f"{max_bytes / 1e6:.0f} MB per file")
        if len(p.data) == 0:
            raise UploadError(f"{name} is empty")


def _check_names(parts: list[UploadedFilePart], max_bytes: int) -> tuple[UploadedFilePart, UploadedFilePart]:
    _check_files(parts, max_bytes)
    heads = [p for p in parts if p.name.lower().endswith(".hea")]
    sigs = [p for p in parts if p.name.lower().endswith(_SIGNAL_SUFFIXES)]
    others = [p.name for p in parts if p not in heads and p not in sigs]
    if others:
        raise UploadError(f"unsupported file type: {', '.join(others)} — upload one ECG file "
                          f"({', '.join(FILE_SUFFIXES)}) or a WFDB header (.hea) and its signal file (.dat or .mat)")
    if len(heads) != 1 or len(sigs) != 1:
        raise UploadError(f"upload exactly one .hea header and one .dat/.mat signal file "
                          f"(got {len(heads)} header(s) and {len(sigs)} signal file(s))")
    return heads[0], sigs[0]


def _header_text(head: UploadedFilePart) -> str:
    try:
        text = head.data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = head.data.decode("latin-1")
        except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
            raise UploadError(f"{head.name} is not a text WFDB header") from exc
    if "\x00" in text:
        raise UploadError(f"{head.name} is not a text WFDB header (it holds binary data)")
    return text


def _referenced_signal_files(text: str) -> set[str]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise UploadError("the header is empty")
    first = lines[0].split()
    if "/" in first[0]:
        raise UploadError("multi-segment WFDB records are not supported; upload a single-segment record")
    try:
        n_sig = int(first[1])
    except (IndexError, ValueError) as exc:
        raise UploadError("the header's first line must be '<record> <number of signals> <fs> "
                          "<samples>'") from exc
    return {ln.split()[0] for ln in lines[1:1 + n_sig] if ln.split()}


def read_uploaded_record(parts: list[UploadedFilePart], max_bytes: int) -> ECGRecord:
    """Validate, store in a temporary directory and read one clinical ECG file or a .hea + .dat/.mat pair."""
    _check_files(parts, max_bytes)
    if len(parts) == 1 and Path(parts[0].name).suffix.lower() in FILE_SUFFIXES:
        return _read_single(parts[0])
    head, sig = _check_names(parts, max_bytes)
    text = _header_text(head)
    referenced = _referenced_signal_files(text)
    sig_name = Path(sig.name).name
    if referenced and referenced != {sig_name}:
        raise UploadError(f"the header refers to signal file(s) {', '.join(sorted(referenced))}, "
                          f"but {sig_name} was uploaded: upload the matching pair")
    record_name = text.split()[0]
    if not _SAFE_NAME.match(record_name):
        raise UploadError(f"the header's record name {record_name!r} is not allowed")
    with tempfile.TemporaryDirectory(prefix="protoecg_upload_") as tmp:
        Path(tmp, f"{record_name}.hea").write_text(text, encoding="utf-8")
        Path(tmp, sig_name).write_bytes(sig.data)
        try:
            return read_record(Path(tmp) / record_name)
        except ECGDataError:
            raise
        except Exception as exc:  # any reader failure becomes a readable message, never a traceback
            raise UploadError(f"could not read the uploaded record ({type(exc).__name__}: {exc})",
                              record=record_name) from exc


def _read_single(part: UploadedFilePart) -> ECGRecord:
    """One clinical-format file: its content decides the reader (a misnamed file still reads right)."""
    name = Path(part.name).name
    with tempfile.TemporaryDirectory(prefix="protoecg_upload_") as tmp:
        path = Path(tmp) / name
        path.write_bytes(part.data)
        try:
            return read_any(path)
        except ECGDataError:
            raise
        except Exception as exc:  # any reader failure becomes a readable message, never a traceback
            raise UploadError(f"could not read the uploaded file ({type(exc).__name__}: {exc})",
                              record=path.stem) from exc
