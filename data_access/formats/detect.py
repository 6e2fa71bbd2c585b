"""Which ECG format a file holds, decided from its content (magic bytes, XML root tag), not its name.

A file named ``.xml`` may be any of three vendors' formats, DICOM files often have no extension at all,
and an upload's name is whatever the browser sent: only the bytes are trusted.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import MissingFileError, UnknownFormatError

FORMATS = ("wfdb", "muse", "philips", "aecg", "dicom", "edf")
FORMAT_NAMES = {"wfdb": "WFDB", "muse": "GE MUSE XML", "philips": "Philips Sierra XML", "aecg": "HL7 aECG",
                "dicom": "DICOM ECG waveform", "edf": "EDF/EDF+"}
XML_ROOTS = {"RestingECG": "muse", "restingecgdata": "philips", "AnnotatedECG": "aecg"}
# Suffixes a directory scan or an upload form offers (content still decides the format).
FILE_SUFFIXES = (".xml", ".dcm", ".dicom", ".edf")
WFDB_SUFFIXES = (".hea", ".dat", ".mat")
_SNIFF_BYTES = 64 * 1024
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>\[]*(?:\[.*?\])?\s*>)", re.S)
_ROOT = re.compile(rb"\s*<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")


def xml_root_tag(head: bytes) -> str | None:
    """Local name of the first element of an XML document's first bytes (prolog, comments, DOCTYPE skipped)."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    elif head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            head = head.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            return None
    pos = 0
    while (m := _PROLOG.match(head, pos)) is not None and m.end() > pos:
        pos = m.end()
    m = _ROOT.match(head, pos)
    return m.group(2).decode("ascii") if m else None


def _wfdb_base(path: Path) -> Path | None:
    base = path.with_suffix("") if path.suffix.lower() in WFDB_SUFFIXES else path
    return base if (base.parent / (base.name + ".hea")).is_file() else None


def detect_format(path: str | Path) -> str:
    """One of :data:`FORMATS`, or :class:`UnknownFormatError` saying what the file looked like."""
    path = Path(path)
    if _wfdb_base(path) is not None and (path.suffix.lower() in WFDB_SUFFIXES or not path.is_file()):
        return "wfdb"
    if not path.is_file():
        if path.suffix.lower() in ("",) + WFDB_SUFFIXES:
            return "wfdb"            # a WFDB record name: read_record says which of its files is missing
        raise MissingFileError(f"file {path} not found", record=path.stem)
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if len(head) >= 132 and head[128:132] == b"DICM":
        return "dicom"
    if head[:8] == b"0       ":
        return "edf"
    if head[:8] == b"\xffBIOSEMI":
        raise UnknownFormatError("this is a BDF (24-bit BioSemi) file; only EDF/EDF+ is supported", path.stem)
    root = xml_root_tag(head)
    if root is not None:
        fmt = XML_ROOTS.get(root)
        if fmt is None:
            raise UnknownFormatError(f"XML with root element <{root}> is not a known ECG format (expected "
                                     "<RestingECG> (GE MUSE), <restingecgdata> (Philips) or <AnnotatedECG> "
                                     "(HL7 aECG))", path.stem)
        return fmt
    if _wfdb_base(path) is not None:
        return "wfdb"
    kind = "empty" if not head else "not recognised"
    raise UnknownFormatError(f"file content {kind}: not WFDB, GE MUSE / Philips / HL7 aECG XML, DICOM or EDF",
                             path.stem)
