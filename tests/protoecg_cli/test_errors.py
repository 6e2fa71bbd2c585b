"""Every subcommand turns a library error into one ``error: ...`` line on stderr and exit code 2.

Each case is a real failing invocation (real files, real readers); none is mocked.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from protoecg.config import save_config
from protoecg.errors import ConfigError, ProtoECGError
from protoecg.training.config import preset
from protoecg_cli import main


def _features(tmp: Path) -> Path:
    path = tmp / "features.parquet"
    pd.DataFrame({"study_id": [1, 2, 3], "prob_AFIB": [0.1, 0.5, 0.9]}).to_parquet(path, index=False)
    return path


def _cases(tmp: Path, ptbxl: Path) -> dict[str, tuple[list[str], str]]:
    empty = tmp / "empty_run"
    empty.mkdir()
    a_file = tmp / "a_file"
    a_file.write_text("not a directory")
    feats = _features(tmp)
    no_mimic = tmp / "no_mimic"
    no_mimic.mkdir()
    return {
        "demo": (["demo", "--data", str(a_file), "--run", str(tmp / "run"), "--n", "10", "--no-app"],
                 "cannot create the output directory"),
        "data summary": (["data", "summary", "--ptbxl", str(tmp / "nope")], "no such directory"),
        "data synth-ptbxl": (["data", "synth-ptbxl", "--out", str(a_file), "--n", "5"], "not a directory"),
        "data synth-mimic": (["data", "synth-mimic", "--out", str(tmp / "m"), "--n-patients", "0"],
                             "at least 1"),
        "evaluate": (["evaluate", "--model", str(empty), "--ptbxl", str(ptbxl)], "not a complete model bundle"),
        "explain": (["explain", "--model", str(empty), "--record", str(ptbxl / "records100" / "00000" / "00001_lr")],
                    "not a complete model bundle"),
        "explain-eval": (["explain-eval", "--model", str(empty), "--ptbxl", str(ptbxl)],
                         "not a complete model bundle"),
        "report": (["report", "--model", str(empty), "--ptbxl", str(ptbxl), "--out", str(tmp / "rep")],
                   "not a complete model bundle"),
        "app": (["app", "--model", str(tmp / "no_run")], "does not exist"),
        "ratings export": (["ratings", "export", "--db", str(tmp / "none.sqlite"), "--out", str(tmp / "r.csv")],
                           "does not exist"),
        "infer": (["infer", "--model", str(empty), "--mimic-ecg", str(no_mimic), "--out", str(tmp / "f.parquet")],
                  "not a complete model bundle"),
        "phewas": (["phewas", "--features", str(feats), "--mimic", str(no_mimic), "--out", str(tmp / "ph"),
                    "--no-progress"], "hosp"),
        "survival": (["survival", "--features", str(feats), "--mimic", str(no_mimic), "--out", str(tmp / "sv"),
                      "--no-progress"], "hosp"),
    }


CASES = ("demo", "data summary", "data synth-ptbxl", "data synth-mimic", "evaluate", "explain", "explain-eval",
         "report", "app", "ratings export", "infer", "phewas", "survival")


@pytest.mark.parametrize("name", CASES)
def test_each_subcommand_reports_an_error_in_one_line_with_exit_2(name, tmp_path, ptbxl_fixture_dir, capsys):
    argv, needle = _cases(tmp_path, ptbxl_fixture_dir)[name]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and needle in lines[0], err
    assert "Traceback" not in err


def test_train_into_a_folder_holding_another_configuration(tmp_path, ptbxl_fixture_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    other = preset("tiny")
    save_config(dataclasses.replace(other, train=dataclasses.replace(other.train, seed=99)), out / "config.json")
    before = (out / "config.json").read_text()
    rc = main(["train", "--ptbxl", str(ptbxl_fixture_dir), "--out", str(out), "--preset", "tiny",
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.strip().splitlines()[-1].startswith("error: ") and "different configuration" in err
    assert "Traceback" not in err
    assert (out / "config.json").read_text() == before          # the other run is left as it was


def test_every_library_error_has_the_one_root_and_keeps_its_builtin_parent():
    from analysis.phewas import PheWASInputError
    from analysis.survival import SurvivalInputError
    from data_access.errors import ECGDataError, MissingFileError
    from data_access.errors import ProtoECGError as Root
    from protoecg.errors import BundleError, ExplainError, RatingError, RatingsStoreError
    from protoecg.explain import CounterfactualError

    assert Root is ProtoECGError
    for cls in (ECGDataError, MissingFileError, ConfigError, BundleError, ExplainError, CounterfactualError,
                RatingError, RatingsStoreError, PheWASInputError, SurvivalInputError):
        assert issubclass(cls, ProtoECGError), cls
    for cls in (ConfigError, BundleError, ExplainError, RatingError, RatingsStoreError, PheWASInputError,
                SurvivalInputError):
        assert not issubclass(cls, ECGDataError), f"{cls.__name__} is not about ECG data"
    assert issubclass(ConfigError, ValueError) and issubclass(RatingError, ValueError)
    assert issubclass(BundleError, FileNotFoundError) and issubclass(RatingsStoreError, RuntimeError)
    err = BundleError("x is not a bundle")
    assert str(err) == "x is not a bundle" and err.reason == "x is not a bundle"
