"""Typed errors of the explanation package."""
from __future__ import annotations

from data_access.errors import ECGDataError


class ExplainError(ECGDataError):
    """An explanation cannot be produced for this input (unknown label, wrong input shape, no donor)."""
