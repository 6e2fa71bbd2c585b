# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # PheWAS walkthrough: ECG prototypes against MIMIC-IV phecodes
#
# This notebook walks through the whole phenotype analysis on the **demo data**. The demo MIMIC-IV is
# *generated*: synthetic patients, admissions, diagnoses and ECGs with planted ECG -> diagnosis
# associations whose truth is known (`ground_truth.csv`). Nothing here is a clinical finding.
#
# Inputs (set by environment variables, or found / generated automatically):
#
# * `PROTOECG_MIMIC` - a MIMIC-IV directory with `hosp/` and `ecg/` (default `demo_data/mimic`);
# * `PROTOECG_FEATURES` - the feature Parquet dataset from `protoecg infer` (default
#   `runs/demo/features.parquet`; its `_prototypes.csv` maps prototypes to classes, or set `PROTOECG_MODEL`
#   to the model run).
#
# When neither exists, a small synthetic MIMIC-IV is generated (tables only) and a stand-in feature table
# is derived from the labels each ECG was synthesised with, so the notebook always runs end to end.
# Outputs go to `PROTOECG_NB_OUT` (default `runs/notebook_phewas`).

# %%
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

logging.basicConfig(level=logging.WARNING)
OUT = Path(os.environ.get("PROTOECG_NB_OUT", "runs/notebook_phewas"))
OUT.mkdir(parents=True, exist_ok=True)
MIMIC = Path(os.environ.get("PROTOECG_MIMIC", "demo_data/mimic"))
FEATURES = Path(os.environ.get("PROTOECG_FEATURES", "runs/demo/features.parquet"))
MODEL = os.environ.get("PROTOECG_MODEL")
N_PATIENTS = int(os.environ.get("PROTOECG_NB_PATIENTS", "2000"))

# %% [markdown]
# ## 1. Data: the cohort and the feature table

# %%
from analysis.phewas_sim import label_features  # noqa: E402

if not (MIMIC / "hosp").exists():
    from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic

    MIMIC = Path(tempfile.mkdtemp(prefix="demo_mimic_"))
    synthesize_mimic(MIMIC, MimicSynthConfig(n_patients=N_PATIENTS, seed=0, write_waveforms=False))
    print(f"generated a synthetic MIMIC-IV (tables only) in {MIMIC}")

from analysis import study  # noqa: E402  (the same study code as `protoecg phewas`)

if FEATURES.exists():
    features = study.load_features(FEATURES)
    prototypes = study.find_prototype_table(FEATURES, MODEL or None)
    source = f"model features from {FEATURES}"
else:
    features, prototypes = label_features(pd.read_csv(MIMIC / "ecg_labels.csv"), seed=0)
    source = "stand-in features derived from the synthesis labels (no trained model found)"
print(source, features.shape)

# %%
from analysis.cohort import survival_table  # noqa: E402

cohort = study.study_cohort(MIMIC, version="1.2", min_cases=20, min_controls=20)
print("linkage rule:", cohort.rule)
print(len(cohort.units), "units,", cohort.phenotypes.shape[1], "phecodes with >= 20 cases and controls")
cohort.units[["subject_id", "hadm_id", "age", "sex"]].describe()

# %% [markdown]
# ## 2. Comparator features
# Prototype-class aggregates (mean / max similarity of a class's prototypes) and binary concepts from the
# ECG machine's own statements (`report_0..17`), scanned with the same engine as the prototypes.

# %%
table, pmap = study.build_feature_table(features, MIMIC, prototypes)
table.columns.str.split("_").str[0].value_counts()

# %% [markdown]
# ## 3. The scan
# One null model (age, sex) per phecode, a score test of every feature against it, exact batched Newton
# refits for pairs with score p < 1e-3, Wald p (reported), likelihood-ratio p, BH q and Bonferroni.
# Hits (`hit`) come from a two-stage FDR: phecodes are selected first (Simes p per phecode, Holm across
# phecodes: `q_phecode`), then features inside the selected phecodes (`q_hier`). Correlated prototype
# features make plain BH's false hits arrive in clusters; selecting diagnoses first keeps them rare.

# %%
from analysis.phewas import PheWAS  # noqa: E402

pw = PheWAS(min_cases=20, screen_p=1e-3).fit(table, cohort.phenotypes, cohort.units[["age", "sex"]],
                                             phecode_info=cohort.phecode_info)
print(f"{pw.n_tests_} tests, {pw.n_hits_} hits in {pw.n_phecodes_selected_} phecodes (two-stage FDR < 0.05); "
      f"plain BH over all tests would give {int((pw.results_['q'] < 0.05).sum())}")
