"""The command line's own error: a check the command makes before calling the library."""
from __future__ import annotations

from protoecg.errors import ProtoECGError


class CommandError(ProtoECGError):
    """A command-line argument names something unusable (a missing run, database or fold)."""
