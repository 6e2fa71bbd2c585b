"""The PheWAS walkthrough notebook (jupytext percent script) runs top to bottom on generated data."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import pandas as pd

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "phewas_walkthrough.py"


def test_notebook_is_valid_jupytext():
    nb = jupytext.read(NOTEBOOK)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds.count("markdown") >= 8 and kinds.count("code") >= 10


@pytest.mark.slow
def test_notebook_runs_end_to_end(tmp_path):
    env = dict(os.environ, PROTOECG_NB_OUT=str(tmp_path / "out"), PROTOECG_NB_PATIENTS="1000",
               PROTOECG_MIMIC=str(tmp_path / "no_mimic"), PROTOECG_FEATURES=str(tmp_path / "none.parquet"),
               MPLBACKEND="Agg")
    proc = subprocess.run([sys.executable, str(NOTEBOOK)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "out"
    for f in ("results.parquet", "manhattan.html", "volcano.html", "forest.html", "survival.csv",
              "prediction_auroc.csv"):
        assert (out / f).exists(), f
    assert "sensitivity" in proc.stdout
    auc = pd.read_csv(out / "prediction_auroc.csv")
    assert set(auc["feature_set"]) == {"class_probabilities", "prototypes"}
    assert ((auc["ci_low"] <= auc["auroc"]) & (auc["auroc"] <= auc["ci_high"])).all()
    # AF is planted with OR 10 on the AFIB signature: it must be predictable from the ECG features
    assert (auc.loc[auc["phecode"] == 427.2, "auroc"] > 0.65).all()
