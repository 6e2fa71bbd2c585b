"""Covariate files (dummy coding, degenerate columns reported) and the minimum-code-count case rule."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.covariates import CovariateError, build_covariates
from analysis.phecodes import load_phecode_map, phenotype_matrix
from analysis.phewas import PheWAS


@pytest.fixture()
def units():
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame({"subject_id": np.arange(1000, 1000 + n) // 2, "age": rng.uniform(20, 90, n),
                         "sex": rng.integers(0, 2, n).astype(float)},
                        index=pd.Index(np.arange(40_000_000, 40_000_000 + n), name="unit_id"))


def test_subject_keyed_parquet_with_categoricals_constant_and_collinear(units, tmp_path):
    subj = np.unique(units["subject_id"])
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"subject_id": subj, "site": rng.choice(["north", "south", "west"], len(subj)),
                       "bmi": rng.normal(27, 4, len(subj)), "const": 3.0, "smoker": rng.random(len(subj)) < 0.3})
    df["bmi_copy"] = 2 * df["bmi"] - 1
    df.loc[0, "site"] = None
    path = tmp_path / "cov.parquet"
    df.to_parquet(path)
    d = build_covariates(units, path=path)
    assert d.dummies == {"site": ["site=south", "site=west"]}
    assert set(d.dropped) == {"const", "bmi_copy"} and "collinear" in d.dropped["bmi_copy"]
    assert d.columns == ["age", "sex", "site=south", "site=west", "bmi", "smoker"]
    # subject rows spread to each of the subject's units; a missing category stays missing
    u0 = units.index[units["subject_id"] == subj[0]]
    assert d.table.loc[u0, "site=south"].isna().all()
    u1 = units.index[units["subject_id"] == subj[1]]
    assert (d.table.loc[u1, "bmi"] == df.loc[1, "bmi"]).all()
    # the scan runs with them (units with a missing covariate dropped, not crashed on)
    y = pd.DataFrame({"250.2": (np.random.default_rng(2).random(len(units)) < 0.3).astype(float)}, index=units.index)
    f = pd.DataFrame({"sim_a": np.random.default_rng(3).standard_normal(len(units))}, index=units.index)
    pw = PheWAS(covariates=d.columns).fit(f, y, d.table)
    assert len(pw.dropped_units_) == len(u0) and np.isfinite(pw.results_["p"]).all()


def test_unit_keyed_csv_and_bad_files(units, tmp_path):
    csv = tmp_path / "c.csv"
    pd.DataFrame({"study_id": units.index, "lab": np.arange(len(units), dtype=float)}).to_csv(csv, index=False)
    d = build_covariates(units, path=csv, columns=["lab"])
    assert d.columns == ["age", "sex", "lab"] and (d.table["lab"].to_numpy() == np.arange(len(units))).all()
    nokey = tmp_path / "n.csv"
    pd.DataFrame({"x": [1, 2]}).to_csv(nokey, index=False)
    with pytest.raises(CovariateError, match="no key column"):
        build_covariates(units, path=nokey)
    with pytest.raises(CovariateError, match="not found"):
        build_covariates(units, path=tmp_path / "missing.csv")
    with pytest.raises(CovariateError, match="column"):
        build_covariates(units, path=csv, columns=["nope"])


def test_min_code_count_excludes_units_with_too_few_codes():
    pmap = load_phecode_map("1.2")
    units = pd.Index([1, 2, 3])
    up = pd.DataFrame({"unit_id": [1, 1, 2], "phecode": ["428.1", "428.1", "428.1"],
                       "icd": ["428.0", "I50.9", "428.0"]})
    one = phenotype_matrix(up, units, pd.Series([1.0, 0.0, 1.0], index=units), pmap, ["428.1"])
    two = phenotype_matrix(up, units, pd.Series([1.0, 0.0, 1.0], index=units), pmap, ["428.1"], min_code_count=2)
    assert one["428.1"].tolist() == [1.0, 1.0, 0.0]
    assert two["428.1"].iloc[0] == 1.0 and np.isnan(two["428.1"].iloc[1]) and two["428.1"].iloc[2] == 0.0
