"""Typed errors of the explanation package (defined in :mod:`protoecg.errors`)."""
from __future__ import annotations

from ..errors import ExplainError

__all__ = ["ExplainError"]
