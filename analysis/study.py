"""A phenotype study from a feature table: build the analysis table, run a PheWAS or a survival study, and
write and read its results folder.

The one implementation behind ``protoecg phewas`` / ``protoecg survival``, the walkthrough notebook, the
benches and the review app's phenotype explorer. A results folder holds::

    results.parquet / results.csv     the PheWAS table (one row per feature x phecode; RESULT_COLUMNS at least)
    manhattan.html volcano.html forest.html
    recovery.csv                      planted associations recovered (generated data with ground_truth.csv)
    intraclass.csv                    prototypes of one class that disagree (with a prototype table)
    prediction_auroc.csv              with ``predict``
    run.json                          the command, the linkage rule, every parameter, the summary, git commit

and a survival folder ``survival.parquet`` / ``survival.csv``, ``forest_hr.html``, ``km_<feature>.html``,
``km_<feature>_at_risk.csv`` and ``run.json``.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from data_access.errors import MetadataError
from protoecg.errors import ProtoECGError
from protoecg.provenance import DEMO_DATA_NOTE, git_commit

from .features import read_features
from .linkage import UNITS  # noqa: F401  (the units of analysis a study accepts)

log = logging.getLogger(__name__)

__all__ = ["RESULT_COLUMNS", "RESULT_FILES", "RUN_FILE", "SURVIVAL_FILES", "PhenotypeResults", "ResultsError",
           "build_feature_table", "find_prototype_table", "find_results", "load_features", "run_phewas_study",
           "run_survival_study", "study_cohort", "to_json"]

RESULT_FILES = ("results.parquet", "results.csv")
SURVIVAL_FILES = ("survival.parquet", "survival.csv")
RUN_FILE = "run.json"
GROUND_TRUTH_FILE = "ground_truth.csv"
# what a reader of a PheWAS table can count on
RESULT_COLUMNS = ("feature", "phecode", "odds_ratio", "p", "log10_p")


class ResultsError(ProtoECGError, ValueError):
    """A results file exists but cannot be used (message says which and why)."""


def load_features(path: str | Path) -> pd.DataFrame:
    """The feature table written by ``protoecg infer`` (see :func:`analysis.features.read_features`)."""
    return read_features(path)


def find_prototype_table(features: str | Path, model: str | Path | None = None) -> pd.DataFrame | None:
    """Prototype -> class table: ``model`` (its prototypes.csv, else its bundle), else the feature dataset's
    ``_prototypes.csv`` (written by ``protoecg infer``), else a ``prototypes.csv`` beside the features."""
    feats = Path(features)
    if model:
        table = Path(model) / "prototypes.csv"
        if table.exists():
            return pd.read_csv(table, keep_default_na=False)
        from protoecg.bundle import load_bundle
        return load_bundle(model).prototypes
    for cand in (feats / "_prototypes.csv", feats.with_name("prototypes.csv")):
        if cand.is_file():
            return pd.read_csv(cand, keep_default_na=False)
    log.warning("no prototype table found (give --model): no class aggregates, prototypes not scored "
                "against the ground truth")
    return None


def study_cohort(mimic: str | Path, days_before_admit: float = 7.0, unit: str = "first_ecg_per_admission",
                 version: str = "1.2", min_cases: int = 20, min_controls: int = 20, min_code_count: int = 1):
    """The analysis cohort (:func:`analysis.cohort.build_cohort`), warning when units share patients."""
    from .cohort import build_cohort
    from .linkage import LinkageRule

    cohort = build_cohort(mimic, rule=LinkageRule(days_before_admit=days_before_admit, unit=unit),
                          phecode_version=version, min_cases=min_cases, min_controls=min_controls,
                          min_code_count=min_code_count)
    n_units, n_patients = len(cohort.units), int(cohort.units["subject_id"].nunique())
    if n_units > 1.1 * n_patients:
        log.warning("%d units come from %d patients (%.2f per patient): a patient's admissions share chronic "
                    "diagnoses and ECG traits, so p-values can be too small; --unit first_ecg_per_patient "
                    "gives independent units", n_units, n_patients, n_units / max(n_patients, 1))
    return cohort


def build_feature_table(features: pd.DataFrame, mimic: str | Path | None, prototypes: pd.DataFrame | None,
                        aggregates: bool = True, concepts: bool = True) -> tuple[pd.DataFrame, dict[str, str]]:
    """(analysis table, prototype -> class map): the features, plus prototype-class aggregates (with a
    prototype table) and the ECG machine's statements as binary concepts (when ``mimic`` has them)."""
    from . import comparators

    pmap = comparators.prototype_class_map(prototypes) if prototypes is not None else {}
    extra = []
    if prototypes is not None and aggregates:
        extra.append(comparators.class_aggregates(features, prototypes))
    mm_path = comparators.find_machine_measurements(mimic) if mimic is not None and concepts else None
    if mm_path is not None:
        conc = comparators.machine_concepts(comparators.read_machine_measurements(mm_path))
        conc = conc.reindex(features.index)
        log.info("machine concepts: %d of %d units have no machine report (counted as no statement)",
                 int(conc.isna().all(axis=1).sum()), len(conc))
        extra.append(conc.fillna(0.0))
    return pd.concat([features] + extra, axis=1), pmap


