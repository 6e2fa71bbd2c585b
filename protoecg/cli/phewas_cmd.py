"""``protoecg phewas`` and ``protoecg survival``: ECG features against MIMIC-IV phecodes and survival.

Both read the feature table written by ``protoecg infer`` (Parquet: study_id, ``sim_*``, ``prob_*``,
``logit_*``), build the analysis cohort from a MIMIC-IV directory (``hosp/`` + ``ecg/``) and write tidy
tables, Plotly HTML figures and a ``run.json`` with the linkage rule and every parameter.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)

DEMO_NOTE = "demo data: generated ECGs and diagnoses, not patients"


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``phewas`` and ``survival`` to the ``protoecg`` parser."""
    p = sub.add_parser("phewas", help="scan ECG features against phecodes (logistic, age/sex adjusted)",
                       description="Every feature against every phecode with >= --min-cases cases: odds ratio "
                                   "per SD, p, BH q, Bonferroni; writes results.parquet/.csv, manhattan.html, "
                                   "volcano.html, forest.html and run.json in --out.")
    _common(p)
    p.add_argument("--phecodes", choices=["1.2", "X"], default="1.2", help="phecode system")
    p.add_argument("--min-cases", type=int, default=20)
    p.add_argument("--min-controls", type=int, default=20)
    p.add_argument("--min-code-count", type=int, default=1,
                   help="distinct ICD codes of a phecode in the unit's admission needed for a case; units with "
                        "fewer (but some) are excluded (default 1: MIMIC-IV lists a code once per admission; "
                        "PheTK's 2 counts codes over a patient's record)")
    p.add_argument("--covariates", default=None, metavar="FILE",
                   help="CSV/Parquet of extra covariates keyed by subject_id or study_id; text columns are "
                        "dummy-coded, constant or collinear columns dropped and reported (age and sex always)")
    p.add_argument("--covariate-cols", default=None,
                   help="comma-separated columns of --covariates to use (default: all but the key)")
    p.add_argument("--calibrate", type=int, default=0, metavar="N",
                   help="also run N permutations of case status over the model's decorrelated features and "
                        "record the observed/expected null rates at 1e-2/1e-3/1e-4 in run.json (default 0)")
    p.add_argument("--screen-p", type=float, default=1e-3,
                   help="score-test p below which a pair is refitted exactly (default 1e-3)")
    p.add_argument("--refit", choices=["hits", "all"], default="hits")
    p.add_argument("--fdr", choices=["hierarchical", "bh"], default="hierarchical",
                   help="multiple-testing rule deciding the `hit` column: two-stage phecode-then-feature FDR "
                        "(default) or Benjamini-Hochberg over all tests (`q` is always reported)")
    p.add_argument("--no-aggregates", action="store_true", help="skip prototype-class aggregates")
    p.add_argument("--no-concepts", action="store_true", help="skip machine-statement concepts")
    p.add_argument("--predict", action="append", default=None, metavar="PHECODE",
                   help="also write cross-validated AUROC (prototypes vs class probabilities) for this "
                        "phecode (repeatable)")
    p.set_defaults(func=run_phewas)

    s = sub.add_parser("survival", help="Cox hazard ratio per SD and Kaplan-Meier by quartile",
                       description="Cox model of death after the ECG per feature (HR per SD, adjusted for age "
                                   "and sex, robust SE clustered by patient, PH test) and Kaplan-Meier curves "
                                   "by quartile for the strongest features; writes survival.parquet/.csv, "
                                   "forest_hr.html, km_<feature>.html and run.json in --out.")
    _common(s)
    s.add_argument("--feature", action="append", default=None,
                   help="feature column to analyse (repeatable; default: all prob_* columns)")
    s.add_argument("--km", type=int, default=3, help="Kaplan-Meier plots for the N strongest features")
    s.set_defaults(func=run_survival)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", required=True, help="feature Parquet from `protoecg infer`")
    p.add_argument("--mimic", required=True, help="MIMIC-IV directory with hosp/ and ecg/")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--model", default=None, help="model run/bundle (prototype -> class table)")
    p.add_argument("--days-before-admit", type=float, default=7.0, help="linkage window before admission")
    p.add_argument("--unit", choices=["first_ecg_per_admission", "first_ecg_per_patient", "last_ecg_per_admission",
                                      "all_ecgs"], default="first_ecg_per_admission",
                   help="unit of analysis; first_ecg_per_patient gives independent units when patients have "
                        "several admissions (recorded in every output)")
    p.add_argument("--json", action="store_true", help="print a summary JSON on stdout")
    p.add_argument("--no-progress", action="store_true")


