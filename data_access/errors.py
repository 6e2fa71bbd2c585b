"""Typed exceptions for bad ECG input.

Every error carries the record it concerns (when known) and a message a clinician-researcher can act on.
Batch loaders catch :class:`ECGDataError` per record, list the record with ``err.reason`` as its reason,
and go on with the rest.

The root of every error the project raises on purpose is :class:`ProtoECGError`; it lives here because
``data_access`` is the bottom floor (it imports nothing of the project) and is re-exported as
``protoecg.errors.ProtoECGError``. Only errors about ECG records and their metadata derive from
:class:`ECGDataError`; configuration, bundle, explanation, analysis and ratings errors derive from the root
directly (see ``protoecg.errors``). Every error takes ``(message, record=None)`` and keeps ``err.reason``.

Hierarchy (catch the base class to handle any of them)::

    ProtoECGError                root: any error protoecg raises for a reason it can explain
    └── ECGDataError             (LeadError, SamplingRateError, RecordLengthError, SignalQualityError
        │                         are also ValueError: a bad value in an array as much as in a file)
        ├── RecordReadError      file missing / unreadable / corrupt
        │   ├── MissingFileError     a header or signal file does not exist
        │   ├── HeaderError          the .hea header cannot be parsed
        │   ├── TruncatedRecordError the signal file holds fewer samples than its header declares
        │   ├── UnknownFormatError   the content is none of the ECG formats the readers know
        │   └── MalformedFileError   a known format (XML, DICOM, EDF) whose content is broken or incomplete
        ├── LeadError                missing, misnamed, duplicated leads, or not exactly 12
        ├── SamplingRateError        unsupported fs, or fs differs from what the caller asked for
        ├── RecordLengthError        too short, or the signal length disagrees with the header
        ├── SignalQualityError       NaN samples, flat leads
        │   └── UnitsError           physical units that cannot be converted to millivolts
        └── MetadataError            a malformed metadata table, column or cell
"""
from __future__ import annotations


class ProtoECGError(Exception):
    """Root of every error the project raises on purpose: the message says what is wrong and what to do.

    ``record`` (when known) names the record or file concerned and prefixes the message; ``reason`` is
    the message without it (what batch jobs list next to a skipped record). Subclasses may add a builtin
    parent (``ValueError``, ``FileNotFoundError``...) so that older ``except`` clauses keep working.
    """

    def __init__(self, message: str, record: str | None = None) -> None:
        self.record = record
        self.reason = message
        super().__init__(f"{record}: {message}" if record else message)


class ECGDataError(ProtoECGError):
    """Base class for any problem with an ECG record or its metadata."""


class RecordReadError(ECGDataError):
    """The file could not be read: missing, truncated, corrupt, or an unparseable header."""


class MissingFileError(RecordReadError):
    """A header or signal file named by a table or a header does not exist."""


class HeaderError(RecordReadError):
    """The WFDB header (``.hea``) cannot be parsed."""


class TruncatedRecordError(RecordReadError):
    """The signal file is shorter than its header says (an interrupted copy or download)."""


class UnknownFormatError(RecordReadError):
    """The file's content is not one of the ECG formats :func:`data_access.formats.read_any` knows."""


class MalformedFileError(RecordReadError):
    """A file of a known format (MUSE/Philips/aECG XML, DICOM, EDF) is broken: bad XML, undecodable
    waveform data, a missing required element, or no waveform at all."""


class LeadError(ECGDataError, ValueError):
    """Leads are missing, misnamed, duplicated, or there are not exactly 12."""


class SamplingRateError(ECGDataError, ValueError):
    """The sampling frequency is not one this pipeline supports, or not the one requested."""


class RecordLengthError(ECGDataError, ValueError):
    """The record is too short (or its length disagrees with its header)."""


class SignalQualityError(ECGDataError, ValueError):
    """The signal contains NaNs, a flat lead, or other values that make it unusable."""


class UnitsError(SignalQualityError):
    """The header's physical units are not a voltage that can be converted to millivolts."""


class MetadataError(ECGDataError):
    """A metadata table is malformed: a missing column, an unparseable cell, a missing file."""
