"""``protoecg data ...``: dataset summaries and demo-data generators (one module per subcommand)."""
from __future__ import annotations

import argparse
import importlib

_DATA_MODULES = (
    "protoecg_cli.data_summary_cmd",
    "protoecg_cli.synth_ptbxl_cmd",
    "protoecg_cli.synth_mimic_cmd",
    "protoecg_cli.data_convert_cmd",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="summarise datasets and generate demo data",
                       description="Dataset tools: summaries of PTB-XL-layout datasets, generators "
                                   "of synthetic demo data in the PTB-XL and MIMIC-IV layouts, and "
                                   "conversion of clinical ECG files to WFDB.")
    data_sub = p.add_subparsers(dest="data_command", metavar="DATA_COMMAND")
    for name in _DATA_MODULES:
        importlib.import_module(name).register(data_sub)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])