pw.results_.to_parquet(OUT / "results.parquet", index=False)
pw.summary.head(15)[["feature", "phecode", "description", "n_cases", "odds_ratio", "or_ci_low", "or_ci_high",
                     "p", "q", "q_hier", "method"]]

# %% [markdown]
# ### Is the fast engine right? Compare refitted pairs with `statsmodels.Logit`.

# %%
import statsmodels.api as sm  # noqa: E402

check = pw.summary.head(5)
for row in check.itertuples():
    y = cohort.phenotypes[row.phecode].reindex(table.index)
    m = y.notna() & table.index.isin(cohort.units.index)
    f = table.loc[m, row.feature]
    X = sm.add_constant(np.column_stack([cohort.units.loc[f.index, "age"], cohort.units.loc[f.index, "sex"],
                                         (f - f.mean()) / f.std()]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.Logit(y[m].to_numpy(), X).fit(disp=0)
    print(f"{row.feature:>20} {row.phecode:>7}  |dbeta| = {abs(fit.params[-1] - row.beta):.1e}")

# %% [markdown]
# ## 4. Recovery of the planted associations
# A planted (signature S, phecode P) pair is recovered when a feature tied to S (prob_S, a prototype of
# class S, or a class-S aggregate) is a hit for P or a child of P; a hit is false when its phecode is
# not (a parent or child of) any planted phecode.

# %%
from analysis.recovery import read_ground_truth, score_recovery  # noqa: E402

truth_file = MIMIC / "ground_truth.csv"
if truth_file.exists():
    rec = score_recovery(pw.results_, read_ground_truth(truth_file, "1.2"), pmap)
    display_rec = {k: v for k, v in rec.items() if k != "pairs"}
    print(display_rec)
    print(pd.DataFrame(rec["pairs"]))

# %% [markdown]
# ## 5. Plots (Plotly; saved as HTML)

# %%
from analysis import plots  # noqa: E402

from protoecg.provenance import DEMO_DATA_NOTE  # noqa: E402

note = DEMO_DATA_NOTE
figs = {"manhattan": pw.plot_manhattan(note=note), "volcano": pw.plot_volcano(note=note),
        "forest": pw.plot_forest(note=note, top=15)}
for name, fig in figs.items():
    plots.save_html(fig, OUT / f"{name}.html")
figs["forest"]

# %% [markdown]
# ## 6. Mixed significance within a class vs intra-class prototype distance

# %%
from analysis.intraclass import intraclass_test  # noqa: E402

if pmap:
    sims = [c for c in table.columns if c in pmap]
    ic = intraclass_test(pw.results_, pmap, table[sims].T, n_permutations=2000)
    print(f"mixed classes: mean distance {ic.mean_mixed:.3f}; concordant: {ic.mean_concordant:.3f}; "
          f"Mann-Whitney p = {ic.mannwhitney_p:.3g}, permutation p = {ic.permutation_p:.3g}")
    ic.classes

# %% [markdown]
# ## 7. Predicting a phecode: prototypes vs class probabilities
# Five-fold cross-validated ridge logistic regression; AUROC with a bootstrap CI and a paired CI of the
# difference. Reference study (real data): AF 0.89, HF 0.91. These numbers are on generated data.

# %%
from analysis.prediction import compare_feature_sets  # noqa: E402

proto_cols = [c for c in table.columns if c.startswith("sim_")]
prob_cols = [c for c in table.columns if c.startswith("prob_")]
targets = [c for c in ("427.2", "428") if c in cohort.phenotypes.columns]
auc = compare_feature_sets(table.loc[table.index.isin(cohort.units.index)], cohort.phenotypes, targets,
                           {"class_probabilities": prob_cols, "prototypes": proto_cols}, n_boot=200)
auc.to_csv(OUT / "prediction_auroc.csv", index=False)
auc

# %% [markdown]
# ## 8. Survival: Cox hazard ratio per SD (clustered by patient) and Kaplan-Meier by quartile

# %%
from analysis.survival import cox_per_sd, km_by_quartile  # noqa: E402

units = cohort.units.loc[cohort.units.index.intersection(table.index)]
surv = survival_table(MIMIC, units)
cox = cox_per_sd(surv, table.loc[units.index, prob_cols], units[["age", "sex"]]).sort_values("p")
cox.to_csv(OUT / "survival.csv", index=False)
best = cox.iloc[0]["feature"]
km = km_by_quartile(surv, table.loc[units.index, best])
plots.save_html(plots.kaplan_meier(km, note=note), OUT / f"km_{best}.html")
print(km.at_risk)
cox[["feature", "hr_per_sd", "hr_ci_low", "hr_ci_high", "p", "ph_p", "note"]]
