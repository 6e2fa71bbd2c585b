"""``protoecg crossval``: patient-wise k-fold cross-validation of a training recipe on one dataset."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crossval", help="cross-validate a training recipe (patient-wise k folds) and report pooled AUROCs",
        description="Train the preset on k patient-wise splits of the dataset (test = one group, validation "
                    "= the next, training = the rest), predict every record once per seed with a model that "
                    "never saw its patient, and report macro AUROC over the statements with at least "
                    "--min-pos positives, NORM and each branch's statements, pooled over the splits (ranks "
                    "within each split). With --attach the report is stored in a model bundle, whose model "
                    "card then shows it as the cross-validated figures of the recipe that made the model.")
    p.add_argument("--ptbxl", required=True, type=Path, help="PTB-XL layout directory (e.g. data/ptbxl_real)")
    p.add_argument("--preset", default="demo")
    p.add_argument("--arch", default="protoecg", choices=["protoecg", "baseline"])
    p.add_argument("--k", type=int, default=5, help="number of patient-wise groups (>= 3)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--init-from", type=Path, default=None, metavar="RUN",
                   help="fine-tune every split from this bundle (e.g. the model pretrained on generated ECGs)")
    p.add_argument("--min-pos", type=int, default=5, help="statements need this many positives (default 5)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", type=Path, default=None, help="write the report here")
    p.add_argument("--attach", type=Path, default=None, metavar="MODEL",
                   help="store the report in this model bundle (crossval.json), shown on its model card")
    p.set_defaults(func=cmd_crossval)


def cmd_crossval(args: argparse.Namespace) -> int:
    from data_access.ptbxl import load_ptbxl
    from protoecg.training.config import preset
    from protoecg.training.crossval import CV_FILE, crossval_report

    if args.k < 3:
        raise CommandError("--k must be at least 3 (a test, a validation and a training group)")
    if args.attach is not None and not (args.attach / "metrics.json").exists():
        raise CommandError(f"--attach {args.attach}: not a model bundle (no metrics.json)")
    overrides: dict = {"arch": args.arch}
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.init_from is not None:
        overrides["init_from"] = str(args.init_from)
    cfg = preset(args.preset, **overrides)
    data = load_ptbxl(args.ptbxl, fs=cfg.model.fs, preprocess=True, progress=sys.stderr.isatty())
    if data.bad_records:
        print(f"skipped {len(data.bad_records)} unreadable record(s)", file=sys.stderr)
    rep = crossval_report(data, cfg, k=args.k, seeds=tuple(args.seeds), min_pos=args.min_pos,
                          dataset=str(args.ptbxl))
    s = rep["summary"]
    print(f"{args.arch} ({args.preset}{', fine-tuned from ' + str(args.init_from) if args.init_from else ''}), "
          f"{rep['n_records']} records, {args.k}-fold patient-wise CV, seeds {args.seeds}, "
          f"{rep['n_classes']} statements with >= {args.min_pos} positives:")
    for key, label in (("macro", "macro AUROC (pooled)"), ("fold_macro_mean", "macro AUROC (mean of folds)"),
                       ("NORM", "NORM AUROC"), ("morphology_fused", "morphology statements"),
                       ("rhythm_fused", "rhythm statements"), ("diffuse_fused", "diffuse statements")):
        if key in s:
            print(f"  {label:30s} {s[key]['mean']:.3f} ± {s[key]['sd']:.3f}")
    text = json.dumps(rep, indent=2, default=float)
    if args.json:
        args.json.write_text(text)
    if args.attach:
        (args.attach / CV_FILE).write_text(text)
        print(f"stored in {args.attach / CV_FILE}")
    return 0