def _clean(obj: Any) -> Any:
    """NaN/inf -> None so that the JSON is standard (json.dumps would write bare NaN)."""
    if isinstance(obj, float):
        return obj if obj == obj and obj not in (float("inf"), float("-inf")) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def to_json(obj: dict, **kw: Any) -> str:
    """Standard JSON (no NaN) of a summary or run record."""
    return json.dumps(_clean(obj), default=str, allow_nan=False, **kw)


def _demo_note(mimic: str | Path) -> str | None:
    return DEMO_DATA_NOTE if (Path(mimic) / GROUND_TRUTH_FILE).exists() else None


# ---------------------------------------------------------------------------------------------- phewas
def run_phewas_study(features: str | Path, mimic: str | Path, out: str | Path, *, model: str | None = None,
                     phecodes: str = "1.2", min_cases: int = 20, min_controls: int = 20, screen_p: float = 1e-3,
                     refit: str = "hits", fdr: str = "hierarchical", aggregates: bool = True,
                     concepts: bool = True, predict: Sequence[str] | None = None, days_before_admit: float = 7.0,
                     unit: str = "first_ecg_per_admission", progress: bool = True, min_code_count: int = 1,
                     covariates: str | Path | None = None, covariate_cols: Sequence[str] | None = None,
                     calibrate: int = 0, phecode_stage: str = "holm") -> dict:
    """Scan every feature against every phecode and write the results folder ``out``; returns the summary.

    ``covariates``: a CSV/Parquet of extra covariates keyed by subject_id or study_id (age and sex always);
    ``calibrate``: permutations of case status over the model's features whose observed/expected null rates
    are recorded in ``run.json``."""
    from . import plots
    from .phewas import PheWAS
    from .recovery import read_ground_truth, score_recovery

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from .covariates import build_covariates
    from .phewas import PheWASInputError

    if min_code_count < 1:
        raise PheWASInputError("--min-code-count must be at least 1")
    feats = load_features(features)
    cohort = study_cohort(mimic, days_before_admit, unit, phecodes, min_cases, min_controls, min_code_count)
    design = build_covariates(cohort.units, path=covariates, columns=list(covariate_cols) if covariate_cols else None)
    protos = find_prototype_table(features, model)
    table, pmap = build_feature_table(feats, mimic, protos, aggregates, concepts)
    pw = PheWAS(min_cases=min_cases, min_controls=min_controls, screen_p=screen_p, refit=refit, fdr=fdr,
                covariates=design.columns, phecode_stage=phecode_stage, progress=progress)
    pw.fit(table, cohort.phenotypes, design.table, phecode_info=cohort.phecode_info)
    res = pw.results_
    res.to_parquet(out / RESULT_FILES[0], index=False)
    res.to_csv(out / RESULT_FILES[1], index=False)
    truth_path = Path(mimic) / GROUND_TRUTH_FILE
    note = _demo_note(mimic)
    plots.save_html(pw.plot_manhattan(note=note), out / "manhattan.html")
    plots.save_html(pw.plot_volcano(note=note), out / "volcano.html")
    plots.save_html(pw.plot_forest(note=note), out / "forest.html")
    summary = {"n_units": pw.n_units_, "n_patients": int(cohort.units["subject_id"].nunique()),
               "unit": unit, "n_features": len(pw.features_), "n_phecodes": int(res["phecode"].nunique()),
               "n_tests": pw.n_tests_, "n_hits": pw.n_hits_, "fdr": pw.config.fdr,
               "phecode_stage": pw.config.phecode_stage,
               "n_phecodes_selected": pw.n_phecodes_selected_,
               "n_hits_bh": int((res["q"] < pw.config.alpha).sum()),
               "n_bonferroni": int(res["bonferroni"].sum()),
               "n_refitted": int((res["estimate"] != "one_step").sum()),
               "n_firth": int((res["estimate"] == "firth").sum()),
               "n_saddlepoint": int((res["method"] == "score_spa").sum()),
               "n_not_converged": int((~res["converged"]).sum()), "linkage_rule": cohort.rule,
               "phecode_version": phecodes, "alpha": pw.config.alpha}
    if truth_path.exists():
        truth = read_ground_truth(truth_path, phecode_version=phecodes)
        rec = score_recovery(res, truth, pmap, alpha=pw.config.alpha)
        pd.DataFrame(rec.pop("pairs")).to_csv(out / "recovery.csv", index=False)
        summary.update({k: rec[k] for k in ("sensitivity", "false_discovery_proportion", "n_planted",
                                            "n_planted_tested", "n_recovered", "n_false_hits",
                                            "n_phecodes_hit", "n_false_phecodes",
                                            "n_null_tests", "nominal_fdr", "expected_false_hits",
                                            "null_p_below")})
    if pmap:
        from .intraclass import intraclass_test

        sims = [c for c in table.columns if c in pmap]
        ic = intraclass_test(res, pmap, table.loc[table.index.isin(cohort.units.index), sims].T,
                             n_permutations=2000)
        ic.classes.to_csv(out / "intraclass.csv", index=False)
        summary.update({"intraclass_mean_distance_mixed": ic.mean_mixed,
                        "intraclass_mean_distance_concordant": ic.mean_concordant,
                        "intraclass_mannwhitney_p": ic.mannwhitney_p})
    if predict:
        from .prediction import compare_feature_sets

        sets = {"class_probabilities": [c for c in table.columns if c.startswith("prob_")],
                "prototypes": [c for c in table.columns if c.startswith("sim_")]}
        sets = {k: v for k, v in sets.items() if v}
        codes = [c for c in predict if c in cohort.phenotypes.columns]
        if sets and codes:
            auc = compare_feature_sets(table.loc[table.index.isin(cohort.units.index)], cohort.phenotypes,
                                       codes, sets, n_boot=500)
            auc.to_csv(out / "prediction_auroc.csv", index=False)
            summary["prediction_auroc"] = auc[["phecode", "feature_set", "auroc", "ci_low", "ci_high"]] \
                .to_dict("records")
    calibration = None
    if calibrate > 0:
        from . import comparators
        from .calibration import permutation_calibration

        model_feats = comparators.scan_table(feats, protos, None, aggregates=aggregates)
        cal = permutation_calibration(model_feats, cohort.phenotypes, design.table, n_permutations=calibrate,
                                      min_cases=min_cases, min_controls=min_controls)
        calibration = {"method": "row permutations of the phenotype table over the model's features with "
                                 "pairwise |r| < 0.8", **cal.to_dict()}
        summary["calibration_ratios"] = {str(r["threshold"]): r["ratio"] for r in cal.table.to_dict("records")}
    summary["wall_s"] = round(time.perf_counter() - t0, 2)
    (out / RUN_FILE).write_text(to_json({
        "command": "phewas", "features": str(features), "mimic": str(mimic), "model": model,
        "calibration": calibration, "covariates": design.report(), "min_code_count": min_code_count,
        "linkage_rule": cohort.rule, "linkage_stats": cohort.linkage_stats, "config": pw.config_,
        "n_dropped_units": len(pw.dropped_units_), "constant_features": pw.constant_features_,
        "skipped_phecodes": int(len(pw.skipped_phecodes_) + len(cohort.dropped_phecodes)),
        "bad_rows": len(cohort.bad_rows), "git_commit": git_commit(), "note": note, "summary": summary},
        indent=2))
    return summary


