"""Train on generated ECGs, test on real ones: how well does the generator teach a model real signal?

Generates ``--n`` records with ``synth-ptbxl`` (library function :func:`generate_ptbxl`, timed:
records/s of the generator in the same run), trains a ``--preset demo`` model (``--arch protoecg`` and/or
``baseline``) on them with the preset's folds, then predicts every real PTB-XL record (default: the
real 300 shipped in ``data/ptbxl_real``) and prints the fused AUROC per statement that the generator
produces and that has >= ``--min-pos`` real positives, their macro mean (also over the statements that
generator version 1.0 produced, for a like-for-like comparison), and NORM.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/bench_synth_transfer.py [--n 2000] [--seed 11]
        [--archs protoecg baseline] [--work DIR] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REAL = ROOT / "data" / "ptbxl_real"
# The 19 codes of generator version 1.0, so that versions that generate more codes are also compared on
# the same statements.
V1_CODES = ("SR", "SBRAD", "STACH", "AFIB", "1AVB", "PVC", "CLBBB", "CRBBB", "LAFB", "IMI", "ASMI", "LVH",
            "LVOLT", "STE_", "STD_", "INVT", "NORM", "DIG", "EL")


def per_statement_auroc(y: np.ndarray, scores: np.ndarray, codes: tuple[str, ...], keep: list[str],
                        min_pos: int) -> dict[str, dict[str, float | int]]:
    """AUROC of each statement in ``keep`` with >= ``min_pos`` positives and at least one negative."""
    from sklearn.metrics import roc_auc_score

    out: dict[str, dict[str, float | int]] = {}
    for c in keep:
        j = codes.index(c)
        n_pos = int(y[:, j].sum())
        if n_pos >= min_pos and n_pos < len(y):
            out[c] = {"auroc": float(roc_auc_score(y[:, j], scores[:, j])), "n_pos": n_pos}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=11, help="generator seed (the training seed is --train-seed)")
    ap.add_argument("--train-seed", type=int, default=0)
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--archs", nargs="+", default=["protoecg"])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--min-pos", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=1, help="generator processes")
    ap.add_argument("--lowrate-filter", choices=("project", "ptbxl"), default="project",
                    help="anti-aliasing of the generated 100 Hz files (SynthConfig.lowrate_filter)")
    ap.add_argument("--work", type=Path, default=None, help="keep the generated data and runs here")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    import torch

    from data_access.ptbxl import load_ptbxl
    from data_access.synth.ecg import SUPPORTED_LABELS
    from data_access.synth.ptbxl import SynthConfig, generate_ptbxl
    from protoecg.bundle import load_bundle
    from protoecg.training.config import preset
    from protoecg.training.trainer import train

    torch.set_num_threads(args.threads)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_transfer_"))
    synth_dir = work / "ptbxl"
    t0 = time.perf_counter()
    generate_ptbxl(synth_dir, config=SynthConfig(n=args.n, seed=args.seed, workers=args.workers,
                                                         lowrate_filter=args.lowrate_filter))
    gen_s = time.perf_counter() - t0
    print(f"generated {args.n} records (seed {args.seed}) in {gen_s:.1f} s = {args.n / gen_s:.1f} records/s "
          f"({args.workers} worker(s), 500 + 100 Hz WFDB)", flush=True)

    real = load_ptbxl(args.real, fs=100, preprocess=True, progress=False)
    result: dict = {"n_generated": args.n, "generator_seed": args.seed, "train_seed": args.train_seed,
                    "generator_records_per_s": args.n / gen_s, "n_real": int(len(real.ecg_ids)),
                    "real": str(args.real), "archs": {}}
    gen_codes = [c for c in real.codes if c in SUPPORTED_LABELS]
    for arch in args.archs:
        cfg = preset(args.preset, arch=arch, seed=args.train_seed, threads=args.threads)
        folds = tuple(sorted(set(cfg.train_folds + cfg.val_folds + cfg.test_folds)))
        data = load_ptbxl(synth_dir, fs=cfg.model.fs, folds=folds, preprocess=True, progress=False,
                          cache_dir=False)
        t1 = time.perf_counter()
        run = train(data, cfg, work / f"run_{arch}", is_demo=True, dataset=str(synth_dir), progress=False,
                    n_boot=20)
        train_s = time.perf_counter() - t1
        b = load_bundle(run)
        pred = b.predict(real.signals, with_leads=False, fast=True)
        per = per_statement_auroc(real.labels, pred.logits, real.codes, gen_codes, args.min_pos)
        macro = float(np.mean([v["auroc"] for v in per.values()]))
        v1 = [v["auroc"] for c, v in per.items() if c in V1_CODES]
        macro_v1 = float(np.mean(v1))
        result["archs"][arch] = {"macro_auroc": macro, "n_statements": len(per), "per_statement": per,
                                 "macro_auroc_v1_codes": macro_v1, "n_statements_v1_codes": len(v1),
                                 "train_s": train_s}
        print(f"\n{arch}: trained {train_s / 60:.1f} min on {len(data.ecg_ids)} generated records; "
              f"real n={len(real.ecg_ids)}", flush=True)
        print(f"  macro AUROC over {len(per)} generated statements with >= {args.min_pos} real positives: "
              f"{macro:.3f}; NORM {per.get('NORM', {}).get('auroc', float('nan')):.3f}")
        print(f"  macro AUROC over the {len(v1)} of them that generator 1.0 also produced: {macro_v1:.3f}")
        for c, v in sorted(per.items(), key=lambda kv: kv[1]["auroc"]):
            print(f"  {c:<6} AUROC {v['auroc']:.3f}  n_pos {v['n_pos']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
