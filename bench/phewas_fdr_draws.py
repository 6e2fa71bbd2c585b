"""Recovery and false discovery proportion of the default PheWAS over many demo MIMIC-IV draws, with the
features of trained demo models (or, with ``--label-features``, the label-derived stand-in).

For each model seed a demo model is trained once on generated PTB-XL (``synth-ptbxl --n 2000 --seed 11``,
``train --preset demo --seed S``); for each ``synth-mimic`` seed the waveforms are generated, ``infer``
writes each model's features, and the default ``phewas`` statistics (two-stage FDR with Holm at the
phecode stage, SPA screening, Firth refits) are scored against the planted truth; the same p-values are
also scored with BH at the phecode stage (``--phecode-stage bh``, the earlier default) for comparison.
Models, MIMIC draws and features are cached under ``--cache``, so a rerun only scans. Prints one line per
(model, draw) and a summary against the targets: median sensitivity >= 0.9, mean hit-level and
phecode-level FDP <= 5 %, no draw above 15 %.

Per scan it also prints the closest null phecode (smallest Simes p among phecodes that are neither
planted nor a parent / child of one, against Holm's line for it), and for each false phecode the p-value
of its case status against the *true* ECG labels of the draw (``ecg_labels.csv``, the generator's own
signatures, age/sex adjusted): a small label p means the chance association is in the data itself, not
made by the model's features.

    nice -n 10 .venv/bin/python bench/phewas_fdr_draws.py --cache /tmp/phewas_draws            # 2 models x 10 draws
    .venv/bin/python bench/phewas_fdr_draws.py --label-features --seeds 30 --patients 2000      # old stand-in mode
    # one process per model (separate caches), then one summary over both tables:
    .venv/bin/python bench/phewas_fdr_draws.py --cache C11 --model-seeds 11 --csv a.csv &
    .venv/bin/python bench/phewas_fdr_draws.py --cache C12 --model-seeds 12 --csv b.csv; wait
    .venv/bin/python bench/phewas_fdr_draws.py --from-csv a.csv b.csv --json summary.json
"""
from __future__ import annotations

import argparse
import json
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


def _label_p(mimic: Path, cohort, codes: list[str]) -> dict[str, float]:
    """Smallest age/sex-adjusted p of each phecode's case status against the draw's true ECG signatures."""
    from analysis.phewas import PheWAS
    from data_access.synth.mimic_cohort import PLANTED

    if not codes:
        return {}
    lab = pd.read_csv(mimic / "ecg_labels.csv").set_index("study_id")["labels"].reindex(cohort.units.index)
    X = pd.DataFrame({e.signature: lab.fillna("").str.split().map(lambda s, k=e.signature: float(k in s))
                      for e in PLANTED}, index=cohort.units.index)
    res = PheWAS(min_cases=1, min_controls=1).fit(X, cohort.phenotypes[codes], cohort.units[["age", "sex"]]).results_
    return res.groupby("phecode")["p"].min().to_dict()


def _rescore(results: pd.DataFrame, phecode_stage: str, alpha: float = 0.05) -> pd.DataFrame:
    """The same p-values with another phecode-stage rule (the ``hit`` column recomputed as PheWAS does)."""
    from analysis.fdr import hierarchical_qvalues
    from analysis.phewas import _p_for_bh

    hq = hierarchical_qvalues(pd.DataFrame({"p": _p_for_bh(results["log10_p"].to_numpy()),
                                            "phecode": results["phecode"].to_numpy()}), phecode_stage=phecode_stage)
    out = results.copy()
    out["q_phecode"], out["q_hier"] = hq["q_phecode"].to_numpy(), hq["q_hier"].to_numpy()
    out["hit"] = (out["q_hier"] < alpha).to_numpy() & out["converged"].astype(bool).to_numpy()
    return out