# ---------------------------------------------------------------------------------------------- helpers
def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _load_features(path: str):
    import pandas as pd
    from data_access.errors import MetadataError

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"feature table {p} not found (write it with `protoecg infer`)")
    df = pd.read_parquet(p)
    if "study_id" in df.columns:
        df = df.set_index("study_id")
    elif df.index.name != "study_id":
        raise MetadataError(f"{p}: no study_id column")
    df.index = df.index.astype("int64")
    return df[~df.index.duplicated()]


def _prototype_table(args: argparse.Namespace):
    """Prototype -> class table: --model RUN (its prototypes.csv), else the feature dataset's
    ``_prototypes.csv`` (written by ``protoecg infer``), else a ``prototypes.csv`` beside the features."""
    import pandas as pd

    feats = Path(args.features)
    if args.model:
        table = Path(args.model) / "prototypes.csv"
        if table.exists():
            return pd.read_csv(table, keep_default_na=False)
        from protoecg.bundle import load_bundle
        return load_bundle(args.model).prototypes
    for cand in (feats / "_prototypes.csv", feats.with_name("prototypes.csv")):
        if cand.is_file():
            return pd.read_csv(cand, keep_default_na=False)
    log.warning("no prototype table found (give --model): no class aggregates, prototypes not scored "
                "against the ground truth")
    return None


def _cohort(args: argparse.Namespace, version: str = "1.2", min_cases: int = 20, min_controls: int = 20,
            min_code_count: int = 1):
    from analysis.cohort import build_cohort
    from analysis.linkage import LinkageRule

    cohort = build_cohort(args.mimic, rule=LinkageRule(days_before_admit=args.days_before_admit, unit=args.unit),
                          phecode_version=version, min_cases=min_cases, min_controls=min_controls,
                          min_code_count=min_code_count)
    n_units, n_patients = len(cohort.units), int(cohort.units["subject_id"].nunique())
    if n_units > 1.1 * n_patients:
        log.warning("%d units come from %d patients (%.2f per patient): a patient's admissions share chronic "
                    "diagnoses and ECG traits, so p-values can be too small; --unit first_ecg_per_patient "
                    "gives independent units", n_units, n_patients, n_units / max(n_patients, 1))
    return cohort


