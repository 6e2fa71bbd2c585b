"""Training time of the demo preset (prototype network) against the black-box baseline on the same data.

    .venv/bin/python bench/bench_train_demo.py [--data DIR] [--n 4000] [--out runs/bench_train]

Without ``--data`` the synthetic PTB-XL demo set is generated first (``data_access.synth.ptbxl``; the
generation is not timed). Prints wall-clock and CPU time of each full training run (all stages, bundle
writing included), the fold-10 macro AUROC of each, and the time ratio protoecg / baseline. The figures are
for GENERATED ECGs; they say nothing about real-world diagnostic accuracy.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from data_access.ptbxl import load_ptbxl
from protoecg.training.config import preset
from protoecg.training.trainer import train


def run(arch: str, data, out: Path, threads: int) -> tuple[float, float, dict]:
    import json
    if out.exists():
        shutil.rmtree(out)
    cfg = preset("demo", arch=arch, threads=threads)
    t0, c0 = time.perf_counter(), time.process_time()
    train(data, cfg, out, is_demo=True, progress=False, n_boot=200)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return wall, cpu, json.loads((out / "metrics.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_train"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    data_dir = args.data
    if data_dir is None:
        from data_access.synth.ptbxl import generate_ptbxl
        data_dir = generate_ptbxl(args.out / "data", n=args.n, seed=0)
    data = load_ptbxl(data_dir, fs=100)
    res = {arch: run(arch, data, args.out / arch, args.threads) for arch in ("protoecg", "baseline")}
    print(f"demo preset on {len(data.ecg_ids)} generated records ({data_dir}), {args.threads} threads")
    for arch, (wall, cpu, m) in res.items():
        t = m["test"]
        print(f"{arch:<9} wall {wall / 60:6.2f} min  cpu {cpu / 60:6.2f} min  fold-10 macro AUROC "
              f"{t['macro_auroc']:.4f} [{t['macro_auroc_ci'][0]:.4f}-{t['macro_auroc_ci'][1]:.4f}] "
              f"({t['n_classes_evaluated']} classes, n={t['n_test']})")
    print(f"ratio protoecg / baseline training wall time = {res['protoecg'][0] / res['baseline'][0]:.2f}x")


if __name__ == "__main__":
    main()
