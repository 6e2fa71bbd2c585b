"""Philips Sierra ECG XML (``restingecgdata``, versions 1.03 / 1.04 / 1.04.01; PageWriter, HeartStart).

The XML is read here (defusedxml); XLI-compressed waveforms are decompressed with ``sierraecg``
(Christopher Watford's reference implementation of the format, MIT), whose ``xli_decode`` is the
maintained decoder of this undocumented LZW + second-difference scheme. Layout::

    restingecgdata/documentinfo/{documenttype (SierraECG|PhilipsECG), documentversion}
    restingecgdata/dataacquisition[@date, @time]/machine
        signalcharacteristics/{samplingrate, signalresolution (µV per LSB), numberchannelsallocated}
    restingecgdata/patient/generalpatientdata/{age/years, sex}
    restingecgdata/interpretations/interpretation/statement/{leftstatement, rightstatement}
    restingecgdata/measurements/globalmeasurements/{meanventrate, meanprint, meanqrsdur, meanqtint, meanqtc}
    restingecgdata/waveforms/parsedwaveforms[@dataencoding=Base64|Plain, @compressflag, @compressmethod=XLI,
                                             @durationperchannel (ms), @leadlabels]

XLI stores III, aVR, aVL, aVF as residuals of the other limb leads; they are reconstructed exactly as
the reference implementation does. Uncompressed data are lead after lead, little-endian int16.

Carts may end the parsed waveforms with a calibration pattern, the same samples on every lead (the real
HeartStart MRx file in the tests: 0.47 s of zeros around a 0.2 s, 1 mV pulse, after 10.53 s of ECG).
It is not ECG: the trailing run where all leads are equal sample for sample (20 ms or longer) is cut off
and its length recorded as ``calibration_trimmed_s``; what is left must still be 10 s long.
"""
from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError
from ..record import ECGRecord
from ._common import (build_record, collect_leads, find, find_all, local, parse_age, parse_sex, parse_xml,
                      text)

ROOT_TAG = "restingecgdata"
_VERSIONS = ("1.03", "1.04", "1.04.01")
_STD12 = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
_INTERVALS = {"meanventrate": "heart_rate_bpm", "atrialrate": "atrial_rate_bpm", "meanprint": "pr_ms",
              "meanqrsdur": "qrs_ms", "meanqtint": "qt_ms", "meanqtc": "qtc_ms", "pfrontaxis": "p_axis_deg",
              "qrsfrontaxis": "qrs_axis_deg", "tfrontaxis": "t_axis_deg"}


def read_philips(path: str | Path, **validate: Any) -> ECGRecord:
    """Read a Philips Sierra ECG XML file into a validated :class:`ECGRecord`."""
    path = Path(path)
    rid = path.stem
    root = parse_xml(path, rid)
    if local(root.tag) != ROOT_TAG:
        raise MalformedFileError(f"not a Philips ECG file: the XML root is <{local(root.tag)}>", rid)
    version = text(root, "documentinfo", "documentversion")
    if version not in _VERSIONS:
        raise MalformedFileError(f"Philips XML version {version!r} is not supported (1.03, 1.04, 1.04.01)", rid)
    sig = find(root, "dataacquisition", "signalcharacteristics")
    if sig is None:
        raise MalformedFileError("no <dataacquisition>/<signalcharacteristics> (sampling rate, resolution)", rid)
    fs = _number(text(sig, "samplingrate"), "samplingrate", rid)
    res_uv = _number(text(sig, "signalresolution") or text(sig, "resolution"), "signalresolution", rid)
    pw = next(iter(find_all(root, "parsedwaveforms")), None)
    if pw is None:
        raise MalformedFileError("no <parsedwaveforms> element: the file carries no rhythm data", rid)
    labels = _labels(pw, sig)
    ints, n_cal = _trim_calibration(_decode(pw, labels, fs, rid), fs)
    named = [(lab, ints[i].astype(np.float64) * res_uv * 1e-3) for i, lab in enumerate(labels) if i < len(ints)]
    leads = collect_leads(named, rid)
    meta = _metadata(root)
    if n_cal:
        meta["calibration_trimmed_s"] = round(n_cal / fs, 4)
    return build_record(rid, leads, fs, fmt=f"Philips Sierra XML {version}", path=path,
                        metadata=meta, lead_names=labels, **validate)


# A shorter run of identical samples on all leads could be chance (a flat stretch of an ECG never is 20 ms
# long on 12 leads at once, but two or three samples can be).
_MIN_CALIBRATION_S = 0.02


def _trim_calibration(ints: list[np.ndarray], fs: float) -> tuple[list[np.ndarray], int]:
    """Cut the trailing samples that are identical on every lead (calibration pulse, padding)."""
    if len(ints) < 2 or len({x.size for x in ints}) != 1 or ints[0].size == 0:
        return ints, 0
    stack = np.stack(ints)
    same = np.all(stack == stack[0], axis=0)
    differs = np.flatnonzero(~same)
    n_tail = stack.shape[1] - (differs[-1] + 1 if differs.size else 0)
    if n_tail < _MIN_CALIBRATION_S * fs or n_tail == stack.shape[1]:
        return ints, 0
    return [x[:-n_tail] for x in ints], int(n_tail)


def _number(value: str | None, tag: str, rid: str) -> float:
    if value is None:
        raise MalformedFileError(f"missing <{tag}>", rid)
    try:
        return float(value)
    except ValueError as exc:
        raise MalformedFileError(f"unreadable <{tag}>{value}</{tag}>", rid) from exc


