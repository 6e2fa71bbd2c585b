"""Real-data bench: the prototype network vs the black-box baseline, patient-wise k-fold CV on real PTB-XL.

Both architectures train on the same splits with the same seeds (``protoecg.training.crossval``); every
record is predicted once per seed by a model that never saw its patient, and the figures are computed on
the pooled out-of-fold predictions over the statements with >= ``--min-pos`` positives. Prints, per
architecture, fused macro AUROC, NORM, each branch's statements (fused, and the branch classifier alone
for the prototype model), the per-fold spread, and the interpretability tax (baseline - prototype) per
seed with its mean and spread.

    .venv/bin/python bench/bench_real.py [--ptbxl data/ptbxl_real] [--k 5] [--seeds 0 1]
        [--preset demo] [--set train.joint_epochs=30 loss.cluster=0.01 ...] [--json OUT]
        [--init-from PRETRAINED_PROTO --init-from-baseline PRETRAINED_BASELINE]

``--set`` overrides any field of the resolved configuration (``model.``, ``loss.``, ``train.``) for the
prototype model and the baseline alike (loss fields only matter to the prototype model).
"""
from __future__ import annotations

import argparse
import ast
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / "data" / "ptbxl_real"        # the real PTB-XL 300 shipped with the repository


def apply_overrides(cfg, items: list[str]):
    """``section.field=value`` (value parsed as a Python literal when possible) on a RunConfig."""
    for item in items:
        key, _, raw = item.partition("=")
        section, _, name = key.partition(".")
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        if isinstance(value, list):
            value = tuple(value)
        sub = getattr(cfg, section)
        if not any(f.name == name for f in dataclasses.fields(sub)):
            raise SystemExit(f"unknown field {key!r}")
        cfg = dataclasses.replace(cfg, **{section: dataclasses.replace(sub, **{name: value})})
    return cfg


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ptbxl", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--archs", nargs="+", default=["protoecg", "baseline"])
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], help="config overrides (section.field=value)")
    ap.add_argument("--min-pos", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--init-from", type=Path, default=None,
                    help="fine-tune the prototype model from this bundle (e.g. pretrained on generated ECGs)")
    ap.add_argument("--init-from-baseline", type=Path, default=None,
                    help="fine-tune the baseline from this bundle (pretrained the same way, for a fair tax)")
    ap.add_argument("--json", type=Path, default=None, help="write every figure here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")

    import torch

    from data_access.ptbxl import load_ptbxl
    from protoecg.training.config import preset
    from protoecg.training.crossval import cross_validate, summarise_cv

    torch.set_num_threads(args.threads)
    data = load_ptbxl(args.ptbxl, fs=100, progress=False)
    print(f"{len(data.ecg_ids)} real records from {args.ptbxl}; {args.k}-fold patient-wise CV; "
          f"seeds {args.seeds}; preset {args.preset}; overrides {args.overrides or 'none'}", flush=True)
    rows = []
    for arch in args.archs:
        for seed in args.seeds:
            cfg = apply_overrides(preset(args.preset, arch=arch, threads=args.threads), args.overrides)
            kwargs: dict = {}
            start = {"protoecg": args.init_from, "baseline": args.init_from_baseline}.get(arch)
            if start:
                cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, init_from=str(start)))
            t0 = time.perf_counter()
            res = cross_validate(data, cfg, k=args.k, seed=seed, label=arch, **kwargs)
            s = summarise_cv(res, data, args.min_pos)
            rows.append(s)
            extra = (f" | branch alone: rhythm {s['rhythm_branch']:.3f} morphology {s['morphology_branch']:.3f}"
                     f" diffuse {s['diffuse_branch']:.3f}") if "morphology_branch" in s else ""
            print(f"{arch:9s} seed {seed}: macro {s['macro']:.3f} (folds {s['fold_macro_mean']:.3f} ± "
                  f"{s['fold_macro_sd']:.3f}) NORM {s['NORM']:.3f} | fused rhythm {s['rhythm_fused']:.3f} "
                  f"morphology {s['morphology_fused']:.3f} diffuse {s['diffuse_fused']:.3f}{extra} "
                  f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    print(f"\npooled out-of-fold AUROC over the {rows[0]['n_classes']} statements with >= {args.min_pos} "
          "positives (mean ± sd over seeds)")
    keys = ["macro", "NORM", "rhythm_fused", "morphology_fused", "diffuse_fused", "rhythm_branch",
            "morphology_branch", "diffuse_branch"]
    print("| arch | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for arch in args.archs:
        sel = [r for r in rows if r["label"] == arch]
        cells = []
        for k in keys:
            v = np.array([r.get(k, np.nan) for r in sel], dtype=float)
            cells.append("—" if not np.isfinite(v).any() else f"{np.nanmean(v):.3f} ± {np.nanstd(v):.3f}")
        print(f"| {arch} | " + " | ".join(cells) + " |")
    if {"protoecg", "baseline"} <= set(args.archs):
        by = {(r["label"], r["seed"]): r for r in rows}
        for k in ("macro", "NORM", "morphology_fused"):
            tax = np.array([by[("baseline", s)][k] - by[("protoecg", s)][k] for s in args.seeds])
            print(f"tax ({k}, baseline - protoecg): " + ", ".join(f"{t:+.3f}" for t in tax)
                  + f"; mean {tax.mean():+.3f} ± {tax.std():.3f}")
        tax_b = np.array([by[("baseline", s)]["morphology_fused"] - by[("protoecg", s)]["morphology_branch"]
                          for s in args.seeds])
        print("morphology branch alone vs baseline on morphology statements: "
              + ", ".join(f"{t:+.3f}" for t in tax_b) + f"; mean {tax_b.mean():+.3f}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
                                        indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
