"""``protoecg phewas`` and ``protoecg survival``: ECG features against MIMIC-IV phecodes and survival.

Both read the feature table written by ``protoecg infer`` (Parquet: study_id, ``sim_*``, ``prob_*``,
``logit_*``), build the analysis cohort from a MIMIC-IV directory (``hosp/`` + ``ecg/``) and write tidy
tables, Plotly HTML figures and a ``run.json`` with the linkage rule and every parameter. The study itself
is :mod:`analysis.study`; this module parses the arguments and prints the summary.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)


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
    p.add_argument("--phecode-stage", choices=["holm", "bh"], default="holm",
                   help="how the two-stage rule selects phecodes from their Simes p-values: Holm, so that any "
                        "null diagnosis is selected with probability <= alpha per scan (default), or "
                        "Benjamini-Hochberg (expected share of null diagnoses <= alpha)")
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


# analysis.study.UNITS, spelled here so that `protoecg --help` does not import the analysis package
_UNITS = ("first_ecg_per_admission", "first_ecg_per_patient", "last_ecg_per_admission", "all_ecgs")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", required=True, help="feature Parquet from `protoecg infer`")
    p.add_argument("--mimic", required=True, help="MIMIC-IV directory with hosp/ and ecg/")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--model", default=None, help="model run/bundle (prototype -> class table)")
    p.add_argument("--days-before-admit", type=float, default=7.0, help="linkage window before admission")
    p.add_argument("--unit", choices=list(_UNITS), default="first_ecg_per_admission",
                   help="unit of analysis; first_ecg_per_patient gives independent units when patients have "
                        "several admissions (recorded in every output)")
    p.add_argument("--json", action="store_true", help="print a summary JSON on stdout")
    p.add_argument("--no-progress", action="store_true")


# ---------------------------------------------------------------------------------------------- phewas
def run_phewas(args: argparse.Namespace) -> int:
    from analysis.study import run_phewas_study, to_json

    out = Path(args.out)
    summary = run_phewas_study(
        args.features, args.mimic, out, model=args.model, phecodes=args.phecodes, min_cases=args.min_cases,
        min_controls=args.min_controls, screen_p=args.screen_p, refit=args.refit, fdr=args.fdr,
        aggregates=not args.no_aggregates, concepts=not args.no_concepts, predict=args.predict,
        days_before_admit=args.days_before_admit, unit=args.unit, progress=not args.no_progress,
        min_code_count=args.min_code_count, covariates=args.covariates,
        covariate_cols=args.covariate_cols.split(",") if args.covariate_cols else None,
        calibrate=args.calibrate, phecode_stage=args.phecode_stage)
    if args.json:
        print(to_json(summary))
    else:
        alpha = summary["alpha"]
        rule = (f"two-stage FDR < {alpha:g}: {summary['n_phecodes_selected']} phecodes selected "
                f"({summary['phecode_stage']}), then "
                f"features within them; BH over all tests alone: {summary['n_hits_bh']} hits"
                if summary["fdr"] == "hierarchical" else f"BH q < {alpha:g} over all tests")
        print(f"{summary['n_tests']} tests, {summary['n_hits']} hits ({rule}) -> {out}")
        if "sensitivity" in summary:
            print(f"planted associations recovered: {summary['sensitivity']:.2f}; "
                  f"false discovery proportion {summary['false_discovery_proportion']:.3f} "
                  f"({summary['n_false_hits']} false hits in {summary['n_false_phecodes']} of "
                  f"{summary['n_phecodes_hit']} phecodes with hits)")
    return 0


# ---------------------------------------------------------------------------------------------- survival
def run_survival(args: argparse.Namespace) -> int:
    from analysis.study import run_survival_study, to_json

    out = Path(args.out)
    summary = run_survival_study(args.features, args.mimic, out, columns=args.feature, km=args.km,
                                 days_before_admit=args.days_before_admit, unit=args.unit)
    if args.json:
        print(to_json(summary))
    else:
        print(f"Cox per SD for {summary['n_features']} feature(s) on {summary['n_units']} units "
              f"({summary['n_events']} deaths) -> {out}")
    return 0
