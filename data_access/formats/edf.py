"""EDF / EDF+ (European Data Format; Holter and telemetry exports, many research systems), read with edfio.

edfio (pure Python, numpy only, maintained; MNE-Python uses it to write EDF) is preferred over pyedflib
(a C extension) as the smaller runtime dependency; it validates the 256-byte header strictly and
returns physical values. Here: ECG channels are picked by label (``I``, ``ECG II``, ``EKG V1``, ``aVR``…;
other signals such as respiration or an annotation channel are ignored), every lead must share one
sampling rate, units come from each signal's physical dimension (``uV``/``mV``/``V``). EDF+ patient
fields give sex and age (birth date against the start date); annotations are kept as ``statements``.
"""
from __future__ import annotations

import warnings
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..errors import LeadError, MalformedFileError, SamplingRateError
from ..record import ECGRecord
from ._common import build_record, collect_leads, lead_name, parse_sex, unit_factor

_SKIP_ANNOTATIONS = {"recording starts", "recording ends"}


def read_edf(path: str | Path, **validate: Any) -> ECGRecord:
    """Read the ECG leads of an EDF/EDF+ file into a validated :class:`ECGRecord`."""
    import edfio

    path = Path(path)
    rid = path.stem
    try:
        with warnings.catch_warnings(record=True) as caught:     # edfio repairs cut files with a warning
            warnings.simplefilter("always")
            edf = edfio.read_edf(str(path))
    except (ValueError, OSError, IndexError, UnicodeDecodeError) as exc:
        raise MalformedFileError(f"not a readable EDF file ({type(exc).__name__}: {exc})", rid) from exc
    cut = [str(w.message) for w in caught if "data record" in str(w.message).lower()]
    if cut:
        raise MalformedFileError(f"not a readable EDF file: truncated ({'; '.join(cut)})", rid)
    labels = [s.label for s in edf.signals]
    ecg = [s for s in edf.signals if lead_name(s.label) is not None]
    if len(ecg) < 8:
        raise LeadError(f"the EDF file has {len(ecg)} recognisable ECG lead(s) among {len(labels)} signal(s) "
                        f"({', '.join(labels) or 'none'}); a 12-lead ECG (or I, II and V1-V6) is needed", rid)
    rates = {float(s.sampling_frequency) for s in ecg}
    if len(rates) > 1:
        raise SamplingRateError("ECG leads are sampled at different rates: "
                                + ", ".join(f"{s.label} {s.sampling_frequency:g} Hz" for s in ecg), rid)
    try:
        named = [(s.label, s.data * unit_factor(s.physical_dimension, s.label, rid, default="uV")) for s in ecg]
    except ValueError as exc:
        raise MalformedFileError(f"the EDF data records could not be decoded ({exc})", rid) from exc
    leads = collect_leads(named, rid)
    return build_record(rid, leads, rates.pop(), fmt="EDF", path=path, metadata=_metadata(edf), lead_names=labels,
                        **validate)


def _metadata(edf) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    start: date | None = None
    try:
        start = edf.startdate
        meta["acquisition_time"] = datetime.combine(start, edf.starttime).isoformat()
    except Exception:   # edfio raises its own AnonymizedDateError and ValueError for "X"/anonymised fields
        pass
    try:
        patient = edf.patient
        meta["sex"] = parse_sex(patient.sex)
        born = patient.birthdate
        if born and start:
            meta["age"] = start.year - born.year - ((start.month, start.day) < (born.month, born.day))
    except Exception:   # plain EDF (not EDF+) has free-text patient fields
        pass
    try:
        meta["statements"] = [a.text for a in edf.annotations if a.text and a.text.lower() not in _SKIP_ANNOTATIONS]
        meta["device"] = edf.recording.equipment_code if edf.recording.equipment_code != "X" else None
    except Exception:
        pass
    return meta
