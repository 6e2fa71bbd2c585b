"""What every clinical-format reader shares: lead-name mapping, derived limb leads, unit factors,
safe XML parsing, and the one constructor of the validated :class:`~data_access.record.ECGRecord`."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LeadError, MalformedFileError, UnitsError
from ..leads import CANONICAL_LEADS, normalise_lead_name
from ..record import ECGRecord
from ..signal_checks import MIN_DURATION_S, validate_signal

# Sampling rates that resting-ECG carts and EDF exports use. Wider than the WFDB reader's default
# (100/500 Hz, the PTB-XL rates): every record reaches the model through the one anti-aliased resampler
# of data_access.preprocess, so any of these is safe.
FORMAT_FS: tuple[float, ...] = (100.0, 120.0, 125.0, 128.0, 200.0, 250.0, 256.0, 300.0, 360.0, 400.0,
                                500.0, 512.0, 600.0, 1000.0, 1024.0, 2000.0)
# Factor that converts a written amplitude unit to millivolts (case-insensitive keys).
UNIT_TO_MV: dict[str, float] = {
    "mv": 1.0, "millivolt": 1.0, "millivolts": 1.0,
    "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "microvolts": 1e-3,
    "nv": 1e-6, "nanovolt": 1e-6, "nanovolts": 1e-6,
    "v": 1e3, "volt": 1e3, "volts": 1e3,
}
LIMB_DERIVED = ("III", "aVR", "aVL", "aVF")
# Bounded so an upload cannot make the XML parser allocate without limit (defusedxml stops entity bombs).
MAX_XML_BYTES = 64 * 1024 * 1024


def unit_factor(unit: str | None, lead: str, record: str, default: str | None = None) -> float:
    """Millivolts per written unit, or :class:`UnitsError` naming the lead and the unit."""
    key = (unit if unit not in (None, "") else (default or "")).strip().lower()
    if key not in UNIT_TO_MV:
        raise UnitsError(f"lead {lead} is in unit {unit!r}; expected a voltage (mV, uV/microvolts or V)", record)
    return UNIT_TO_MV[key]


def lead_name(raw: str) -> str | None:
    """Canonical lead name from the spellings of the clinical formats, or ``None`` for a non-standard lead.

    ``MDC_ECG_LEAD_AVR`` (HL7 aECG), ``Lead I (Einthoven)`` and ``aVR, augmented voltage, right``
    (DICOM code meanings: older carts and the DICOM CID 3001 wording), ``ECG V1``/``EKG II``
    (EDF labels), ``aVR``/``AVR``/``avr``.
    """
    s = str(raw).strip()
    s = re.sub(r"\(.*?\)", "", s).split(",", 1)[0].strip()
    s = re.sub(r"^(MDC_ECG_LEAD_|ECG[ _-]*|EKG[ _-]*)", "", s, flags=re.IGNORECASE).strip()
    return normalise_lead_name(s)


def derive_limb_leads(leads: dict[str, np.ndarray], record: str) -> tuple[dict[str, np.ndarray], tuple[str, ...]]:
    """Fill in the limb leads an 8-lead export leaves out (I, II + V1-V6 is what carts store).

    Einthoven: III = II − I. Goldberger: aVR = −(I + II)/2, aVL = I − II/2, aVF = II − I/2. When I or II
    is the missing one and III is present, it comes from the other two first. Returns the completed
    leads and the names that were computed, in canonical order. Raises :class:`LeadError` when a
    missing lead cannot be derived.
    """
    out = dict(leads)
    derived: list[str] = []
    if "I" not in out and {"II", "III"} <= out.keys():
        out["I"] = out["II"] - out["III"]
        derived.append("I")
    if "II" not in out and {"I", "III"} <= out.keys():
        out["II"] = out["I"] + out["III"]
        derived.append("II")
    missing_limb = [lead for lead in LIMB_DERIVED if lead not in out]
    if missing_limb:
        if not {"I", "II"} <= out.keys():
            absent = [lead for lead in CANONICAL_LEADS if lead not in out]
            found = [lead for lead in CANONICAL_LEADS if lead in leads]
            raise LeadError(f"missing lead(s) {', '.join(absent)}; found {', '.join(found) or 'none'} (III, aVR, "
                            "aVL, aVF can be derived only when leads I and II are present)", record)
        i, ii = out["I"], out["II"]
        formulas = {"III": lambda: ii - i, "aVR": lambda: -(i + ii) / 2.0,
                    "aVL": lambda: i - ii / 2.0, "aVF": lambda: ii - i / 2.0}
        for lead in missing_limb:
            out[lead] = formulas[lead]()
            derived.append(lead)
    absent = [lead for lead in CANONICAL_LEADS if lead not in out]
    if absent:
        raise LeadError(f"missing lead(s) {', '.join(absent)}; found {', '.join(sorted(leads)) or 'none'} "
                        "(only the limb leads III, aVR, aVL, aVF can be derived)", record)
    return out, tuple(lead for lead in CANONICAL_LEADS if lead in derived)


def collect_leads(named: Sequence[tuple[str, np.ndarray]], record: str) -> dict[str, np.ndarray]:
    """Map ``(name as written, samples in mV)`` pairs to canonical names; non-ECG channels are dropped.

    Raises :class:`LeadError` for a lead written twice, and for channels of unequal length.
    """
    out: dict[str, np.ndarray] = {}
    for raw, samples in named:
        canon = lead_name(raw)
        if canon is None:
            continue
        if canon in out:
            raise LeadError(f"lead {canon} appears twice (as {raw!r})", record)
        out[canon] = np.asarray(samples, dtype=np.float64)
    lengths = {k: v.shape[0] for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise LeadError("leads have different numbers of samples: "
                        + ", ".join(f"{k} {n}" for k, n in lengths.items()), record)
    return out


def build_record(record_id: str, leads: Mapping[str, np.ndarray], fs: float, *, fmt: str, path: str | Path,
                 metadata: Mapping[str, Any] | None = None, lead_names: Sequence[str] = (),
                 supported_fs: Sequence[float] = FORMAT_FS, expected_fs: float | None = None,
                 min_duration_s: float = MIN_DURATION_S, allow_flat: bool = False) -> ECGRecord:
    """Derive missing limb leads, validate (12 leads, fs, length, NaN, flat) and wrap in an ECGRecord.

    ``metadata`` uses the keys every reader fills when the file carries them: ``age`` (years, int),
    ``sex`` (``M``/``F``), ``acquisition_time`` (ISO 8601 text), ``statements`` (the machine's own
    interpretation, list of str), ``intervals`` (``{name: ms}``), ``device``. ``format``, ``path``,
    ``lead_names`` (as written) and ``derived_leads`` are added here.
    """
    if not leads:
        raise LeadError("no ECG leads found in the file", record_id)
    full, derived = derive_limb_leads(dict(leads), record_id)
    sig = np.stack([full[lead] for lead in CANONICAL_LEADS])
    sig = validate_signal(sig, CANONICAL_LEADS, fs, record=record_id, min_duration_s=min_duration_s,
                          supported_fs=supported_fs, expected_fs=expected_fs, allow_flat=allow_flat)
    meta: dict[str, Any] = {k: v for k, v in (metadata or {}).items() if v not in (None, "", [], {})}
    meta.update({"format": fmt, "path": str(path), "lead_names": list(lead_names) or sorted(leads),
                 "derived_leads": list(derived), "units": ["mV"] * 12})
    return ECGRecord(record_id=record_id, signal=sig, fs=float(fs), metadata=meta, derived_leads=derived)


def parse_xml(path: Path, record: str):
    """Parse an XML file with defusedxml (no entity expansion, no external entities) → root Element.

    Truncated or otherwise broken XML raises :class:`MalformedFileError` with the parser's position.
    """
    from xml.etree.ElementTree import ParseError

    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    if path.stat().st_size > MAX_XML_BYTES:
        raise MalformedFileError(f"XML file is {path.stat().st_size / 1e6:.0f} MB; ECG exports are far "
                                 f"smaller (limit {MAX_XML_BYTES / 1e6:.0f} MB)", record)
    try:
        return DET.parse(str(path), forbid_dtd=False).getroot()
    except ParseError as exc:
        raise MalformedFileError(f"the XML is broken or truncated ({exc})", record) from exc
    except DefusedXmlException as exc:
        raise MalformedFileError(f"the XML uses entities or external references, which are refused "
                                 f"({type(exc).__name__})", record) from exc


def local(tag: str) -> str:
    """Tag name without its ``{namespace}``."""
    return tag.rsplit("}", 1)[-1]


def find(elem, *names: str):
    """First descendant path ``names[0]/names[1]/…`` matched on local tag names (namespace-agnostic)."""
    cur = elem
    for name in names:
        if cur is None:
            return None
        cur = next((c for c in cur if local(c.tag) == name), None)
    return cur


def find_all(elem, name: str) -> list:
    """All descendants (any depth) whose local tag name is ``name``."""
    return [e for e in elem.iter() if local(e.tag) == name]


def text(elem, *names: str) -> str | None:
    """Stripped text of ``find(elem, *names)``, or ``None``."""
    e = find(elem, *names) if names else elem
    if e is None or e.text is None:
        return None
    t = e.text.strip()
    return t or None


def parse_age(value: str | None, units: str | None = None) -> int | None:
    """Age in whole years from text such as ``42``, ``042Y`` (DICOM), ``6 months``; ``None`` if absent."""
    if not value:
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)", value)
    if not m:
        return None
    n = float(m.group(1))
    unit = (units or m.group(2) or "Y").strip().upper()[:1]
    per_year = {"Y": 1.0, "M": 12.0, "W": 52.0, "D": 365.0, "H": 8760.0}.get(unit, 1.0)
    return int(n // per_year)


def parse_sex(value: str | None) -> str | None:
    """``M``/``F`` from the spellings of the formats (``Male``, ``MALE``, ``F``, HL7 ``M``/``F``)."""
    if not value:
        return None
    v = value.strip().upper()
    if v.startswith("M"):
        return "M"
    if v.startswith("F") or v.startswith("W"):
        return "F"
    return None
