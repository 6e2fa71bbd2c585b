"""Benchmark: generate 4,000 synthetic PTB-XL records (500 Hz + 100 Hz WFDB) and time it.

Prints seconds, records/s, the CPU time used, and the ratio against a reference measured in the same
run: ``wfdb.wrsamp`` writing the same number of records (the floor set by the reference WFDB writer).
Target: 4,000 records in <= 60 s on 2 cores.

    python bench/bench_synth.py [--n 4000] [--workers 2]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu_s() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ref-n", type=int, default=200, help="records written by wfdb.wrsamp for the reference")
    args = ap.parse_args()

    from data_access.synth.ptbxl import PTBXL_LEAD_NAMES, SynthConfig, generate_ptbxl
    from data_access.synth.wfdb_writer import write_record_wfdb

    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    try:
        c0, t0 = _cpu_s(), time.perf_counter()
        generate_ptbxl(tmp / "ptbxl", config=SynthConfig(n=args.n, seed=0, workers=args.workers))
        dt, cpu = time.perf_counter() - t0, _cpu_s() - c0

        x = np.random.default_rng(0).normal(0, 1, (12, 5000))
        lo = x[:, ::5]
        t1 = time.perf_counter()
        for i in range(args.ref_n):
            write_record_wfdb(tmp / "ref" / f"{i:05d}_hr", x, 500, PTBXL_LEAD_NAMES)
            write_record_wfdb(tmp / "ref" / f"{i:05d}_lr", lo, 100, PTBXL_LEAD_NAMES)
        ref_per_rec = (time.perf_counter() - t1) / args.ref_n
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"synth-ptbxl: {args.n} records in {dt:.1f} s ({args.n / dt:.0f} records/s, {args.workers} workers, "
          f"{cpu:.1f} CPU-s = {1000 * cpu / args.n:.1f} CPU-ms/record); target <= 60 s: "
          f"{'OK' if dt <= 60 else 'MISSED'}")
    print(f"reference: wfdb.wrsamp alone (500 + 100 Hz files, 1 process) {1000 * ref_per_rec:.1f} ms/record "
          f"-> {args.n * ref_per_rec:.1f} s for {args.n}; ratio generator/reference = "
          f"{dt / (args.n * ref_per_rec):.2f}")


if __name__ == "__main__":
    main()
