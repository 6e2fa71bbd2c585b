"""CLI subcommands (filled in by the issue that owns them)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``protoecg`` parser."""
