"""HL7 v3 Annotated ECG (aECG, the FDA's submission format; also exported by Mortara, Schiller, GE).

Own reader (defusedxml): the only Python package for the format pulls in lxml and pandas for what is a
few element look-ups. Layout (HL7 aECG Implementation Guide, 2005), namespace ``urn:hl7-org:v3``::

    AnnotatedECG/effectiveTime/{low|center}[@value]                      acquisition time (YYYYMMDDhhmmss)
    .../subjectDemographicPerson/{administrativeGenderCode[@code], birthTime[@value]}
    AnnotatedECG/component/series[code=RHYTHM]/component/sequenceSet/component/sequence:
        code=TIME_ABSOLUTE|TIME_RELATIVE, value[GLIST]/increment[@value, @unit]   sampling interval
        code=MDC_ECG_LEAD_*, value[SLIST_PQ]/{origin, scale}[@value, @unit], digits   samples
    .../annotationSet//annotation: MDC_ECG_INTERPRETATION_STATEMENT (text), MDC_ECG_RHY (value
        @displayName, e.g. "Sinus Rhythm"), MDC_ECG_HEART_RATE,
        MDC_ECG_TIME_PD_PR / _QRS / _QT / _QTc (value[@value, @unit])

A sample is ``origin + scale × digit`` in the unit of ``scale`` (usually µV).
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MalformedFileError
from ..record import ECGRecord
from ._common import (build_record, collect_leads, find, find_all, local, parse_sex, parse_xml, text,
                      unit_factor)

ROOT_TAG = "AnnotatedECG"
_SECONDS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
_ANNOTATIONS = {"MDC_ECG_HEART_RATE": "heart_rate_bpm", "MDC_ECG_TIME_PD_PR": "pr_ms",
                "MDC_ECG_TIME_PD_QRS": "qrs_ms", "MDC_ECG_TIME_PD_QT": "qt_ms", "MDC_ECG_TIME_PD_QTc": "qtc_ms",
                "MDC_ECG_TIME_PD_QTcB": "qtc_ms", "MDC_ECG_ANGLE_P_FRONT": "p_axis_deg",
                "MDC_ECG_ANGLE_QRS_FRONT": "qrs_axis_deg", "MDC_ECG_ANGLE_T_FRONT": "t_axis_deg"}


def read_aecg(path: str | Path, **validate: Any) -> ECGRecord:
    """Read an HL7 aECG XML file (its rhythm series) into a validated :class:`ECGRecord`."""
    path = Path(path)
    rid = path.stem
    root = parse_xml(path, rid)
    if local(root.tag) != ROOT_TAG:
        raise MalformedFileError(f"not an HL7 aECG file: the XML root is <{local(root.tag)}>", rid)
    series = find_all(root, "series")
    if not series:
        raise MalformedFileError("no <series> element: the file carries no waveform", rid)
    rhythm = next((s for s in series if (_code(s) or "").upper() == "RHYTHM"), series[0])
    seq_set = next(iter(find_all(rhythm, "sequenceSet")), None)
    if seq_set is None:
        raise MalformedFileError("the rhythm <series> has no <sequenceSet>", rid)
    fs, named, raw_names = None, [], []
    for seq in find_all(seq_set, "sequence"):
        code = _code(seq) or ""
        value = find(seq, "value")
        if value is None:
            continue
        if code.startswith("TIME_"):
            fs = _fs(value, rid)
        elif code.startswith("MDC_ECG_LEAD_"):
            raw_names.append(code)
            named.append((code, _samples(value, code, rid)))
    if fs is None:
        raise MalformedFileError("no TIME_ABSOLUTE/TIME_RELATIVE sequence with an <increment>: the sampling "
                                 "rate is unknown", rid)
    if not named:
        raise MalformedFileError("the rhythm sequence set holds no MDC_ECG_LEAD_* sequences", rid)
    leads = collect_leads(named, rid)
    return build_record(rid, leads, fs, fmt="HL7 aECG", path=path, metadata=_metadata(root), lead_names=raw_names,
                        **validate)


def _code(elem) -> str | None:
    c = find(elem, "code")
    return None if c is None else c.get("code")


def _fs(value, rid: str) -> float:
    inc = find(value, "increment")
    if inc is None or inc.get("value") is None:
        raise MalformedFileError("the time sequence has no <increment value=...>", rid)
    unit = (inc.get("unit") or "s").strip()
    if unit not in _SECONDS:
        raise MalformedFileError(f"sampling increment in unit {unit!r}; expected s or ms", rid)
    try:
        step = float(inc.get("value")) * _SECONDS[unit]
    except ValueError as exc:
        raise MalformedFileError(f"unreadable sampling increment {inc.get('value')!r}", rid) from exc
    if step <= 0:
        raise MalformedFileError(f"sampling increment {step} s is not positive", rid)
    return round(1.0 / step, 6)


def _samples(value, lead: str, rid: str) -> np.ndarray:
    digits = text(value, "digits")
    if digits is None:
        raise MalformedFileError(f"lead {lead} has no <digits>", rid)
    try:
        d = np.array(digits.split(), dtype=np.float64)
    except ValueError as exc:
        raise MalformedFileError(f"lead {lead}: <digits> holds a non-number ({exc})", rid) from exc
    scale, origin = find(value, "scale"), find(value, "origin")
    if scale is None or scale.get("value") is None:
        raise MalformedFileError(f"lead {lead} has no <scale> (calibration)", rid)
    mv = unit_factor(scale.get("unit"), lead, rid)
    o_val = float(origin.get("value")) if origin is not None and origin.get("value") else 0.0
    o_mv = unit_factor(origin.get("unit"), lead, rid, default=scale.get("unit")) if origin is not None else mv
    return (o_val * o_mv) + d * float(scale.get("value")) * mv


def _ts(value: str | None) -> datetime | None:
    """HL7 TS values: ``YYYYMMDD[hhmm[ss[.fff]]][+zzzz]``."""
    m = re.match(r"\d{8,14}", value or "")
    if not m:
        return None
    digits = m.group(0)
    for fmt, n in (("%Y%m%d%H%M%S", 14), ("%Y%m%d%H%M", 12), ("%Y%m%d", 8)):
        if len(digits) >= n:
            try:
                return datetime.strptime(digits[:n], fmt)
            except ValueError:
                return None
    return None


def _metadata(root) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    when = find(root, "effectiveTime", "low")
    if when is None:                                 # a single time point (the FDA's minimal example)
        when = find(root, "effectiveTime", "center")
    acq = _ts(when.get("value") if when is not None else None)
    meta["acquisition_time"] = acq.isoformat() if acq else None
    person = next(iter(find_all(root, "subjectDemographicPerson")), None)
    if person is not None:
        g = find(person, "administrativeGenderCode")
        meta["sex"] = parse_sex(g.get("code") if g is not None else None)
        b = find(person, "birthTime")
        born = _ts(b.get("value") if b is not None else None)
        if born and acq:
            meta["age"] = acq.year - born.year - ((acq.month, acq.day) < (born.month, born.day))
    statements, ivals = [], {}
    for ann in find_all(root, "annotation"):
        code = _code(ann) or ""
        val = find(ann, "value")
        if val is None:
            continue
        if code.startswith("MDC_ECG_INTERPRETATION"):
            t = (val.text or val.get("value") or "").strip()
            if t and t not in statements:
                statements.append(t)
        elif code == "MDC_ECG_RHY":                  # the cart's rhythm call, a coded value (Mortara ELI)
            t = (val.get("displayName") or val.get("code") or "").strip()
            if t and t not in statements:
                statements.append(t)
        elif code in _ANNOTATIONS and val.get("value") is not None:
            try:
                ivals.setdefault(_ANNOTATIONS[code], float(val.get("value")))
            except ValueError:
                continue
    meta["statements"], meta["intervals"] = statements, ivals
    dev = next(iter(find_all(root, "manufacturerModelName")), None)
    meta["device"] = text(dev) if dev is not None else None
    return meta
