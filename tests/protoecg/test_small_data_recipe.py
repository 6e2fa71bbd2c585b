"""The small-data recipe (warm-up, prototypes started on data, calibrated joint BCE, augmentation,
smoothed early stopping), fine-tuning with ``--init-from``, and patient-wise cross-validation."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from protoecg.bundle import load_bundle
from protoecg.training.config import ConfigError, preset
from protoecg.training.crossval import cross_validate, fold_ranks, patient_groups, summarise_cv
from protoecg.training.toydata import make_toy_ptbxl, write_ptbxl_dir
from protoecg.training.trainer import train
from protoecg.training.warmup import augment, init_prototypes_from_data
from protoecg_cli import main

REAL = Path(__file__).resolve().parents[2] / "data" / "ptbxl_real"


def _recipe(cfg, **kw):
    train_cfg = dataclasses.replace(cfg.train, warmup_epochs=2, proto_init="data", joint_calibration=True,
                                    augment=True, aux_head=1.0, min_epochs=2, smooth=2, **kw)
    return dataclasses.replace(cfg, train=train_cfg)


@pytest.fixture(scope="module")
def toy():
    return make_toy_ptbxl(100, seed=3)


@pytest.fixture(scope="module")
def recipe_run(toy, tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe") / "run"
    train(toy, _recipe(preset("tiny")), out, progress=False, n_boot=0)
    return out


def test_recipe_runs_every_stage_and_keeps_no_black_box_head(recipe_run):
    state = json.loads((recipe_run / "state.json").read_text())
    assert state["completed"] == ["warmup", "proto_init", "joint", "projection", "last_layer", "fusion"]
    assert sum(state["proto_init"].values()) > 0
    b = load_bundle(recipe_run)                               # strict load: the model has no extra head
    assert not any("warmup" in k or "calib" in k for k in b.model.state_dict())
    hist = b.metrics["history"]["warmup"]
    assert len(hist) >= 2 and all("val_smoothed" in h for h in hist)
    assert (recipe_run / "checkpoints" / "warmup_head.pt").exists()


def test_prototypes_start_on_training_latents(toy):
    from protoecg.model import build_model

    cfg = preset("tiny")
    from data_access.ptbxl import branch_of

    model = build_model(cfg.model, tuple(toy.codes), branch_of())
    x, y = toy.signals[:40], toy.labels[:40]
    counts = init_prototypes_from_data(model, x, y, seed=0)
    assert counts["rhythm"] > 0
    with torch.no_grad():
        sims = model(torch.from_numpy(np.ascontiguousarray(x)))["sims"]
    br = model.branch("rhythm")
    cls = br.proto_class.numpy()
    cols = model.class_index("rhythm").numpy()
    for p in range(br.n_prototypes):
        pos = y[:, cols[cls[p]]].astype(bool)
        if pos.any():   # the prototype *is* the latent of one positive ECG: similarity 1 to it
            assert sims["rhythm"][pos, p].max() > 0.999


def test_augment_keeps_shape_and_is_seeded():
    x = torch.randn(4, 12, 1000)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)


def test_init_from_fine_tunes_a_bundle_and_records_it(recipe_run, toy, tmp_path):
    out = tmp_path / "ft"
    cfg = dataclasses.replace(preset("tiny"), train=dataclasses.replace(preset("tiny").train,
                                                                       init_from=str(recipe_run)))
    train(toy, cfg, out, is_demo=False, progress=False, n_boot=0)
    state = json.loads((out / "state.json").read_text())
    assert state["completed"][0] == "joint"                 # no warm-up, no data start
    b = load_bundle(out)
    assert b.metrics["pretrained_from"]["path"] == str(recipe_run)
    # the app's captions and the banner agree on what the model has seen (the toy start is not a demo model)
    assert not b.metrics["pretrained_from"]["is_demo"] and not b.finetuned_from_demo
    demo_start = dataclasses.replace(b, metrics={**b.metrics, "pretrained_from": {**b.metrics["pretrained_from"],
                                                                                  "is_demo": True}},
                                     manifest={**b.manifest, "is_demo": True, "trained_on_generated": False})
    assert demo_start.finetuned_from_demo and "fine-tuned on" in demo_start.disclaimer
    generated = dataclasses.replace(demo_start, manifest={**demo_start.manifest, "trained_on_generated": True})
    assert not generated.finetuned_from_demo and "fine-tuned" not in generated.disclaimer


def test_init_from_another_architecture_is_a_clear_error(recipe_run, toy_dir_cli, tmp_path, capsys):
    rc = main(["train", "--ptbxl", str(toy_dir_cli), "--out", str(tmp_path / "b"), "--preset", "tiny",
               "--arch", "baseline", "--init-from", str(recipe_run), "--no-progress"])
    assert rc == 2
    assert "init-from" in capsys.readouterr().err


@pytest.fixture(scope="module")
def toy_dir_cli(toy, tmp_path_factory):
    return write_ptbxl_dir(toy, tmp_path_factory.mktemp("toycli") / "ptbxl")


def test_patient_groups_keep_patients_together_and_balance_labels():
    from data_access.ptbxl import load_ptbxl

    data = load_ptbxl(REAL, fs=100)
    g = patient_groups(data, 5, seed=0)
    pid = data.meta["patient_id"].to_numpy()
    for p in np.unique(pid):
        assert len(set(g[pid == p])) == 1
    sizes = np.bincount(g, minlength=5)
    assert sizes.min() >= 40
    j = list(data.codes).index("NORM")
    norm = np.bincount(g, weights=data.labels[:, j], minlength=5)
    assert norm.min() >= 0.5 * norm.max()
    with pytest.raises(ValueError):
        patient_groups(data, 2)


def test_fold_ranks_make_splits_with_different_scales_poolable():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = y + rng.normal(0, 1, 200)
    groups = np.repeat([0, 1], 100)
    shifted = np.where(groups == 1, s * 10 - 50, s)[:, None]    # same order within splits, other scale
    from protoecg.evaluation import auroc

    within = np.mean([auroc(y[groups == k], s[groups == k]) for k in (0, 1)])
    pooled_ranked = auroc(y, fold_ranks(shifted, groups)[:, 0])
    assert abs(pooled_ranked - within) < 0.05
    assert auroc(y, shifted[:, 0]) < pooled_ranked - 0.05      # raw pooling is misleading


def test_cross_validate_tiny_preset_on_real_records():
    from data_access.ptbxl import load_ptbxl

    data = load_ptbxl(REAL, fs=100)
    sub = data.subset(np.arange(len(data.ecg_ids)) < 90)
    res = cross_validate(sub, preset("tiny"), k=3, seed=0)
    assert res.scores.shape == sub.labels.shape and np.isfinite(res.scores).all()
    assert len(res.fold_macro) == 3 and res.branch_scores is not None
    s = summarise_cv(res, sub, min_pos=3)
    assert 0.0 <= s["macro"] <= 1.0 and 0.0 <= s["NORM"] <= 1.0
    assert "morphology_branch" in s


def test_fusion_rows_stop_per_class_only_for_classes_with_enough_validation_positives():
    from data_access.ptbxl import branch_of
    from protoecg.model import build_model
    from protoecg.training.stages import _per_class_fusion

    model = build_model(preset("tiny").model, tuple(make_toy_ptbxl(4, seed=0).codes), branch_of())
    C = len(model.codes)
    w0, b0 = model.fusion.weight.detach().clone(), model.fusion.bias.detach().clone()
    y_val = np.zeros((20, C), dtype=np.uint8)
    y_val[:8, 0] = 1                      # class 0: 8 validation positives
    y_val[:2, 1] = 1                      # class 1: 2 (too few to choose on)
    snaps = []
    for e in range(3):
        auc = np.full(C, 0.5)
        auc[0] = [0.6, 0.9, 0.7][e]       # class 0 is best at epoch 1
        auc[1] = [0.5, 0.6, 1.0][e]       # class 1 would pick epoch 2 if it were allowed to
        snaps.append((w0 + e, b0 + e, auc))
    with torch.no_grad():                 # the restored (macro-best) state: say epoch 2
        model.fusion.weight.copy_(w0 + 2)
        model.fusion.bias.copy_(b0 + 2)
    _per_class_fusion(model, snaps, y_val, min_pos=5)
    assert torch.equal(model.fusion.weight[0], w0[0] + 1) and float(model.fusion.bias[0]) == float(b0[0] + 1)
    assert torch.equal(model.fusion.weight[1], w0[1] + 2)           # kept the restored epoch
    assert torch.equal(model.fusion.weight[2:], w0[2:] + 2)


def test_tied_stage_keeps_every_projected_prototype_equal_to_its_source_window(toy, tmp_path):
    """After fine-tuning with tied prototypes, each projected prototype is still exactly the latent of its
    source window in the trained network (what the explanations show)."""
    import pandas as pd

    cfg = _recipe(preset("tiny"), tied_epochs=2)
    out = tmp_path / "tied"
    train(toy, cfg, out, progress=False, n_boot=0)
    state = json.loads((out / "state.json").read_text())
    assert state["completed"][3:5] == ["projection", "tied"] and state["tied"]["n_tied"] > 0
    assert state["history"]["tied"][0]["epoch"] == 0            # the projected network is scored first
    model = load_bundle(out).model.eval()
    x_train = toy.split(cfg.train_folds).signals
    table = pd.read_csv(out / "prototypes.csv")
    projected = table[table["source_index"] >= 0]
    assert len(projected) == state["tied"]["n_tied"]
    with torch.no_grad():
        for _, r in projected.iterrows():
            br = model.branch(r["branch"])
            z = br.latent(torch.from_numpy(x_train[r["source_index"]:r["source_index"] + 1]))[0]
            window = z if r["branch"] == "rhythm" else z[..., r["window_index"]:r["window_index"] + br.window]
            assert torch.allclose(window, br.prototypes[r["branch_index"]], atol=1e-5), r["prototype_id"]


def test_tied_prototypes_follow_the_network_and_carry_its_gradient(toy, tmp_path):
    import pandas as pd

    from protoecg.training.tied import TiedPrototypes

    cfg = _recipe(preset("tiny"))
    out = tmp_path / "run"
    train(toy, cfg, out, progress=False, n_boot=0)
    model = load_bundle(out).model
    table = pd.read_csv(out / "prototypes.csv")
    x_train = toy.split(cfg.train_folds).signals
    tied = TiedPrototypes(model, x_train, table)
    protos = tied.compute()
    b = "morphology"
    assert protos[b].requires_grad
    protos[b].sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.branch(b).backbone.parameters())
    with torch.no_grad():                                          # change the network: prototypes follow
        for p in model.branch(b).add_on.parameters():
            p.mul_(1.5)
    before = model.branch(b).prototypes.detach().clone()
    tied.write()
    after = model.branch(b).prototypes.detach()
    rows = table[(table["branch"] == b) & (table["source_index"] >= 0)]
    moved = after[rows["branch_index"].to_numpy()] - before[rows["branch_index"].to_numpy()]
    assert moved.abs().max() > 1e-4
    unprojected = table[(table["branch"] == b) & (table["source_index"] < 0)]["branch_index"].to_numpy()
    assert torch.equal(after[unprojected], before[unprojected])
    # A step may recompute only a subset of the source ECGs; the others keep their stored value.
    part = TiedPrototypes(model, x_train, table, max_sources=1)
    with torch.no_grad():
        for p in model.branch(b).add_on.parameters():
            p.mul_(1.5)
    stored = model.branch(b).prototypes.detach().clone()
    step = part.compute()[b].detach()
    changed = {int(i) for i in torch.nonzero((step - stored).abs().amax(dim=(1, 2, 3)) > 1e-6).flatten()}
    one_source = rows.groupby("source_index")["branch_index"].apply(set).tolist()
    assert changed and any(changed <= s for s in one_source)
    full = part.compute(full=True)[b].detach()
    assert (full - stored).abs().amax(dim=(1, 2, 3))[rows["branch_index"].to_numpy()].min() > 1e-6


def test_crossval_command_attaches_its_report_to_a_bundle(recipe_run, capsys):
    assert load_bundle(recipe_run).crossval is None
    rc = main(["crossval", "--ptbxl", str(REAL), "--preset", "tiny", "--k", "3", "--seeds", "0",
               "--attach", str(recipe_run)])
    assert rc == 0
    assert "macro AUROC (pooled)" in capsys.readouterr().out
    cv = load_bundle(recipe_run).crossval
    assert cv["k"] == 3 and cv["n_records"] == 300 and cv["seeds"] == [0] and len(cv["rows"]) == 1
    assert 0.0 <= cv["summary"]["macro"]["mean"] <= 1.0 and cv["summary"]["macro"]["sd"] == 0.0
    assert main(["crossval", "--ptbxl", str(REAL), "--preset", "tiny", "--k", "2"]) == 2     # clear error


def test_last_layer_rows_stop_per_class_in_their_own_branch():
    from data_access.ptbxl import branch_of
    from protoecg.model import build_model
    from protoecg.training.stages import _per_class_last_layers

    model = build_model(preset("tiny").model, tuple(make_toy_ptbxl(4, seed=0).codes), branch_of())
    C = len(model.codes)
    c = int(model.class_index("morphology")[3])                  # a morphology class, local row 3
    w0 = {b: model.branch(b).last_layer.weight.detach().clone() for b in ("rhythm", "morphology", "diffuse")}
    y_val = np.zeros((20, C), dtype=np.uint8)
    y_val[:6, c] = 1
    snaps = []
    for e in range(3):
        auc = np.full(C, 0.5)
        auc[c] = [0.5, 0.55, 0.8][e]
        snaps.append(({b: w + e for b, w in w0.items()}, auc))
    _per_class_last_layers(model, snaps, y_val, min_pos=5)
    morph = model.branch("morphology").last_layer.weight
    assert torch.equal(morph[3], w0["morphology"][3] + 2)
    assert torch.equal(morph[:3], w0["morphology"][:3]) and torch.equal(morph[4:], w0["morphology"][4:])
    assert torch.equal(model.branch("rhythm").last_layer.weight, w0["rhythm"])