# ---------------------------------------------------------------------------------------------- survival
def run_survival_study(features: str | Path, mimic: str | Path, out: str | Path, *,
                       columns: Sequence[str] | None = None, km: int = 3, days_before_admit: float = 7.0,
                       unit: str = "first_ecg_per_admission") -> dict:
    """Cox hazard ratio per SD for each feature (default: every ``prob_*``) and Kaplan-Meier curves by
    quartile for the ``km`` strongest; writes the survival folder ``out`` and returns the summary."""
    from . import plots
    from .cohort import survival_table
    from .recovery import read_ground_truth
    from .survival import cox_per_sd, km_by_quartile

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    feats = load_features(features)
    cohort = study_cohort(mimic, days_before_admit, unit, min_cases=1, min_controls=1)
    cols = list(columns or [c for c in feats.columns if str(c).startswith("prob_")])
    missing = [c for c in cols if c not in feats.columns]
    if missing or not cols:
        raise MetadataError(f"feature column(s) not in {features}: {missing or 'no prob_* columns'}")
    units = cohort.units.loc[cohort.units.index.intersection(feats.index)]
    surv = survival_table(mimic, units)
    cox = cox_per_sd(surv, feats[cols], units[["age", "sex"]])
    cox = cox.sort_values("p", na_position="last").reset_index(drop=True)
    cox.to_parquet(out / SURVIVAL_FILES[0], index=False)
    cox.to_csv(out / SURVIVAL_FILES[1], index=False)
    truth_path = Path(mimic) / GROUND_TRUTH_FILE
    note = _demo_note(mimic)
    plots.save_html(plots.forest(cox, estimate="hr_per_sd", low="hr_ci_low", high="hr_ci_high",
                                 label_cols=("feature",), xlabel="hazard ratio per SD (95% CI)", note=note),
                    out / "forest_hr.html")
    km_summ = []
    for feat in cox.dropna(subset=["p"])["feature"].head(km):
        curves = km_by_quartile(surv, feats.loc[units.index, feat])
        plots.save_html(plots.kaplan_meier(curves, note=note), out / f"km_{feat}.html")
        curves.at_risk.to_csv(out / f"km_{feat}_at_risk.csv")
        km_summ.append({"feature": feat, "logrank_p": curves.logrank_p})
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
    (out / RUN_FILE).write_text(to_json({
        "command": "survival", "features": str(features), "mimic": str(mimic), "linkage_rule": cohort.rule,
        "covariates": ["age", "sex"], "cluster": "subject_id", "git_commit": git_commit(), "note": note,
        "summary": summary}, indent=2))
    return summary


