"""End to end on tiny generated data: train → project → last layers → fuse → bundle → evaluate (CLI),
resume."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from protoecg.bundle import load_bundle
from protoecg_cli import main
from protoecg.training.config import ConfigError, preset
from protoecg.training.loop import StageSpec, fit
from protoecg.training import ddp
from protoecg.training.toydata import make_toy_ptbxl, write_ptbxl_dir
from protoecg.training.trainer import train


@pytest.fixture(scope="module")
def toy_dir(tmp_path_factory):
    return write_ptbxl_dir(make_toy_ptbxl(100, seed=0), tmp_path_factory.mktemp("toy") / "ptbxl")


@pytest.fixture(scope="module")
def trained(toy_dir, tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    rc = main(["train", "--ptbxl", str(toy_dir), "--out", str(run), "--preset", "tiny", "--boot", "20",
               "--no-progress"])
    assert rc == 0
    return run


def test_train_writes_a_complete_bundle(trained):
    b = load_bundle(trained)
    assert b.is_demo                                   # the toy directory carries a SYNTHETIC marker
    m = b.metrics
    assert set(m["history"]) == {"joint", "last_layer", "fusion"}
    assert 0.0 <= m["validation"]["macro_auroc"] <= 1.0
    assert m["test"]["n_test"] == 10 and m["test"]["folds"] == [10]
    assert m["prototypes"]["n_projected"] > 0
    state = json.loads((trained / "state.json").read_text())
    assert state["completed"] == ["joint", "projection", "last_layer", "fusion"]
    # fusion is warm-started from the branch classifiers and early stopping keeps the best validation score
    fus = [h["val_macro_auroc"] for h in m["history"]["fusion"]]
    assert m["validation"]["macro_auroc"] == pytest.approx(max(fus), abs=1e-6)
    assert len(b.thresholds) == 71 and np.isfinite(b.thresholds).all()
    assert b.fingerprint["n_records"] == 80 and len(b.fingerprint["sha256"]) == 64


def test_evaluate_cli_json(trained, toy_dir, capsys):
    capsys.readouterr()
    rc = main(["evaluate", "--model", str(trained), "--ptbxl", str(toy_dir), "--json", "--boot", "20",
               "--no-progress"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    for key in ("macro_auroc", "weighted_auroc", "macro_auroc_ci", "per_class", "per_branch", "n_test"):
        assert key in res
    assert res["n_test"] == 10
    assert res["per_class"]["NORM"]["n_pos"] == int(res["per_class"]["NORM"]["n_pos"])
    assert set(res["per_branch"]) == {"rhythm", "morphology", "diffuse"}
    # the figure equals the one computed at training time on the same fold
    assert res["macro_auroc"] == pytest.approx(load_bundle(trained).metrics["test"]["macro_auroc"], abs=1e-6)
    import pandas as pd
    pred = pd.read_csv(res["predictions_csv"])
    assert len(pred) == 10 and "prob_NORM" in pred and "true_NORM" in pred


def test_rerun_resumes_without_retraining(trained, toy_dir):
    before = torch.load(trained / "model.pt", weights_only=True)
    rc = main(["train", "--ptbxl", str(toy_dir), "--out", str(trained), "--preset", "tiny", "--boot", "20",
               "--no-progress"])
    assert rc == 0
    after = torch.load(trained / "model.pt", weights_only=True)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_resume_after_a_completed_stage(trained, toy_dir, tmp_path):
    """Drop the stages after projection: a re-run reloads the projected weights and redoes the rest."""
    import shutil
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    state = json.loads((run / "state.json").read_text())
    state["completed"] = ["joint", "projection"]
    (run / "state.json").write_text(json.dumps(state))
    for f in ("last_layer.pt", "fusion.pt", "after_last_layer.pt", "after_fusion.pt"):
        (run / "checkpoints" / f).unlink()
    (run / "model.pt").unlink()
    data = make_toy_ptbxl(100, seed=0)
    train(data, preset("tiny"), run, progress=False, n_boot=10)
    assert json.loads((run / "state.json").read_text())["completed"][-1] == "fusion"
    assert load_bundle(run).predict(data.signals[:2]).probs.shape == (2, 71)


def test_different_config_in_run_dir_is_refused(trained):
    data = make_toy_ptbxl(100, seed=0)
    with pytest.raises(ConfigError, match="different configuration"):
        train(data, preset("tiny", seed=7), trained, progress=False)


def test_fit_resumes_mid_stage(tmp_path):
    """An interrupted stage continues at the next epoch with the same optimiser state."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 1)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    calls = {"n": 0, "fail_at": 2}

    def loss(idx):
        calls["n"] += 1
        if calls["fail_at"] and calls["n"] > calls["fail_at"] * 4:
            raise KeyboardInterrupt
        return ((lin(x[idx]) - y[idx]) ** 2).mean()

    def spec():
        return StageSpec("s", 4, 0.01, 0.0, 10, 8, 32, list(lin.parameters()), loss,
                         lambda: -float(((lin(x) - y) ** 2).mean().detach()))

    with pytest.raises(KeyboardInterrupt):
        fit(spec(), lin, tmp_path, ddp.DistInfo(), seed=0, progress=False)
    st = torch.load(tmp_path / "s.pt", weights_only=True)
    assert st["epoch"] == 2
    calls["fail_at"] = 0
    hist = fit(spec(), lin, tmp_path, ddp.DistInfo(), seed=0, progress=False)
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]


def test_training_rejects_empty_validation_fold():
    from protoecg.training.trainer import TrainingDataError
    data = make_toy_ptbxl(30, seed=0, folds=(1, 2, 3))
    with pytest.raises(TrainingDataError, match="validation"):
        train(data, preset("tiny"), "/tmp/never-created-protoecg-run", progress=False)


def test_joint_loss_ignores_classes_without_training_positives():
    from data_access.ptbxl import branch_of, codes
    from protoecg.model import build_model
    from protoecg.training.stages import SplitArrays, joint_stage

    torch.manual_seed(0)
    data = make_toy_ptbxl(40, seed=4)
    cfg = preset("tiny")
    model = build_model(cfg.model, codes(), branch_of())
    arrays = SplitArrays(data.signals, data.labels, data.ecg_ids, data.signals[:8], data.labels[:8])
    spec = joint_stage(model, model, arrays, cfg)
    model.eval()                                             # batch norm fixed: the loss is deterministic
    idx = np.arange(16)
    layer = model.branch("rhythm").last_layer
    local = {c: k for k, c in enumerate(model.proto_codes("rhythm"))}   # tiny: one prototype per class
    base = spec.batch_loss(idx).item()
    with torch.no_grad():
        layer.weight[local["SARRH"]] += 3.0                   # SARRH never occurs in the toy data
    assert spec.batch_loss(idx).item() == pytest.approx(base, abs=1e-6)
    with torch.no_grad():
        layer.weight[local["AFIB"]] += 3.0                    # AFIB does
    assert spec.batch_loss(idx).item() != pytest.approx(base, abs=1e-4)