def _labels(pw, sig) -> list[str]:
    written = (pw.get("leadlabels") or "").split()
    n = int(pw.get("numberofleads") or text(sig, "numberchannelsallocated") or len(written) or 12)
    return written[:n] if written else list(_STD12[:n])


def _decode(pw, labels: list[str], fs: float, rid: str) -> list[np.ndarray]:
    encoding = (pw.get("dataencoding") or "Base64").strip()
    body = pw.text or ""
    compressed = (pw.get("compressflag") or "").strip().lower() == "true" or \
        (pw.get("compressmethod") or pw.get("compression") or "").upper() == "XLI"
    duration_ms = pw.get("durationperchannel")
    n = int(round(float(duration_ms) * fs / 1000.0)) if duration_ms else None
    if encoding == "Plain":
        try:
            flat = np.array(body.split(), dtype=np.int64)
        except ValueError as exc:
            raise MalformedFileError(f"<parsedwaveforms> Plain data holds a non-integer ({exc})", rid) from exc
        return _split(flat, len(labels), n, rid)
    if encoding != "Base64":
        raise MalformedFileError(f"waveform encoding {encoding!r} is not supported (Base64, Plain)", rid)
    try:
        raw = base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedFileError(f"<parsedwaveforms> is not valid base64 ({exc})", rid) from exc
    if not raw:
        raise MalformedFileError("<parsedwaveforms> is empty", rid)
    if not compressed:
        if len(raw) % 2:
            raise MalformedFileError("uncompressed waveform data is not a whole number of 16-bit samples", rid)
        return _split(np.frombuffer(raw, dtype="<i2").astype(np.int64), len(labels), n, rid)
    return _xli(raw, labels, n, rid)


def _split(flat: np.ndarray, n_leads: int, n: int | None, rid: str) -> list[np.ndarray]:
    per = n if n else flat.size // max(n_leads, 1)
    if flat.size < per * n_leads:
        raise MalformedFileError(f"waveform data holds {flat.size} samples; {n_leads} leads × {per} expected "
                                 "(truncated)", rid)
    return [flat[i * per:(i + 1) * per] for i in range(n_leads)]


def _xli(raw: bytes, labels: list[str], n: int | None, rid: str) -> list[np.ndarray]:
    from sierraecg.xli import xli_decode

    _check_xli_chunks(raw, rid)
    try:
        leads = [np.asarray(x, dtype=np.int64) for x in xli_decode(raw, labels)]
    except (IndexError, ValueError, KeyError, OverflowError) as exc:
        raise MalformedFileError(f"XLI-compressed waveform data could not be decompressed ({type(exc).__name__})",
                                 rid) from exc
    if len(leads) < len(labels):
        raise MalformedFileError(f"XLI data holds {len(leads)} leads; {len(labels)} declared (truncated)", rid)
    leads = leads[:len(labels)]
    if n:
        short = [labels[i] for i, x in enumerate(leads) if x.size < n]
        if short:
            raise MalformedFileError(f"XLI lead(s) {', '.join(short)} hold fewer than the {n} samples "
                                     "declared by durationperchannel (truncated)", rid)
        leads = [x[:n] for x in leads]
    if [lab for lab in labels[:6]] == list(_STD12[:6]):
        i, ii, iii, avr, avl, avf = leads[:6]
        iii = ii - i - iii                          # residuals → leads, as the reference decoder does
        avr = -avr - np.floor_divide(i + ii, 2)
        avl = np.floor_divide(i - iii, 2) - avl
        avf = np.floor_divide(ii + iii, 2) - avf
        leads[2:6] = [iii, avr, avl, avf]
    return leads


def _check_xli_chunks(raw: bytes, rid: str) -> None:
    """Walk the chunk headers (int32 size, 2 bytes, int16 first value): a cut file ends inside a chunk."""
    offset, k = 0, 0
    while offset < len(raw):
        if offset + 8 > len(raw):
            raise MalformedFileError(f"XLI data ends inside the header of chunk {k + 1} (truncated)", rid)
        size = int.from_bytes(raw[offset:offset + 4], "little", signed=True)
        if size <= 0 or offset + 8 + size > len(raw):
            raise MalformedFileError(f"XLI chunk {k + 1} declares {size} bytes but {len(raw) - offset - 8} "
                                     "remain (truncated or corrupt)", rid)
        offset, k = offset + 8 + size, k + 1


def _metadata(root) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    acq = find(root, "dataacquisition")
    if acq is not None:
        date, time = acq.get("date"), acq.get("time")
        meta["acquisition_time"] = f"{date}T{time}" if date and time else date
        meta["device"] = text(acq, "machine")
    gp = find(root, "patient", "generalpatientdata")
    if gp is not None:
        age = find(gp, "age")
        years = text(age, "years") if age is not None else None
        meta["age"] = parse_age(years)
        meta["sex"] = parse_sex(text(gp, "sex"))
    stmts = []
    for st in find_all(root, "statement"):
        left, right = text(st, "leftstatement"), text(st, "rightstatement")
        line = " ".join(x for x in (left, right) if x)
        if line:
            stmts.append(line)
    meta["statements"] = stmts
    gm = next(iter(find_all(root, "globalmeasurements")), None)
    if gm is not None:
        ivals = {}
        for tag, key in _INTERVALS.items():
            v = text(gm, tag)
            if v is not None and v.lstrip("-").isdigit():
                ivals[key] = float(v)
        meta["intervals"] = ivals
    return meta
