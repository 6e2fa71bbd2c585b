"""GE MUSE ``RestingECG`` XML (the export of the MUSE ECG management system and GE MAC carts).

Own reader (stdlib ElementTree through defusedxml): no maintained Python parser exists on PyPI that
returns calibrated signals with the cart's statements and intervals. Layout read here::

    RestingECG/PatientDemographics/{PatientAge, AgeUnits, Gender}
    RestingECG/TestDemographics/{AcquisitionDate (MM-DD-YYYY), AcquisitionTime, AcquisitionDevice}
    RestingECG/RestingECGMeasurements/{VentricularRate, PRInterval, QRSDuration, QTInterval, QTCorrected, ...}
    RestingECG/Diagnosis/DiagnosisStatement/StmtText          (the cart's or over-reader's statements)
    RestingECG/Waveform[WaveformType=Rhythm]/{SampleBase, SampleExponent}
        LeadData/{LeadID, LeadSampleCountTotal, LeadByteCountTotal, LeadSampleSize,
                  LeadAmplitudeUnitsPerBit, LeadAmplitudeUnits, WaveFormData (base64, little-endian int16)}

MUSE stores 8 leads (I, II, V1-V6); III, aVR, aVL, aVF are derived (the record's ``derived_leads``).
"""
from __future__ import annotations

import base64
import binascii
import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError
from ..record import ECGRecord
from ._common import build_record, collect_leads, find, find_all, local, parse_age, parse_sex, parse_xml, text, unit_factor

log = logging.getLogger(__name__)

ROOT_TAG = "RestingECG"
_INTERVALS = {"VentricularRate": "heart_rate_bpm", "AtrialRate": "atrial_rate_bpm", "PRInterval": "pr_ms",
              "QRSDuration": "qrs_ms", "QTInterval": "qt_ms", "QTCorrected": "qtc_ms", "PAxis": "p_axis_deg",
              "RAxis": "qrs_axis_deg", "TAxis": "t_axis_deg"}


def read_muse(path: str | Path, **validate: Any) -> ECGRecord:
    """Read a GE MUSE XML file into a validated :class:`ECGRecord` (rhythm waveform, mV, 12 leads)."""
    path = Path(path)
    rid = path.stem
    root = parse_xml(path, rid)
    if local(root.tag) != ROOT_TAG:
        raise MalformedFileError(f"not a GE MUSE file: the XML root is <{local(root.tag)}>, not <RestingECG>", rid)
    wave = next((w for w in find_all(root, "Waveform") if (text(w, "WaveformType") or "").lower() == "rhythm"), None)
    if wave is None:
        raise MalformedFileError("no rhythm waveform (<Waveform> with <WaveformType>Rhythm</WaveformType>) "
                                 "in the file; median beats alone cannot be analysed", rid)
    fs = _sampling_rate(wave, rid)
    named, raw_names = [], []
    for lead in find_all(wave, "LeadData"):
        name = text(lead, "LeadID") or "?"
        raw_names.append(name)
        named.append((name, _decode_lead(lead, name, rid)))
    if not named:
        raise MalformedFileError("the rhythm waveform has no <LeadData> elements", rid)
    leads = collect_leads(named, rid)
    return build_record(rid, leads, fs, fmt="GE MUSE XML", path=path, metadata=_metadata(root),
                        lead_names=raw_names, **validate)


def _sampling_rate(wave, rid: str) -> float:
    base = text(wave, "SampleBase")
    if base is None:
        raise MalformedFileError("the rhythm waveform has no <SampleBase> (sampling rate)", rid)
    try:
        return float(base) * 10.0 ** float(text(wave, "SampleExponent") or 0)
    except ValueError as exc:
        raise MalformedFileError(f"unreadable sampling rate <SampleBase>{base}</SampleBase>", rid) from exc


