"""Projection never repeats a (class, source ECG, overlapping window); collisions are forced here by giving
two prototypes of one class the same vector, so their best match is the same ECG and window."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from data_access.ptbxl import branch_of, codes
from protoecg.model import build_model
from protoecg.projection import project_prototypes, repeated_windows, uniqueness
from protoecg.projection_assign import PRUNED, assign
from protoecg.training.config import preset
from protoecg.training.toydata import make_toy_ptbxl


def _twin_model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = dataclasses.replace(preset("tiny").model, protos_per_class=(2, 2, 2))
    model = build_model(cfg, codes(), branch_of()).eval()
    with torch.no_grad():
        for b in ("rhythm", "morphology", "diffuse"):
            p = model.branch(b).prototypes
            p[1::2] = p[0::2]                        # prototype 2k+1 is a copy of 2k (same class)
    return model


@pytest.fixture(scope="module")
def data():
    return make_toy_ptbxl(48, seed=3)


def _overlaps(g):
    iv = list(zip(g["window_start_s"], g["window_end_s"]))
    return any(a < d and c < b for i, (a, b) in enumerate(iv) for (c, d) in iv[i + 1:])


def test_forced_collisions_get_distinct_windows(data):
    model = _twin_model()
    with torch.no_grad():
        before = model(torch.from_numpy(data.signals))
    table, _ = project_prototypes(model, data.signals, data.labels, data.ecg_ids, batch_size=16)
    proj = table[table["source_ecg_id"] >= 0]
    # the twins really collide: same best (ECG, window) before projection
    m = before["sims"]["morphology"].numpy()
    cols = np.flatnonzero(table.loc[table.branch == "morphology", "status"].to_numpy() == "projected")
    twin = [c for c in cols if c % 2 == 0 and c + 1 in cols]
    assert twin and all(m[:, c].argmax() == m[:, c + 1].argmax() for c in twin)
    for _, g in proj.groupby(["branch", "class", "source_ecg_id"]):
        assert not _overlaps(g), g
    assert repeated_windows(table) == 0
    u = uniqueness(table)
    assert u["n_repeated_windows"] == 0 and u["n_duplicates_avoided"] >= len(twin)
    # rhythm/diffuse have one window per ECG: twins sit on distinct ECGs (or the twin is pruned)
    for b in ("rhythm", "diffuse"):
        g = proj[proj.branch == b]
        assert not g.duplicated(["class", "source_ecg_id"]).any()


def test_a_moved_prototype_equals_its_new_window(data):
    model = _twin_model(1)
    table, _ = project_prototypes(model, data.signals, data.labels, data.ecg_ids, batch_size=16)
    with torch.no_grad():
        out = model(torch.from_numpy(data.signals))
    for _, r in table[(table.branch == "morphology") & (table.status == "projected")].iterrows():
        n, p, w = int(r.source_index), int(r.branch_index), int(r.window_index)
        assert out["maps"]["morphology"][n, p, w].item() == pytest.approx(1.0, abs=1e-5)


def test_too_few_ecgs_prunes_instead_of_repeating():
    # one class, 3 prototypes, 2 ECGs, one window each: the third prototype is pruned
    sims = np.array([[0.9, 0.8, 0.7], [0.5, 0.6, 0.4]])
    a = assign(sims, np.zeros((2, 3), int), np.ones((2, 3), bool), np.zeros(3, int), [(0.0, 10.0)], None)
    assert sorted(a.source[a.source >= 0].tolist()) == [0, 1]
    assert a.status.count(PRUNED) == 1 and a.counts["n_pruned_duplicates"] == 1
    assert a.source[0] == 0                          # the most confident prototype keeps its best ECG


def test_falls_back_to_a_non_overlapping_window_of_the_same_ecg():
    spans = [(0.0, 2.0), (1.0, 3.0), (2.0, 4.0), (3.0, 5.0)]
    maps = {0: np.array([[0.2, 0.9, 0.3, 0.8], [0.2, 0.9, 0.3, 0.8]])}
    sims = np.array([[0.9, 0.9], [0.1, 0.1]])
    best = np.array([[1, 1], [0, 0]])
    a = assign(sims, best, np.ones((2, 2), bool), np.zeros(2, int), spans, lambda n: maps[n])
    assert a.source.tolist() == [0, 0] and sorted(a.window.tolist()) == [1, 3]     # 3 is free of [1, 3)
    assert a.similarity.tolist() == [0.9, 0.8] and a.n_avoided == 1
    strict = assign(sims, best, np.ones((2, 2), bool), np.zeros(2, int), spans, lambda n: maps[n], unique=True)
    assert sorted(strict.source.tolist()) == [0, 1]                                 # distinct ECGs first
