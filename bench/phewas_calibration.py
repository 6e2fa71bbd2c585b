"""Null calibration of the default PheWAS on a trained model's real features: permutations of case status.

Rows of the phenotype table are permuted against the features and covariates (all pairs null, real feature
distributions and case counts kept); the share of tests with p below 1e-2 / 1e-3 / 1e-4 is compared with
nominal (observed / expected, target within [0.8, 1.25]) for the reported ``p`` (saddlepoint score test,
LRT / Firth penalised LRT for refits) and, for contrast, for the plain normal score test. Two runs: many
permutations over a decorrelated subset of the features (|r| < 0.8; precise), and a few over all features.

    nice -n 10 .venv/bin/python bench/phewas_calibration.py --features F.parquet --mimic DIR --model RUN \
        [--permutations 200] [--all-permutations 10] [--run-json OUT/run.json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pandas as pd  # noqa: E402


def _print(title: str, cal) -> None:
    print(f"{title}: {cal.n_permutations} permutations x {cal.n_features} features x {cal.n_phecodes} phecodes")
    for r in cal.table.itertuples():
        print(f"  p < {r.threshold:g}: observed {r.observed} / expected {r.expected:.1f} = {r.ratio:.2f} "
              f"(plain normal score test {r.ratio_score_normal:.2f}; {r.n_families} permuted phecodes)")
    print(f"  within [0.8, 1.25]: {cal.within()}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", required=True, help="feature Parquet from `protoecg infer`")
    ap.add_argument("--mimic", required=True, help="MIMIC-IV directory (hosp/, ecg/)")
    ap.add_argument("--model", default=None, help="model run (prototypes.csv, for class aggregates)")
    ap.add_argument("--permutations", type=int, default=200, help="permutations over the decorrelated subset")
    ap.add_argument("--all-permutations", type=int, default=10, help="permutations over all features (0: skip)")
    ap.add_argument("--decorrelate", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--with-concepts", action="store_true", help="also the machine-statement concepts")
    ap.add_argument("--run-json", default=None, help="add the result as `calibration` to this phewas run.json")
    args = ap.parse_args()

    from analysis.calibration import permutation_calibration
    from analysis.cohort import build_cohort
    from analysis.comparators import scan_table

    f = pd.read_parquet(args.features)
    if "study_id" in f.columns:
        f = f.set_index("study_id")
    f.index = f.index.astype("int64")
    protos = pd.read_csv(Path(args.model) / "prototypes.csv", keep_default_na=False) if args.model else None
    # the model's own features (similarities, probabilities, logits, class aggregates); the machine-statement
    # concepts are binary comparators, not model features (their lattice-valued scores make any test discrete)
    table = scan_table(f[~f.index.duplicated()], protos, args.mimic if args.with_concepts else None)
    cohort = build_cohort(args.mimic)
    cov = cohort.units[["age", "sex"]]
    out = {}
    t0 = time.perf_counter()
    cal = permutation_calibration(table, cohort.phenotypes, cov, n_permutations=args.permutations,
                                  decorrelate=args.decorrelate, seed=args.seed)
    _print(f"decorrelated features (|r| < {args.decorrelate:g}) [{time.perf_counter() - t0:.0f} s]", cal)
    out["decorrelated"] = {"max_abs_r": args.decorrelate, **cal.to_dict()}
    if args.all_permutations:
        t0 = time.perf_counter()
        cal_all = permutation_calibration(table, cohort.phenotypes, cov, n_permutations=args.all_permutations,
                                          decorrelate=None, seed=args.seed + 1, batch=5)
        _print(f"all features [{time.perf_counter() - t0:.0f} s]", cal_all)
        out["all_features"] = cal_all.to_dict()
    if args.run_json:
        p = Path(args.run_json)
        run = json.loads(p.read_text())
        run["calibration"] = {"method": "row permutations of the phenotype table (bench/phewas_calibration.py)",
                              "features": args.features, **out}
        p.write_text(json.dumps(run, indent=2, default=str))
        print(f"recorded in {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
