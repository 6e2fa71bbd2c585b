"""Projection: prototypes become real training latents of their class; the unique option; the table."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from data_access.ptbxl import branch_of, codes
from protoecg.model import build_model
from protoecg.projection import project_prototypes, uniqueness
from protoecg.training.config import preset
from protoecg.training.toydata import make_toy_ptbxl


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    data = make_toy_ptbxl(48, seed=3)
    model = build_model(preset("tiny").model, codes(), branch_of()).eval()
    with torch.no_grad():
        before = model(torch.from_numpy(data.signals))
    table, shares = project_prototypes(model, data.signals, data.labels, data.ecg_ids, batch_size=16)
    return data, model, before, table, shares


def test_prototypes_equal_training_latents(setup):
    data, model, _, table, _ = setup
    proj = table[table["source_ecg_id"] >= 0]
    assert len(proj) > 0
    for _, row in proj.iterrows():
        br = model.branch(row["branch"])
        n = int(row["source_index"])
        assert data.ecg_ids[n] == row["source_ecg_id"]
        with torch.no_grad():
            z = br.latent(torch.from_numpy(data.signals[n:n + 1]))[0]
        p = br.prototypes[int(row["branch_index"])]
        if row["branch"] == "rhythm":
            assert torch.allclose(p, z, atol=1e-6)   # batch composition changes the last bits
        else:
            w = int(row["window_index"])
            assert torch.allclose(p, z[..., w:w + br.window], atol=1e-6)


def test_similarity_to_source_is_one_at_the_recorded_window(setup):
    data, model, _, table, _ = setup
    with torch.no_grad():
        out = model(torch.from_numpy(data.signals))
    for _, row in table[table["source_ecg_id"] >= 0].iterrows():
        n, p, b = int(row["source_index"]), int(row["branch_index"]), row["branch"]
        assert out["sims"][b][n, p].item() == pytest.approx(1.0, abs=1e-5)
        if b == "morphology":
            assert out["maps"][b][n, p, int(row["window_index"])].item() == pytest.approx(1.0, abs=1e-5)


def test_source_is_the_best_match_of_the_right_class(setup):
    data, model, before, table, _ = setup
    code_idx = {c: i for i, c in enumerate(codes())}
    for _, row in table.iterrows():
        allowed = data.labels[:, code_idx[row["class"]]].astype(bool)
        s = before["sims"][row["branch"]][:, int(row["branch_index"])].numpy()
        if not allowed.any():
            assert row["source_ecg_id"] == -1 and np.isnan(row["projection_similarity"])
            continue
        assert allowed[int(row["source_index"])]
        assert row["projection_similarity"] == pytest.approx(s[allowed].max(), abs=1e-5)


def test_table_windows_and_leads(setup):
    data, model, _, table, shares = setup
    assert len(table) == shares.shape[0] == sum(model.branch(b).n_prototypes for b in
                                                 ("rhythm", "morphology", "diffuse"))
    assert np.allclose(shares.sum(1), 1.0, atol=1e-5)
    morph = table[(table["branch"] == "morphology") & (table["source_ecg_id"] >= 0)]
    for _, row in morph.iterrows():
        exp = model.branch("morphology").window_seconds(int(row["window_index"]), 1000, 100)
        assert (row["window_start_s"], row["window_end_s"]) == pytest.approx(exp)
        assert 0 <= row["window_start_s"] < row["window_end_s"] <= 10.0
        assert row["leads"]                                    # names at least one lead
    assert table["prototype_id"].is_unique


def test_unique_projection_uses_distinct_sources():
    torch.manual_seed(1)
    data = make_toy_ptbxl(60, seed=5)
    cfg = preset("tiny").model
    import dataclasses
    cfg = dataclasses.replace(cfg, protos_per_class=(2, 2, 2))
    m1 = build_model(cfg, codes(), branch_of()).eval()
    m2 = build_model(cfg, codes(), branch_of()).eval()
    m2.load_state_dict(m1.state_dict())
    t_plain, _ = project_prototypes(m1, data.signals, data.labels, data.ecg_ids)
    t_uniq, _ = project_prototypes(m2, data.signals, data.labels, data.ecg_ids, unique=True)
    for b, g in t_uniq[t_uniq["source_ecg_id"] >= 0].groupby("branch"):
        assert g["source_ecg_id"].is_unique, b
    u_plain, u_uniq = uniqueness(t_plain), uniqueness(t_uniq)
    assert u_uniq["n_projected"] == u_plain["n_projected"]
    assert u_uniq["n_distinct_sources"] >= u_plain["n_distinct_sources"]
