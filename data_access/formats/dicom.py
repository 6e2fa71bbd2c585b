"""DICOM 12-lead ECG Waveform Storage (and General ECG Waveform Storage) objects, read with pydicom.

pydicom is the maintained DICOM library for Python; its ``Dataset.waveform_array`` applies each
channel's sensitivity, correction factor and baseline, so only the units (``ChannelSensitivityUnits``,
UCUM ``uV``/``mV``) and lead names (``ChannelSourceSequence`` code meanings such as ``Lead I (Einthoven)``)
are interpreted here. The first multiplex group labelled RHYTHM (else the first group) is read.
Annotations carry the cart's statements (``UnformattedTextValue``) and measurements
(``ConceptNameCodeSequence`` + ``NumericValue``: RR, PR, QRS, QT, QTc, axes).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError
from ..record import ECGRecord
from ._common import build_record, collect_leads, lead_name, parse_age, parse_sex, unit_factor

ECG_SOP_CLASSES = {"1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG Waveform Storage",
                   "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG Waveform Storage"}
# Measurement code meanings, lower case, a trailing " global" dropped (the MDC wording that DICOM
# converters such as ecg2dcm write: "PR interval global", "QTc interval global").
_MEASURES = {"rr interval": "rr_ms", "pr interval": "pr_ms", "qrs duration": "qrs_ms", "qt interval": "qt_ms",
             "qtc interval": "qtc_ms", "p axis": "p_axis_deg", "qrs axis": "qrs_axis_deg", "t axis": "t_axis_deg",
             "ventricular heart rate": "heart_rate_bpm", "heart rate": "heart_rate_bpm",
             "atrial heart rate": "atrial_rate_bpm"}
# Lead codes shared by the MDC (``2:N``) and SCP-ECG (``5.6.3-9-N``) schemes of DICOM CID 3001: the code
# names the lead even where a writer's code meaning is worded in a way not seen before.
_LEAD_CODES = {1: "I", 2: "II", 3: "V1", 4: "V2", 5: "V3", 6: "V4", 7: "V5", 8: "V6",
               61: "III", 62: "aVR", 63: "aVL", 64: "aVF"}


def read_dicom(path: str | Path, **validate: Any) -> ECGRecord:
    """Read a DICOM ECG waveform object into a validated :class:`ECGRecord`."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    rid = path.stem
    try:
        ds = pydicom.dcmread(str(path))
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise MalformedFileError(f"not a readable DICOM file ({type(exc).__name__}: {exc})", rid) from exc
    groups = ds.get("WaveformSequence")
    if not groups:
        sop = str(ds.get("SOPClassUID", "?"))
        what = getattr(ds.get("SOPClassUID"), "name", sop)
        raise MalformedFileError(f"the DICOM object ({what}, modality {ds.get('Modality', '?')}) holds no "
                                 "waveform (no WaveformSequence)", rid)
    index = next((i for i, g in enumerate(groups) if str(g.get("MultiplexGroupLabel", "")).upper() == "RHYTHM"), 0)
    group = groups[index]
    try:
        arr = np.asarray(ds.waveform_array(index), dtype=np.float64)     # (samples, channels)
    except (ValueError, KeyError, AttributeError, TypeError) as exc:
        raise MalformedFileError(f"the waveform data could not be decoded ({type(exc).__name__}: {exc})", rid) from exc
    channels = group.get("ChannelDefinitionSequence") or []
    if arr.ndim != 2 or arr.shape[1] != len(channels):
        raise MalformedFileError(f"waveform of shape {arr.shape} does not match {len(channels)} channel "
                                 "definitions", rid)
    named, raw_names = [], []
    for c, ch in enumerate(channels):
        src = (ch.get("ChannelSourceSequence") or [None])[0]
        name = str(src.get("CodeMeaning", "")) if src is not None else f"channel {c + 1}"
        if src is not None and lead_name(name) is None:
            name = _lead_from_code(src) or name
        raw_names.append(name)
        units_seq = ch.get("ChannelSensitivityUnitsSequence")
        unit = str(units_seq[0].get("CodeValue", "")) if units_seq else None
        named.append((name, arr[:, c] * unit_factor(unit, name, rid, default="uV")))
    leads = collect_leads(named, rid)
    fs = float(group.get("SamplingFrequency", 0) or 0)
    if fs <= 0:
        raise MalformedFileError("the waveform has no SamplingFrequency", rid)
    return build_record(rid, leads, fs, fmt=f"DICOM {ECG_SOP_CLASSES.get(str(ds.get('SOPClassUID', '')), 'waveform')}",
                        path=path, metadata=_metadata(ds), lead_names=raw_names, **validate)


def _metadata(ds) -> dict[str, Any]:
    meta: dict[str, Any] = {"age": parse_age(str(ds.get("PatientAge", "") or "")),
                            "sex": parse_sex(str(ds.get("PatientSex", "") or ""))}
    acq = str(ds.get("AcquisitionDateTime", "") or "")
    if len(acq) >= 8:
        t = acq[8:14]
        meta["acquisition_time"] = f"{acq[:4]}-{acq[4:6]}-{acq[6:8]}" + (
            f"T{t[:2]}:{t[2:4]}:{t[4:6]}" if len(t) == 6 else "")
    dev = " ".join(str(ds.get(k, "") or "") for k in ("Manufacturer", "ManufacturerModelName")).strip()
    meta["device"] = dev or None
    statements, ivals = [], {}
    for ann in ds.get("WaveformAnnotationSequence") or []:
        txt = ann.get("UnformattedTextValue")
        if txt:
            statements.append(str(txt).strip())
            continue
        names = ann.get("ConceptNameCodeSequence")
        value = ann.get("NumericValue")
        if names and value is not None:
            meaning = str(names[0].get("CodeMeaning", "")).strip().lower().removesuffix(" global")
            key = _MEASURES.get(meaning)
            if key:
                try:
                    ivals.setdefault(key, float(value))
                except (TypeError, ValueError):
                    continue
    meta["statements"], meta["intervals"] = statements, ivals
    return meta


def _lead_from_code(src) -> str | None:
    """Canonical lead from an MDC ``2:N`` or SCP-ECG ``5.6.3-9-N`` channel source code, else ``None``."""
    scheme, code = str(src.get("CodingSchemeDesignator", "")).upper(), str(src.get("CodeValue", ""))
    prefix = {"MDC": "2:", "SCPECG": "5.6.3-9-"}.get(scheme)
    if prefix is None or not code.startswith(prefix) or not code[len(prefix):].isdigit():
        return None
    return _LEAD_CODES.get(int(code[len(prefix):]))