def _score(table, protos, mimic: Path) -> dict:
    from analysis.cohort import build_cohort
    from analysis.comparators import prototype_class_map
    from analysis.fdr import hierarchical_qvalues
    from analysis.phewas import PheWAS, _p_for_bh
    from analysis.recovery import is_descendant_or_self, read_ground_truth, score_recovery

    cohort = build_cohort(mimic)
    t0 = time.process_time()
    pw = PheWAS().fit(table, cohort.phenotypes, cohort.units[["age", "sex"]], phecode_info=cohort.phecode_info)
    cpu = time.process_time() - t0
    truth = read_ground_truth(mimic / "ground_truth.csv", "1.2")
    planted = [str(c) for c in truth.loc[truth["planted"], "phecode"].unique()]
    related = {c: any(is_descendant_or_self(c, p) or is_descendant_or_self(p, c) for p in planted)
               for c in pw.results_["phecode"].astype(str).unique()}
    pmap = prototype_class_map(protos) if protos is not None else {}
    out = {"scan_cpu_s": cpu}
    for stage in ("holm", "bh"):
        res = pw.results_ if stage == pw.config.phecode_stage else _rescore(pw.results_, stage)
        rec = score_recovery(res, truth, pmap)
        missed = [f"{p['signature']}->{p['phecode']}" for p in rec["pairs"] if p["tested"] and not p["recovered"]]
        hit_codes = {str(c) for c in res.loc[res["hit"], "phecode"]}
        false_codes = sorted(c for c in hit_codes if not related[c])
        sfx = "" if stage == "holm" else "_bh"
        out.update({f"sensitivity{sfx}": rec["sensitivity"], f"fdp_hits{sfx}": rec["false_discovery_proportion"],
                    f"fdp_phecodes{sfx}": rec["n_false_phecodes"] / rec["n_phecodes_hit"] if rec["n_phecodes_hit"]
                    else 0.0, f"hits{sfx}": rec["n_hits"], f"phecodes_hit{sfx}": rec["n_phecodes_hit"],
                    f"false_phecodes{sfx}": rec["n_false_phecodes"], f"missed{sfx}": " ".join(missed),
                    f"false_codes{sfx}": " ".join(false_codes)})
    # the closest null phecode: its Simes p and the Holm line it would have to pass
    hq = hierarchical_qvalues(pd.DataFrame({"p": _p_for_bh(pw.results_["log10_p"].to_numpy()),
                                            "phecode": pw.results_["phecode"].to_numpy()}))
    per = pd.DataFrame({"phecode": pw.results_["phecode"].astype(str), "p": hq["p_phecode"]}).dropna()
    per = per.groupby("phecode")["p"].first().sort_values()
    null = per[~per.index.map(related).astype(bool)]
    rank = int(np.flatnonzero(per.index == null.index[0])[0]) if len(null) else 0
    out.update({"closest_null": null.index[0] if len(null) else "", "closest_null_p": float(null.iloc[0])
                if len(null) else float("nan"), "closest_null_holm_line": 0.05 / (len(per) - rank)})
    lp = _label_p(mimic, cohort, sorted(set(out["false_codes"].split()) | set(out["false_codes_bh"].split())))
    out["false_label_p"] = " ".join(f"{c}:{v:.1e}" for c, v in lp.items())
    return out


