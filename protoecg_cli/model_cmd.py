"""``protoecg train`` and ``protoecg evaluate``: the prototype network (and baseline) on PTB-XL layout data."""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from pathlib import Path

from protoecg.provenance import DEMO_DISCLAIMER
from protoecg_cli.errors import CommandError
from protoecg.training.config import PRESETS

log = logging.getLogger(__name__)

_MARKERS = ("README_SYNTHETIC.txt", "synth_params.json", "SYNTHETIC", "SYNTHETIC.txt", "GENERATED",
            "GENERATED.txt")


def looks_generated(root: Path) -> bool:
    """True when a PTB-XL-layout directory was produced by a generator: it holds one of the marker files
    that ``protoecg data synth-ptbxl`` writes (``README_SYNTHETIC.txt``, ``synth_params.json``) or a
    ``SYNTHETIC``/``GENERATED`` marker. A README is not read: a real dataset's README may well mention
    generated ECGs (the vendored real PTB-XL records' README does), and calling a real-data model a demo
    model is as wrong as the reverse. ``--demo-data``/``--real-data`` override the detection."""
    return any((root / m).exists() for m in _MARKERS)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``evaluate`` to the ``protoecg`` parser."""
    t = sub.add_parser("train", help="train the prototype network (or the baseline) and write a model bundle",
                       description="Stages: warm-up -> prototypes started on data -> joint -> projection -> "
                                   "branch last layers -> fusion (reference recipe and --init-from runs start at joint; "
                                   "baseline: one stage). Folds 1-8 train, 9 validation (early stopping, thresholds), "
                                   "10 test. Re-running the same command resumes an interrupted run. "
                                   "Multi-process: torchrun --nproc_per_node N $(which protoecg) train ...")
    t.add_argument("--ptbxl", required=True, type=Path, help="PTB-XL layout directory")
    t.add_argument("--out", required=True, type=Path, help="run directory (becomes the model bundle)")
    t.add_argument("--preset", default="demo", choices=sorted(PRESETS),
                   help="demo: 2 CPU cores, small-data recipe; demo_reference: the demo model with the "
                        "reference recipe; demo_v1: the recipe on the pre-beat-sized model; paper: reference "
                        "sizes (GPU); tiny: tests")
    t.add_argument("--arch", default="protoecg", choices=["protoecg", "baseline"])
    t.add_argument("--epochs", type=int, default=None, help="epochs of the joint stage (default: preset)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--tied-epochs", type=int, default=None,
                   help="epochs of the tied stage after projection (default: preset; 0 skips it, e.g. for a "
                        "model that will only be a starting point for fine-tuning, which ties again)")
    t.add_argument("--unique-projection", action="store_true",
                   help="stricter projection: distinct source ECGs across each branch (default: no two "
                        "prototypes of a class share a source ECG with overlapping windows)")
    t.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: preset, 2)")
    t.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                   help="fine-tune: start from this trained bundle (same preset and architecture), e.g. a "
                        "model pretrained on generated ECGs; skips the warm-up")
    t.add_argument("--boot", type=int, default=200, help="bootstrap resamples for the CIs")
    g = t.add_mutually_exclusive_group()
    g.add_argument("--demo-data", dest="demo", action="store_true", default=None,
                   help="mark the bundle as trained on generated data (default: detected)")
    g.add_argument("--real-data", dest="demo", action="store_false", help="mark it as trained on real data")
    t.add_argument("--no-progress", action="store_true")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a model bundle on a fold (AUROC with bootstrap CIs, F1)")
    e.add_argument("--model", required=True, type=Path, help="run directory / model bundle")
    e.add_argument("--ptbxl", required=True, type=Path)
    e.add_argument("--fold", type=int, nargs="+", default=[10])
    e.add_argument("--json", action="store_true", help="print the metrics as JSON")
    e.add_argument("--predictions", type=Path, default=None,
                   help="per-ECG predictions CSV (default: MODEL/predictions_fold<F>.csv)")
    e.add_argument("--boot", type=int, default=1000, help="bootstrap resamples for the CIs")
    e.add_argument("--no-progress", action="store_true")
    e.set_defaults(func=cmd_evaluate)


def cmd_train(args: argparse.Namespace) -> int:
    from data_access.ptbxl import load_ptbxl
    from protoecg.training.config import preset
    from protoecg.training.trainer import train

    overrides: dict = {"arch": args.arch, "seed": args.seed}
    if args.epochs is not None:
        overrides["joint_epochs"] = args.epochs
    if args.tied_epochs is not None:
        overrides["tied_epochs"] = args.tied_epochs
    if args.unique_projection:
        overrides["unique_projection"] = True
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.init_from is not None:
        overrides["init_from"] = str(args.init_from)
    cfg = preset(args.preset, **overrides)
    folds = tuple(sorted(set(cfg.train_folds + cfg.val_folds + cfg.test_folds)))
    progress = not args.no_progress and sys.stderr.isatty()
    data = load_ptbxl(args.ptbxl, fs=cfg.model.fs, folds=folds, preprocess=True, progress=progress)
    if data.bad_records:
        print(f"skipped {len(data.bad_records)} unreadable record(s): "
              + ", ".join(str(b["ecg_id"]) for b in data.bad_records[:10]), file=sys.stderr)
    is_demo = looks_generated(args.ptbxl) if args.demo is None else args.demo
    out = train(data, cfg, args.out, is_demo=is_demo, dataset=str(args.ptbxl), progress=progress,
                n_boot=args.boot)
    m = json.loads((out / "metrics.json").read_text())
    tag = " (generated demo data)" if is_demo else ""
    print(f"model bundle: {out}{tag}")
    print(f"validation macro AUROC: {m['validation']['macro_auroc']:.4f}")
    if "test" in m:
        lo, hi = m["test"]["macro_auroc_ci"]
        print(f"test (folds {m['test']['folds']}) macro AUROC: {m['test']['macro_auroc']:.4f} "
              f"[95% CI {lo:.4f}-{hi:.4f}], n={m['test']['n_test']}")
    return 0


def _fmt(v: float | None) -> str:
    return "  n/a " if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.4f}"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from data_access.ptbxl import load_ptbxl
    from protoecg.bundle import load_bundle
    from protoecg.projection import uniqueness
    from protoecg.training.report import evaluate_outputs, predictions_frame

    b = load_bundle(args.model)
    folds = tuple(args.fold)
    progress = not args.no_progress and sys.stderr.isatty()
    data = load_ptbxl(args.ptbxl, fs=b.fs, folds=folds, preprocess=True, progress=progress)
    if not len(data.ecg_ids):
        raise CommandError(f"no readable ECGs in fold(s) {list(folds)} of {args.ptbxl}")
    pred = b.predict(data.signals, with_leads=False, progress=progress)
    res = evaluate_outputs(data.labels, pred.logits, pred.combined_logits if b.arch == "protoecg" else None,
                           b.codes, b.branch_of, b.thresholds, n_boot=args.boot)
    res["folds"] = list(folds)
    res["is_demo_model"] = b.is_demo
    res["n_bad_records"] = len(data.bad_records)
    if len(b.prototypes):
        res["prototypes"] = uniqueness(b.prototypes)
    path = args.predictions or (b.path / f"predictions_fold{'-'.join(map(str, folds))}.csv")
    predictions_frame(data.ecg_ids, b.codes, pred.probs, pred.predicted, data.labels).to_csv(path, index=False)
    res["predictions_csv"] = str(path)
    if args.json:
        print(json.dumps(res, indent=2, default=float))
        return 0
    note = f"  [{b.disclaimer or DEMO_DISCLAIMER}]" if b.is_demo else ""
    print(f"model {b.path} ({b.arch}, preset {b.config.preset}){note}")
    lo, hi = res["macro_auroc_ci"]
    print(f"fold(s) {list(folds)}: n={res['n_test']}, classes evaluated {res['n_classes_evaluated']}/71")
    print(f"macro AUROC    {_fmt(res['macro_auroc'])}  [95% CI {_fmt(lo)}-{_fmt(hi)}]")
    wlo, whi = res["weighted_auroc_ci"]
    print(f"weighted AUROC {_fmt(res['weighted_auroc'])}  [95% CI {_fmt(wlo)}-{_fmt(whi)}]")
    print(f"macro F1 at tuned thresholds {_fmt(res['macro_f1'])}")
    for br, v in res["per_branch"].items():
        print(f"  {br:<10} branch classifier {_fmt(v['macro_auroc'])}  fused {_fmt(v['fused_macro_auroc'])}"
              f"  ({v['n_classes_evaluated']}/{v['n_classes']} classes evaluable)")
    rows = [(c, d) for c, d in res["per_class"].items() if d["auroc"] is not None]
    for c, d in sorted(rows, key=lambda r: -r[1]["n_pos"]):
        print(f"  {c:<8} AUROC {_fmt(d['auroc'])}  n_pos {d['n_pos']:>4}  F1 {_fmt(d['f1'])}")
    if "prototypes" in res:
        u = res["prototypes"]
        print(f"prototypes: {u['n_projected']}/{u['n_prototypes']} projected onto "
              f"{u['n_distinct_sources']} distinct source ECGs")
    print(f"predictions: {path}")
    return 0
