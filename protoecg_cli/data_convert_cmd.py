"""``protoecg data convert``: clinical ECG files (MUSE/Philips/aECG XML, DICOM, EDF, WFDB) → WFDB."""
from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert", help="convert clinical ECG files (XML, DICOM, EDF) to WFDB records",
        description="Read each input (a file, or every ECG file under a directory; the format is taken from "
                    "the content) and write a 16-bit WFDB record in mV with the canonical 12 leads and the "
                    "file's metadata (age, sex, acquisition time, machine statements and intervals, derived "
                    "leads) as header comments. Bad files are skipped and listed in a CSV.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="ECG file(s) or director(y/ies)")
    p.add_argument("--to", choices=("wfdb",), default="wfdb", help="output format (wfdb)")
    p.add_argument("--out", "-o", required=True, metavar="OUT", help="output directory")
    p.add_argument("--fs", type=float, default=None,
                   help="resample to this rate (e.g. 500, the PTB-XL rate; default: keep the file's rate)")
    p.add_argument("--failures", default=None,
                   help="CSV listing the files that could not be converted (default OUT/conversion_failures.csv)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from data_access.convert import convert_many
    from data_access.formats import expand_inputs

    paths = expand_inputs(args.inputs)
    if not paths:
        print(f"no ECG files found in {' '.join(args.inputs)}", file=sys.stderr)
        return 1
    run = convert_many(paths, args.out, fs=args.fs, progress=not args.no_progress and sys.stderr.isatty(),
                       failures_csv=args.failures)
    print(f"{len(run.written)} of {len(paths)} file(s) converted to WFDB in {args.out}; {len(run.bad)} failed"
          + (f" (listed in {run.failures_csv})" if run.failures_csv else ""))
    for b in run.bad:
        print(f"  failed: {b['path']}: {b['error']}: {b['reason']}")
    return 0 if run.written else 1
