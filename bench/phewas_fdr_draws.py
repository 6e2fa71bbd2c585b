"""Recovery and false discovery proportion of the default PheWAS over many demo MIMIC-IV draws, with the
features of trained demo models (or, with ``--label-features``, the label-derived stand-in).

For each model seed a demo model is trained once on generated PTB-XL (``synth-ptbxl --n 2000 --seed 11``,
``train --preset demo --seed S``); for each ``synth-mimic`` seed the waveforms are generated, ``infer``
writes each model's features, and the default ``phewas`` statistics (two-stage FDR, SPA screening, Firth
refits) are scored against the planted truth. Models, MIMIC draws and features are cached under
``--cache``, so a rerun only scans. Prints one line per (model, draw) and a summary against the targets:
median sensitivity >= 0.9, mean hit-level and phecode-level FDP <= 5 %, no draw above 15 %.

    nice -n 10 .venv/bin/python bench/phewas_fdr_draws.py --cache /tmp/phewas_draws            # 2 models x 10 draws
    .venv/bin/python bench/phewas_fdr_draws.py --label-features --seeds 30 --patients 2000      # old stand-in mode
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

CLI = [sys.executable, "-c", "import sys; from protoecg_cli import main; sys.exit(main())"]


def _cli(*args: str) -> None:
    subprocess.run(CLI + list(args), check=True, stdout=subprocess.DEVNULL)


def _model(cache: Path, seed: int, n_ptbxl: int) -> Path:
    ptbxl, model = cache / "ptbxl", cache / f"model{seed}"
    if not (ptbxl / "ptbxl_database.csv").exists():
        _cli("data", "synth-ptbxl", "--out", str(ptbxl), "--n", str(n_ptbxl), "--seed", "11", "--workers", "1",
             "--no-progress")
    if not (model / "prototypes.csv").exists():
        print(f"training demo model seed {seed} ...", flush=True)
        _cli("train", "--ptbxl", str(ptbxl), "--out", str(model), "--preset", "demo", "--seed", str(seed),
             "--threads", "1", "--boot", "20", "--no-progress")
    return model


def _features(cache: Path, model: Path, mimic: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = cache / f"features_{model.name}_mimic{seed}.parquet"
    if not out.exists():
        _cli("infer", "--model", str(model), "--mimic-ecg", str(mimic / "ecg"), "--out", str(out), "--threads", "1",
             "--no-progress")
    f = pd.read_parquet(out)
    if "study_id" in f.columns:
        f = f.set_index("study_id")
    f.index = f.index.astype("int64")
    return f[~f.index.duplicated()], pd.read_csv(model / "prototypes.csv", keep_default_na=False)


def _score(table, protos, mimic: Path) -> dict:
    from analysis.cohort import build_cohort
    from analysis.comparators import prototype_class_map
    from analysis.phewas import PheWAS
    from analysis.recovery import is_descendant_or_self, read_ground_truth, score_recovery

    cohort = build_cohort(mimic)
    pw = PheWAS().fit(table, cohort.phenotypes, cohort.units[["age", "sex"]], phecode_info=cohort.phecode_info)
    truth = read_ground_truth(mimic / "ground_truth.csv", "1.2")
    rec = score_recovery(pw.results_, truth, prototype_class_map(protos) if protos is not None else {})
    missed = [f"{p['signature']}->{p['phecode']}" for p in rec["pairs"] if p["tested"] and not p["recovered"]]
    planted = [str(c) for c in truth.loc[truth["planted"], "phecode"].unique()]
    hit_codes = {str(c) for c in pw.results_.loc[pw.results_["hit"], "phecode"]}
    false_codes = sorted(c for c in hit_codes if not any(is_descendant_or_self(c, p) or is_descendant_or_self(p, c)
                                                         for p in planted))
    return {"sensitivity": rec["sensitivity"], "fdp_hits": rec["false_discovery_proportion"],
            "fdp_phecodes": rec["n_false_phecodes"] / rec["n_phecodes_hit"] if rec["n_phecodes_hit"] else 0.0,
            "hits": rec["n_hits"], "phecodes_hit": rec["n_phecodes_hit"], "false_phecodes": rec["n_false_phecodes"],
            "missed": " ".join(missed), "false_codes": " ".join(map(str, false_codes))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="synth-mimic draws")
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--patients", type=int, default=1000, help="patients per draw (synth-mimic default 1000)")
    ap.add_argument("--model-seeds", type=int, nargs="+", default=[11, 12], help="demo models (training seeds)")
    ap.add_argument("--ptbxl-n", type=int, default=2000, help="generated PTB-XL records to train on")
    ap.add_argument("--cache", default=None, help="directory keeping models, draws and features between runs")
    ap.add_argument("--label-features", action="store_true", help="label-derived stand-in features, no model")
    ap.add_argument("--csv", default=None, help="write the per-draw table here")
    args = ap.parse_args()

    from analysis.comparators import class_aggregates, scan_table
    from analysis.phewas_sim import label_features
    from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic

    tmp = None
    if args.cache is None:
        tmp = tempfile.TemporaryDirectory()
        cache = Path(tmp.name)
    else:
        cache = Path(args.cache)
        cache.mkdir(parents=True, exist_ok=True)
    models = [] if args.label_features else [_model(cache, s, args.ptbxl_n) for s in args.model_seeds]
    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.perf_counter()
        mimic = cache / f"mimic{seed}_n{args.patients}"
        if not (mimic / "ground_truth.csv").exists():
            synthesize_mimic(mimic, MimicSynthConfig(n_patients=args.patients, seed=seed,
                                                     write_waveforms=not args.label_features), progress=False)
        if args.label_features:
            feats, protos = label_features(pd.read_csv(mimic / "ecg_labels.csv"), seed=seed)
            sets = [("labels", pd.concat([feats, class_aggregates(feats, protos)], axis=1), protos)]
        else:
            sets = []
            for model in models:
                feats, protos = _features(cache, model, mimic, seed)
                sets.append((model.name, scan_table(feats, protos, mimic), protos))
        for name, table, protos in sets:
            r = {"features": name, "seed": seed, **_score(table, protos, mimic)}
            rows.append(r)
            print(f"{name:8s} draw {seed:3d}: sensitivity {r['sensitivity']:.2f}, FDP hits {r['fdp_hits']:.3f} "
                  f"({r['hits']} hits), FDP phecodes {r['fdp_phecodes']:.3f} ({r['false_phecodes']} of "
                  f"{r['phecodes_hit']}) missed [{r['missed']}] false [{r['false_codes']}] "
                  f"[{time.perf_counter() - t0:.0f} s]", flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    worst = df[["fdp_hits", "fdp_phecodes"]].max(axis=1)
    print(f"\n{len(df)} scans ({df['features'].nunique()} feature sets x {df['seed'].nunique()} draws of "
          f"{args.patients} generated patients), default phewas (two-stage FDR 0.05, SPA, Firth)")
    print(f"  sensitivity: median {df['sensitivity'].median():.2f} (min {df['sensitivity'].min():.2f}) "
          f"[target median >= 0.9]")
    print(f"  hit-level FDP: mean {df['fdp_hits'].mean():.3f}, max {df['fdp_hits'].max():.3f} [target mean <= 0.05]")
    print(f"  phecode-level FDP: mean {df['fdp_phecodes'].mean():.3f}, max {df['fdp_phecodes'].max():.3f} "
          f"[target mean <= 0.05]")
    print(f"  scans with either FDP > 15 %: {int((worst > 0.15).sum())} of {len(df)} [target 0]")
    for name, g in df.groupby("features"):
        print(f"  {name}: sensitivity median {g['sensitivity'].median():.2f}, FDP hits mean {g['fdp_hits'].mean():.3f}, "
              f"phecodes mean {g['fdp_phecodes'].mean():.3f}")
    missed = pd.Series(" ".join(df["missed"]).split()).value_counts()
    if len(missed):
        print("  missed pairs (scans): " + ", ".join(f"{k} ({v})" for k, v in missed.items()))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
