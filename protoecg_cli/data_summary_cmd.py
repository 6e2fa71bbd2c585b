"""``protoecg data summary --ptbxl DIR [--json]``: counts, rates and unreadable records of a dataset."""
from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from data_access.ptbxl_summary import format_summary, summarize_ptbxl

    root = Path(args.ptbxl)
    if not root.is_dir():
        raise FileNotFoundError(f"--ptbxl {root}: no such directory")
    rates = (100, 500) if args.fs == "all" else (int(args.fs),)
    summary = summarize_ptbxl(root, rates=rates, progress=not args.json)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``summary`` to the ``protoecg data`` parser."""
    p = sub.add_parser("summary", help="summarise a PTB-XL-layout dataset",
                       description="Read every record of a PTB-XL-layout dataset and report the number of "
                                   "records, records per fold, positives per code (all 71) and per branch, "
                                   "the sampling rates present and every unreadable record with its reason.")
    p.add_argument("--ptbxl", required=True, metavar="DIR",
                   help="folder holding ptbxl_database.csv, records100/ and records500/")
    p.add_argument("--fs", choices=("100", "500", "all"), default="all",
                   help="which record files to read and check (default: both rates)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_run)
