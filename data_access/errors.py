"""Typed exceptions for bad ECG input.

Every error carries the record it concerns (when known) and a message a clinician-researcher can act on.
Batch loaders catch :class:`ECGDataError` per record, list the record with ``str(err)`` as its reason,
and go on with the rest.
"""
from __future__ import annotations


class ECGDataError(Exception):
    """Base class for any problem with an ECG record or its metadata."""

    def __init__(self, message: str, record: str | None = None) -> None:
        self.record = record
        self.reason = message
        super().__init__(f"{record}: {message}" if record else message)


class RecordReadError(ECGDataError):
    """The file could not be read: missing, truncated, corrupt, or an unparseable header."""


class LeadError(ECGDataError):
    """Leads are missing, misnamed, duplicated, or there are not exactly 12."""


class SamplingRateError(ECGDataError):
    """The sampling frequency is not one this pipeline supports."""


class RecordLengthError(ECGDataError):
    """The record is too short (or its length disagrees with its header)."""


class SignalQualityError(ECGDataError):
    """The signal contains NaNs, a flat lead, or other values that make it unusable."""


class MetadataError(ECGDataError):
    """A metadata table is malformed: a missing column, an unparseable cell, a missing file."""