def _decode_lead(lead, name: str, rid: str) -> np.ndarray:
    data = "".join((text(lead, "WaveFormData") or "").split())
    if not data:
        raise MalformedFileError(f"lead {name} has no <WaveFormData>", rid)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedFileError(f"lead {name}: <WaveFormData> is not valid base64 ({exc})", rid) from exc
    size = int(text(lead, "LeadSampleSize") or 2)
    if size != 2:
        raise MalformedFileError(f"lead {name}: {size}-byte samples; MUSE writes 2-byte samples", rid)
    n_declared = text(lead, "LeadSampleCountTotal")
    if n_declared is not None and len(raw) != int(n_declared) * size:
        raise MalformedFileError(f"lead {name}: <WaveFormData> holds {len(raw) // size} samples but "
                                 f"<LeadSampleCountTotal> declares {n_declared} (truncated or corrupt)", rid)
    if len(raw) % size:
        raise MalformedFileError(f"lead {name}: {len(raw)} bytes of waveform data is not a whole number "
                                 "of 16-bit samples", rid)
    n_bytes = text(lead, "LeadByteCountTotal")
    if n_bytes is not None and n_bytes.isdigit() and int(n_bytes) != len(raw):
        raise MalformedFileError(f"lead {name}: <WaveFormData> holds {len(raw)} bytes but <LeadByteCountTotal> "
                                 f"declares {n_bytes} (truncated or corrupt)", rid)
    _check_crc(text(lead, "LeadDataCRC32"), raw, name, rid)
    per_bit = text(lead, "LeadAmplitudeUnitsPerBit")
    if per_bit is None:
        raise MalformedFileError(f"lead {name} has no <LeadAmplitudeUnitsPerBit> (calibration)", rid)
    factor = float(per_bit) * unit_factor(text(lead, "LeadAmplitudeUnits"), name, rid)
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) * factor


def _check_crc(crc: str | None, raw: bytes, name: str, rid: str) -> None:
    """``<LeadDataCRC32>`` is the CRC-32 (zlib's) of the decoded sample bytes, written unsigned in decimal.

    A MUSE 9 export (the vendored real sample) matches on every lead, median and rhythm. ``0`` means the
    writer did not compute one (converters write it as a placeholder) and is not checked; any other
    mismatch means the samples were altered after the cart wrote them, and the file is refused.
    """
    if crc is None or not crc.lstrip("-").isdigit():
        return
    if int(crc) == 0:
        log.debug("%s: lead %s: <LeadDataCRC32> is 0 (not computed by the writer); not checked", rid, name)
        return
    actual = zlib.crc32(raw) & 0xFFFFFFFF
    if actual != int(crc) & 0xFFFFFFFF:
        raise MalformedFileError(f"lead {name}: the waveform data fails its checksum (<LeadDataCRC32> {crc}, "
                                 f"data {actual}): corrupt or edited after export", rid)


def _metadata(root) -> dict[str, Any]:
    demo, test = find(root, "PatientDemographics"), find(root, "TestDemographics")
    meta: dict[str, Any] = {}
    if demo is not None:
        meta["age"] = parse_age(text(demo, "PatientAge"), text(demo, "AgeUnits"))
        meta["sex"] = parse_sex(text(demo, "Gender"))
    if test is not None:
        meta["acquisition_time"] = _iso(text(test, "AcquisitionDate"), text(test, "AcquisitionTime"))
        meta["device"] = text(test, "AcquisitionDevice")
    meas = find(root, "RestingECGMeasurements")
    if meas is not None:
        ivals = {}
        for tag, key in _INTERVALS.items():
            v = text(meas, tag)
            if v is not None and v.lstrip("-").replace(".", "", 1).isdigit():
                ivals[key] = float(v)
        meta["intervals"] = ivals
    diag = find(root, "Diagnosis")
    if diag is not None:
        meta["statements"] = [t for s in find_all(diag, "DiagnosisStatement") if (t := text(s, "StmtText"))]
    return meta


def _iso(date: str | None, time: str | None) -> str | None:
    """MUSE writes ``MM-DD-YYYY`` and ``HH:MM:SS``."""
    if not date:
        return None
    parts = date.replace("/", "-").split("-")
    if len(parts) == 3 and len(parts[2]) == 4:
        date = f"{parts[2]}-{parts[0]:0>2}-{parts[1]:0>2}"
    return f"{date}T{time}" if time else date
