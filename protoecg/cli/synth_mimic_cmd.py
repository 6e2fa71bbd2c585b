"""CLI subcommand under ``protoecg data`` (filled in by the issue that owns it)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add this subcommand to the ``protoecg data`` parser."""
