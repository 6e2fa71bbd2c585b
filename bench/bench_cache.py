"""First load vs cached load of a PTB-XL-layout dataset through ``data_access.ptbxl.load_ptbxl``.

Usage: ``python bench/bench_cache.py [PTBXL_DIR] [--fs 100|500] [--n 300] [--check]``

Without ``PTBXL_DIR`` it writes ``--n`` WFDB records (format 16, PTB-XL layout and CSV) into a temporary
folder, built from the ten real PTB-XL records vendored in tests/fixtures/ptbxl (each copy gets a little
noise so no two files are equal). The first load decodes every file with wfdb, validates, high-passes and
writes the cache; the cached load memory-maps it. Both include reading and parsing the CSV. The target
is a ratio of at least 20; ``--check`` exits 1 below it.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data_access.ptbxl import load_ptbxl  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "ptbxl"
LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_dataset(dest: Path, n: int) -> Path:
    """A PTB-XL-layout dataset of ``n`` records at 100 and 500 Hz, derived from the vendored records."""
    import pandas as pd
    import wfdb

    src = pd.read_csv(FIXTURE / "ptbxl_database.csv")
    rng = np.random.default_rng(0)
    sources = {(j, col): wfdb.rdrecord(str(FIXTURE / src.iloc[j][col])).p_signal
               for j in range(len(src)) for col in ("filename_lr", "filename_hr")}
    rows = []
    for i in range(n):
        row = src.iloc[i % len(src)].copy()
        ecg_id = i + 1
        folder = f"{(ecg_id // 1000) * 1000:05d}"
        for sub, col, suffix in (("records100", "filename_lr", "lr"), ("records500", "filename_hr", "hr")):
            sig = sources[(i % len(src), col)]
            sig = sig + rng.normal(0, 0.01, sig.shape)
            out = dest / sub / folder
            out.mkdir(parents=True, exist_ok=True)
            fs = 100 if suffix == "lr" else 500
            wfdb.wrsamp(f"{ecg_id:05d}_{suffix}", fs=fs, units=["mV"] * 12, sig_name=LEADS, p_signal=sig,
                        fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(out))
            row[col] = f"{sub}/{folder}/{ecg_id:05d}_{suffix}"
        row["ecg_id"] = ecg_id
        row["strat_fold"] = i % 10 + 1
        rows.append(row)
    pd.DataFrame(rows).to_csv(dest / "ptbxl_database.csv", index=False)
    shutil.copy(FIXTURE / "scp_statements.csv", dest / "scp_statements.csv")
    return dest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", help="an existing PTB-XL-layout folder (default: write one)")
    ap.add_argument("--fs", type=int, default=100, choices=(100, 500))
    ap.add_argument("--n", type=int, default=300, help="records to write when no folder is given")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="exit 1 when the ratio is below 20")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        if args.root:
            root = Path(args.root)
        else:
            t0 = time.perf_counter()
            root = write_dataset(tmp_path / "ptbxl", args.n)
            print(f"wrote {args.n} records x 2 rates in {time.perf_counter() - t0:.1f} s")
        first, cached = [], []
        for r in range(args.repeats):
            cache_dir = tmp_path / f"cache{r}"                  # an empty cache: a true first load
            t0 = time.perf_counter()
            d = load_ptbxl(root, fs=args.fs, cache_dir=cache_dir)
            first.append(time.perf_counter() - t0)
            for _ in range(3):
                t0 = time.perf_counter()
                c = load_ptbxl(root, fs=args.fs, cache_dir=cache_dir)
                cached.append(time.perf_counter() - t0)
            assert np.array_equal(np.asarray(c.signals), d.signals) and c.bad_records == d.bad_records
        t_first, t_cached = statistics.median(first), statistics.median(cached)
        ratio = t_first / t_cached
        print(f"dataset: {root} ({len(d.ecg_ids)} records at {args.fs} Hz, {d.signals.nbytes / 1e6:.1f} MB)")
        print(f"first load (wfdb decode + checks + high-pass + cache write): {t_first * 1000:.1f} ms (median of {len(first)})")
        print(f"cached load (CSV + file stats + memory map):                {t_cached * 1000:.1f} ms (median of {len(cached)})")
        print(f"speed-up: {ratio:.1f}x (target >= 20x: {'met' if ratio >= 20 else 'NOT met'})")
    return 1 if args.check and ratio < 20 else 0


if __name__ == "__main__":
    sys.exit(main())
