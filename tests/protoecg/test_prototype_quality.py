"""Purity on a hand-checkable case; the report on a projected tiny model."""
from __future__ import annotations

import numpy as np
import torch

from data_access.ptbxl import branch_of, codes
from protoecg.model import build_model
from protoecg.projection import project_prototypes
from protoecg.prototype_quality import QualityConfig, prototype_quality, purity_topk
from protoecg.training.config import preset
from protoecg.training.toydata import make_toy_ptbxl


def test_purity_by_hand():
    # 5 ECGs, 2 prototypes. Prototype 0 (source ECG 0) nearest others: 1, 2 -> labels yes, no -> 0.5.
    # Prototype 1 (source ECG 4) nearest others: 3, 2 -> yes, yes -> 1.0.
    sims = np.array([[1.0, 0.1], [0.9, 0.2], [0.8, 0.7], [0.3, 0.9], [0.2, 1.0]])
    has = np.array([[1, 0], [1, 0], [0, 1], [0, 1], [1, 1]], bool)
    pur, idx = purity_topk(sims, has, np.array([0, 4]), k=2)
    assert pur.tolist() == [0.5, 1.0]
    assert idx[:, 0].tolist() == [1, 2] and idx[:, 1].tolist() == [3, 2]
    pur, _ = purity_topk(sims, has, np.array([-1, -1]), k=1)        # no source: the ECG itself counts
    assert pur.tolist() == [1.0, 1.0]


def test_report_on_a_projected_model():
    torch.manual_seed(0)
    data = make_toy_ptbxl(40, seed=2)
    model = build_model(preset("tiny").model, codes(), branch_of()).eval()
    table, _ = project_prototypes(model, data.signals, data.labels, data.ecg_ids, batch_size=16)
    rep = prototype_quality(model, table, data.signals, data.labels, data.ecg_ids, QualityConfig(k=5, n_show=2))
    q = rep.table
    assert len(q) == len(table) and list(q["prototype_id"]) == list(table["prototype_id"])
    proj = q["status"] == "projected"
    assert q.loc[proj, "purity"].between(0, 1).all() and q.loc[~proj, "purity"].isna().all()
    # purity recomputed by brute force for one prototype
    with torch.no_grad():
        sims = model(torch.from_numpy(data.signals))["sims"]
    r = table[proj.to_numpy()].iloc[0]
    s = sims[r.branch][:, int(r.branch_index)].numpy().copy()
    s[int(r.source_index)] = -np.inf
    near = np.argsort(-s, kind="stable")[:5]
    j = list(codes()).index(r["class"])
    assert q.loc[q.prototype_id == r.prototype_id, "purity"].item() == data.labels[near, j].mean()
    nb = rep.neighbours[rep.neighbours.prototype_id == r.prototype_id]
    assert list(nb["ecg_id"]) == list(data.ecg_ids[near[:2]]) and (nb["ecg_id"] != r.source_ecg_id).all()
    arr = rep.signals[r.branch][int(r.branch_index)]
    assert arr.shape[0] == 2 and np.isfinite(arr[0]).any()
    s = rep.summary
    assert s["n_projected"] == int(proj.sum()) and 0 <= s["purity"] <= 1
    assert s["n_classes_absent"] == sum(v["absent_from_training"] for v in s["per_class"].values())