def _summarise(df: pd.DataFrame, patients: int, ptbxl_n: int, json_path: str | None) -> dict:
    """Print the summary of per-scan rows against the targets (and write it as JSON); returns it."""
    df = df.copy()
    for col in [c for c in df.columns if c.startswith(("missed", "false_codes"))]:
        df[col] = df[col].fillna("").astype(str)        # empty lists read back from CSV as NaN
    print(f"\n{len(df)} scans ({df['features'].nunique()} feature sets x {df['seed'].nunique()} draws of "
          f"{patients} generated patients), default phewas (two-stage FDR 0.05, SPA, Firth)")
    summary = {"n_scans": len(df), "feature_sets": sorted(df["features"].unique()),
               "draw_seeds": sorted(int(x) for x in df["seed"].unique()), "patients": patients,
               "ptbxl_n": ptbxl_n, "rules": {}}
    for sfx, rule in (("", "holm (default)"), ("_bh", "bh")):
        worst = df[[f"fdp_hits{sfx}", f"fdp_phecodes{sfx}"]].max(axis=1)
        fig = {"sensitivity_median": float(df[f"sensitivity{sfx}"].median()),
               "sensitivity_min": float(df[f"sensitivity{sfx}"].min()),
               "fdp_hits_mean": float(df[f"fdp_hits{sfx}"].mean()), "fdp_hits_max": float(df[f"fdp_hits{sfx}"].max()),
               "fdp_phecodes_mean": float(df[f"fdp_phecodes{sfx}"].mean()),
               "fdp_phecodes_max": float(df[f"fdp_phecodes{sfx}"].max()),
               "scans_above_15pct": int((worst > 0.15).sum())}
        fig["targets_met"] = bool(fig["sensitivity_median"] >= 0.9 and fig["fdp_hits_mean"] <= 0.05
                                  and fig["fdp_phecodes_mean"] <= 0.05 and fig["scans_above_15pct"] == 0)
        summary["rules"][rule] = fig
        print(f" phecode stage {rule}:")
        print(f"  sensitivity: median {fig['sensitivity_median']:.2f} (min {fig['sensitivity_min']:.2f}) "
              f"[target median >= 0.9]")
        print(f"  hit-level FDP: mean {fig['fdp_hits_mean']:.3f}, max {fig['fdp_hits_max']:.3f} [target mean <= 0.05]")
        print(f"  phecode-level FDP: mean {fig['fdp_phecodes_mean']:.3f}, max {fig['fdp_phecodes_max']:.3f} "
              f"[target mean <= 0.05]")
        print(f"  scans with either FDP > 15 %: {fig['scans_above_15pct']} of {len(df)} [target 0]; "
              f"all targets met: {fig['targets_met']}")
        for name, g in df.groupby("features"):
            print(f"  {name}: sensitivity median {g[f'sensitivity{sfx}'].median():.2f}, FDP hits mean "
                  f"{g[f'fdp_hits{sfx}'].mean():.3f}, phecodes mean {g[f'fdp_phecodes{sfx}'].mean():.3f}")
        missed = pd.Series(" ".join(df[f"missed{sfx}"]).split()).value_counts()
        if len(missed):
            print("  missed pairs (scans): " + ", ".join(f"{k} ({v})" for k, v in missed.items()))
    gap = np.log10(df["closest_null_p"] / df["closest_null_holm_line"])
    print(f" closest null phecode per scan: Simes p / Holm line, log10 median {gap.median():.2f}, min {gap.min():.2f}")
    if json_path:
        Path(json_path).write_text(json.dumps(summary, indent=2))
    return summary


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
    ap.add_argument("--json", default=None, help="write the summary (targets, figures, settings) here")
    ap.add_argument("--from-csv", nargs="+", default=None, metavar="CSV",
                    help="only summarise per-scan tables written by --csv (e.g. one run per model in parallel)")
    args = ap.parse_args()
    if args.from_csv:
        _summarise(pd.concat([pd.read_csv(f) for f in args.from_csv],
                             ignore_index=True), args.patients, args.ptbxl_n, args.json)
        return 0

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
                  f"{r['phecodes_hit']}) missed [{r['missed']}] false [{r['false_codes']}] | BH stage: "
                  f"sens {r['sensitivity_bh']:.2f}, FDP hits {r['fdp_hits_bh']:.3f}, phecodes "
                  f"{r['fdp_phecodes_bh']:.3f} false [{r['false_codes_bh']}] | closest null {r['closest_null']} "
                  f"Simes p {r['closest_null_p']:.1e} (Holm line {r['closest_null_holm_line']:.1e}) | label p of "
                  f"false [{r['false_label_p']}] [scan CPU {r['scan_cpu_s']:.0f} s, "
                  f"{time.perf_counter() - t0:.0f} s]", flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    _summarise(df, args.patients, args.ptbxl_n, args.json)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