# ---------------------------------------------------------------------------------------------- reading
@dataclass
class PhenotypeResults:
    """A results folder as read back: the PheWAS table, and the Cox table / KM figures when present."""

    directory: Path
    table: pd.DataFrame
    source: Path
    survival: pd.DataFrame | None = None
    km_html: dict[str, Path] = field(default_factory=dict)


def _read(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype={"phecode": str})
    except Exception as exc:  # noqa: BLE001 - a damaged file gets a message, not a traceback
        raise ResultsError(f"cannot read {path}: {exc}") from exc


def find_results(directory: str | Path | None, survival_dir: str | Path | None = None) -> PhenotypeResults | None:
    """The PheWAS table (and Cox table / KM figures when present); None when nothing was written yet."""
    if directory is None or not Path(directory).is_dir():
        return None
    d = Path(directory)
    src = next((d / f for f in RESULT_FILES if (d / f).is_file()), None)
    if src is None:
        return None
    table = _read(src)
    missing = [c for c in RESULT_COLUMNS if c not in table.columns]
    if missing:
        raise ResultsError(f"{src} lacks column(s) {', '.join(missing)}; was it written by "
                           "`protoecg phewas`?")
    table["phecode"] = table["phecode"].astype(str)
    surv, km = None, {}
    if survival_dir is not None and Path(survival_dir).is_dir():
        s = Path(survival_dir)
        s_src = next((s / f for f in SURVIVAL_FILES if (s / f).is_file()), None)
        if s_src is not None:
            try:
                surv = _read(s_src)
            except ResultsError as exc:
                log.warning("%s", exc)
        km = {p.stem.removeprefix("km_"): p for p in sorted(s.glob("km_*.html"))}
    return PhenotypeResults(d, table, src, surv, km)
