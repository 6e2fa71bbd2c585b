"""``protoecg phewas`` / ``protoecg survival`` end to end on a generated MIMIC-IV with planted truth.

The MIMIC-IV directory is the project's synthetic one (tables only, no waveforms, to stay fast); the feature
table is built from the labels each ECG was synthesised with (:func:`analysis.phewas_sim.label_features`),
standing in for ``protoecg infer`` output, with a ``prototypes.csv`` beside it.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.phewas import RESULT_COLUMNS
from analysis.phewas_sim import label_features
from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic
from protoecg_cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("phewas_cli")
    mimic = root / "mimic"
    synthesize_mimic(mimic, MimicSynthConfig(n_patients=2000, seed=0, write_waveforms=False))
    feats, protos = label_features(pd.read_csv(mimic / "ecg_labels.csv"), seed=0)
    fdir = root / "features"
    fdir.mkdir()
    feats.reset_index().to_parquet(fdir / "features.parquet", index=False)
    protos.to_csv(fdir / "prototypes.csv", index=False)
    return root, mimic, fdir / "features.parquet"


def test_phewas_cli_writes_results_and_scores_the_planted_truth(demo, capsys):
    root, mimic, feats = demo
    out = root / "out"
    rc = main(["phewas", "--features", str(feats), "--mimic", str(mimic), "--out", str(out), "--json",
               "--no-progress", "--predict", "427.2"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for f in ("results.parquet", "results.csv", "manhattan.html", "volcano.html", "forest.html", "run.json",
              "recovery.csv", "intraclass.csv", "prediction_auroc.csv"):
        assert (out / f).stat().st_size > 0, f
    res = pd.read_parquet(out / "results.parquet")
    assert list(res.columns) == RESULT_COLUMNS
    assert summary["n_tests"] == int(res["p"].notna().sum())
    assert summary["n_hits"] == int(res["hit"].sum()) == int((res["q_hier"] < 0.05).sum())
    assert summary["fdr"] == "hierarchical" and summary["n_hits_bh"] == int((res["q"] < 0.05).sum())
    assert summary["n_phecodes_selected"] == res.loc[res["q_phecode"] < 0.05, "phecode"].nunique()
    kinds = set(res["feature_kind"])
    assert {"prototype", "class_probability", "class_aggregate", "machine_concept"} <= kinds
    run = json.loads((out / "run.json").read_text())
    assert "admittime - 7 days" in run["linkage_rule"] and run["config"]["min_cases"] == 20
    # Targets on generated data: sensitivity >= 90 % and false discovery proportion <= 5 % among the hits
    # of the default two-stage FDR at 0.05 (seeds 0-29 of this generator: FDP 0-2.9 %, sensitivity
    # 0.9-1.0; plain BH over all tests scattered 0-13 %). The null p-values must be uniform as well.
    assert summary["n_planted_tested"] == summary["n_planted"] >= 8
    assert summary["sensitivity"] >= 0.9
    assert 0.0 <= summary["false_discovery_proportion"] <= 0.05
    assert summary["n_false_phecodes"] <= 1
    assert 0.9 * 0.05 < summary["nominal_fdr"] <= 0.05
    assert summary["n_null_tests"] > 0.9 * summary["n_tests"]
    calib = summary["null_p_below"]
    assert 0.035 <= calib["0.05"] <= 0.065 and 0.006 <= calib["0.01"] <= 0.014 and calib["0.001"] <= 0.003
    assert {r["feature_set"] for r in summary["prediction_auroc"]} == {"class_probabilities", "prototypes"}
    assert all(r["auroc"] > 0.65 for r in summary["prediction_auroc"])       # AF is planted with OR 10
    assert "intraclass_mannwhitney_p" in summary
    rec = pd.read_csv(out / "recovery.csv")
    assert rec["recovered"].mean() == summary["sensitivity"]


def test_survival_cli_finds_the_planted_hazard(demo, capsys):
    root, mimic, feats = demo
    out = root / "surv"
    rc = main(["survival", "--features", str(feats), "--mimic", str(mimic), "--out", str(out), "--json",
               "--km", "2", "--no-progress"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    cox = pd.read_csv(out / "survival.csv")
    assert set(cox["feature"]) == {c for c in pd.read_parquet(feats).columns if c.startswith("prob_")}
    assert summary["planted_survival_signatures"] == ["CLBBB"]
    lbbb = cox.set_index("feature").loc["prob_CLBBB"]
    assert lbbb["hr_per_sd"] > 1 and lbbb["p"] < 0.05
    assert summary["planted_survival_recovered"] is True
    assert len(summary["kaplan_meier"]) == 2
    for k in summary["kaplan_meier"]:
        assert (out / f"km_{k['feature']}.html").exists()
        risk = pd.read_csv(out / f"km_{k['feature']}_at_risk.csv", index_col=0)
        assert (risk.diff(axis=1).iloc[:, 1:] <= 0).all().all()   # numbers at risk never increase


def test_cli_reports_missing_feature_table(tmp_path, capsys):
    rc = main(["phewas", "--features", str(tmp_path / "nope.parquet"), "--mimic", str(tmp_path),
               "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "not found" in capsys.readouterr().err


def test_phewas_cli_patient_units_and_the_clustering_warning(demo, capsys, caplog):
    root, mimic, feats = demo
    out = root / "out_patient"
    rc = main(["phewas", "--features", str(feats), "--mimic", str(mimic), "--out", str(out), "--json",
               "--no-progress", "--unit", "first_ecg_per_patient", "--no-concepts"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["unit"] == "first_ecg_per_patient" and summary["n_units"] == summary["n_patients"]
    run = json.loads((out / "run.json").read_text())
    assert "unit = first_ecg_per_patient" in run["linkage_rule"]
    assert not any("per patient" in r.message for r in caplog.records)
    caplog.clear()
    rc = main(["phewas", "--features", str(feats), "--mimic", str(mimic), "--out", str(root / "out_adm"),
               "--json", "--no-progress", "--no-concepts"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["n_units"] > summary["n_patients"]
    assert any("first_ecg_per_patient" in r.message for r in caplog.records)


def test_phewas_cli_covariate_file_and_calibration(demo, capsys):
    import numpy as np

    root, mimic, feats = demo
    pts = pd.read_csv(mimic / "hosp" / "patients.csv.gz")
    rng = np.random.default_rng(0)
    cov = pd.DataFrame({"subject_id": pts["subject_id"], "site": rng.choice(["a", "b"], len(pts)), "one": 1.0})
    cov.to_csv(root / "cov.csv", index=False)
    out = root / "out_cov"
    rc = main(["phewas", "--features", str(feats), "--mimic", str(mimic), "--out", str(out), "--json",
               "--no-progress", "--covariates", str(root / "cov.csv"), "--calibrate", "2"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    run = json.loads((out / "run.json").read_text())
    assert run["covariates"]["columns"] == ["age", "sex", "site=b"]
    assert "constant" in run["covariates"]["dropped"]["one"]
    assert run["config"]["covariates"] == ["age", "sex", "site=b"] and run["min_code_count"] == 1
    cal = run["calibration"]
    assert cal["n_permutations"] == 2 and [t["threshold"] for t in cal["thresholds"]] == [1e-2, 1e-3, 1e-4]
    assert all(t["n_tests"] > 0 for t in cal["thresholds"])
    assert set(summary["calibration_ratios"]) == {"0.01", "0.001", "0.0001"}