def _clean(obj):
    """NaN/inf -> None so that the JSON is standard (json.dumps would write bare NaN)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _dumps(obj: dict, **kw) -> str:
    return json.dumps(_clean(obj), default=str, allow_nan=False, **kw)


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(_dumps(obj, indent=2))


# ---------------------------------------------------------------------------------------------- phewas
def run_phewas(args: argparse.Namespace) -> int:
    import pandas as pd

    from analysis import comparators, plots
    from analysis.phewas import PheWAS
    from analysis.recovery import read_ground_truth, score_recovery

    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    feats = _load_features(args.features)
    from analysis.covariates import build_covariates

    if args.min_code_count < 1:
        raise SystemExit("error: --min-code-count must be at least 1")
    cohort = _cohort(args, args.phecodes, args.min_cases, args.min_controls, args.min_code_count)
    design = build_covariates(cohort.units, path=args.covariates,
                              columns=args.covariate_cols.split(",") if args.covariate_cols else None)
    protos = _prototype_table(args)
    pmap = comparators.prototype_class_map(protos) if protos is not None else {}
    table = comparators.scan_table(feats, protos, args.mimic, aggregates=not args.no_aggregates,
                                   concepts=not args.no_concepts)
    pw = PheWAS(min_cases=args.min_cases, min_controls=args.min_controls, screen_p=args.screen_p,
                refit=args.refit, fdr=args.fdr, covariates=design.columns, progress=not args.no_progress)
    pw.fit(table, cohort.phenotypes, design.table, phecode_info=cohort.phecode_info)
    res = pw.results_
    res.to_parquet(out / "results.parquet", index=False)
    res.to_csv(out / "results.csv", index=False)
    truth_path = Path(args.mimic) / "ground_truth.csv"
    note = DEMO_NOTE if truth_path.exists() else None
    plots.save_html(pw.plot_manhattan(note=note), out / "manhattan.html")
    plots.save_html(pw.plot_volcano(note=note), out / "volcano.html")
    plots.save_html(pw.plot_forest(note=note), out / "forest.html")
    summary = {"n_units": pw.n_units_, "n_patients": int(cohort.units["subject_id"].nunique()),
               "unit": args.unit, "n_features": len(pw.features_), "n_phecodes": int(res["phecode"].nunique()),
               "n_tests": pw.n_tests_, "n_hits": pw.n_hits_, "fdr": pw.config.fdr,
               "n_phecodes_selected": pw.n_phecodes_selected_,
               "n_hits_bh": int((res["q"] < pw.config.alpha).sum()),
               "n_bonferroni": int(res["bonferroni"].sum()),
               "n_refitted": int((res["estimate"] != "one_step").sum()),
               "n_firth": int((res["estimate"] == "firth").sum()),
               "n_saddlepoint": int((res["method"] == "score_spa").sum()),
               "n_not_converged": int((~res["converged"]).sum()), "linkage_rule": cohort.rule,
               "phecode_version": args.phecodes}
    if truth_path.exists():
        truth = read_ground_truth(truth_path, phecode_version=args.phecodes)
        rec = score_recovery(res, truth, pmap, alpha=pw.config.alpha)
        pd.DataFrame(rec.pop("pairs")).to_csv(out / "recovery.csv", index=False)
        summary.update({k: rec[k] for k in ("sensitivity", "false_discovery_proportion", "n_planted",
                                            "n_planted_tested", "n_recovered", "n_false_hits",
                                            "n_phecodes_hit", "n_false_phecodes",
                                            "n_null_tests", "nominal_fdr", "expected_false_hits",
                                            "null_p_below")})
    if pmap:
        from analysis.intraclass import intraclass_test

        sims = [c for c in table.columns if c in pmap]
        ic = intraclass_test(res, pmap, table.loc[table.index.isin(cohort.units.index), sims].T,
                             n_permutations=2000)
        ic.classes.to_csv(out / "intraclass.csv", index=False)
        summary.update({"intraclass_mean_distance_mixed": ic.mean_mixed,
                        "intraclass_mean_distance_concordant": ic.mean_concordant,
                        "intraclass_mannwhitney_p": ic.mannwhitney_p})
    if args.predict:
        from analysis.prediction import compare_feature_sets

        sets = {"class_probabilities": [c for c in table.columns if c.startswith("prob_")],
                "prototypes": [c for c in table.columns if c.startswith("sim_")]}
        sets = {k: v for k, v in sets.items() if v}
        codes = [c for c in args.predict if c in cohort.phenotypes.columns]
        if sets and codes:
            auc = compare_feature_sets(table.loc[table.index.isin(cohort.units.index)], cohort.phenotypes,
                                       codes, sets, n_boot=500)
            auc.to_csv(out / "prediction_auroc.csv", index=False)
            summary["prediction_auroc"] = auc[["phecode", "feature_set", "auroc", "ci_low", "ci_high"]] \
                .to_dict("records")
    calibration = None
    if args.calibrate > 0:
        from analysis.calibration import permutation_calibration

        model_feats = comparators.scan_table(feats, protos, None, aggregates=not args.no_aggregates)
        cal = permutation_calibration(model_feats, cohort.phenotypes, design.table, n_permutations=args.calibrate,
                                      min_cases=args.min_cases,
                                      min_controls=args.min_controls)
        calibration = {"method": "row permutations of the phenotype table over the model's features with "
                                 "pairwise |r| < 0.8", **cal.to_dict()}
        summary["calibration_ratios"] = {str(r["threshold"]): r["ratio"] for r in cal.table.to_dict("records")}
    summary["wall_s"] = round(time.perf_counter() - t0, 2)
    _write_json(out / "run.json", {
        "command": "phewas", "calibration": calibration, "features": str(args.features), "mimic": str(args.mimic), "model": args.model,
        "linkage_rule": cohort.rule, "linkage_stats": cohort.linkage_stats, "config": pw.config_,
        "covariates": design.report(), "min_code_count": args.min_code_count,
        "n_dropped_units": len(pw.dropped_units_), "constant_features": pw.constant_features_,
        "skipped_phecodes": int(len(pw.skipped_phecodes_) + len(cohort.dropped_phecodes)),
        "bad_rows": len(cohort.bad_rows), "git_commit": _git_commit(), "note": note, "summary": summary})
    if args.json:
        print(_dumps(summary))
    else:
        rule = (f"two-stage FDR < {pw.config.alpha:g}: {summary['n_phecodes_selected']} phecodes selected, then "
                f"features within them; BH over all tests alone: {summary['n_hits_bh']} hits"
                if summary["fdr"] == "hierarchical" else f"BH q < {pw.config.alpha:g} over all tests")
        print(f"{summary['n_tests']} tests, {summary['n_hits']} hits ({rule}) -> {out}")
        if "sensitivity" in summary:
            print(f"planted associations recovered: {summary['sensitivity']:.2f}; "
                  f"false discovery proportion {summary['false_discovery_proportion']:.3f} "
                  f"({summary['n_false_hits']} false hits in {summary['n_false_phecodes']} of "
                  f"{summary['n_phecodes_hit']} phecodes with hits)")
    return 0


# ---------------------------------------------------------------------------------------------- survival
def run_survival(args: argparse.Namespace) -> int:
    from analysis import plots
    from analysis.cohort import survival_table
    from analysis.recovery import read_ground_truth
    from analysis.survival import cox_per_sd, km_by_quartile
    from data_access.errors import MetadataError

    t0 = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    feats = _load_features(args.features)
    cohort = _cohort(args, min_cases=1, min_controls=1)
    cols = args.feature or [c for c in feats.columns if str(c).startswith("prob_")]
    missing = [c for c in cols if c not in feats.columns]
    if missing or not cols:
        raise MetadataError(f"feature column(s) not in {args.features}: {missing or 'no prob_* columns'}")
    units = cohort.units.loc[cohort.units.index.intersection(feats.index)]
    surv = survival_table(args.mimic, units)
    cox = cox_per_sd(surv, feats[cols], units[["age", "sex"]])
    cox = cox.sort_values("p", na_position="last").reset_index(drop=True)
    cox.to_parquet(out / "survival.parquet", index=False)
    cox.to_csv(out / "survival.csv", index=False)
    truth_path = Path(args.mimic) / "ground_truth.csv"
    note = DEMO_NOTE if truth_path.exists() else None
    plots.save_html(plots.forest(cox, estimate="hr_per_sd", low="hr_ci_low", high="hr_ci_high",
                                 label_cols=("feature",), xlabel="hazard ratio per SD (95% CI)", note=note),
                    out / "forest_hr.html")
    km_summ = []
    for feat in cox.dropna(subset=["p"])["feature"].head(args.km):
        km = km_by_quartile(surv, feats.loc[units.index, feat])
        plots.save_html(plots.kaplan_meier(km, note=note), out / f"km_{feat}.html")
        km.at_risk.to_csv(out / f"km_{feat}_at_risk.csv")
        km_summ.append({"feature": feat, "logrank_p": km.logrank_p})
    summary = {"n_units": int(len(surv)), "n_events": int(surv["event"].sum()), "n_features": len(cols),
               "top": cox.head(5)[["feature", "hr_per_sd", "hr_ci_low", "hr_ci_high", "p", "ph_p"]]
               .to_dict("records"), "kaplan_meier": km_summ, "linkage_rule": cohort.rule}
    if truth_path.exists():
        truth = read_ground_truth(truth_path, phecode_version="survival")
        sig = truth.loc[truth["planted"], "signature"].tolist()
        hit = cox[(cox["p"] < 0.05) & cox["feature"].isin([f"prob_{s}" for s in sig])]
        summary["planted_survival_signatures"] = sig
        summary["planted_survival_recovered"] = bool(len(hit))
    summary["wall_s"] = round(time.perf_counter() - t0, 2)
    _write_json(out / "run.json", {"command": "survival", "features": str(args.features), "mimic": str(args.mimic),
                                   "linkage_rule": cohort.rule, "covariates": ["age", "sex"],
                                   "cluster": "subject_id", "git_commit": _git_commit(), "note": note,
                                   "summary": summary})
    if args.json:
        print(_dumps(summary))
    else:
        print(f"Cox per SD for {len(cols)} feature(s) on {len(surv)} units ({summary['n_events']} deaths) -> {out}")
    return 0
