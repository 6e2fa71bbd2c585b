"""Bundle save/load round trip (identical predictions), strict and weights-only loading, input checks."""
from __future__ import annotations

import pickle
import shutil

import numpy as np
import pytest
import torch

from data_access.errors import ECGDataError, LeadError, RecordLengthError, SignalQualityError
from data_access.ptbxl import branch_of, codes
from protoecg.bundle import BundleError, load_bundle, save_bundle
from protoecg.model import build_model
from protoecg.projection import project_prototypes
from protoecg.training.config import preset
from protoecg.training.toydata import make_toy_ptbxl


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(0)
    cfg = preset("tiny")
    data = make_toy_ptbxl(40, seed=2)
    model = build_model(cfg.model, codes(), branch_of()).eval()
    table, shares = project_prototypes(model, data.signals, data.labels, data.ecg_ids)
    model.init_fusion(torch.tensor([0.4, 0.5, 0.6]), torch.tensor([0.1, 0.2, 0.3]))
    src = np.unique(table.loc[table.source_index >= 0, "source_index"].to_numpy(int))
    thr = np.random.default_rng(0).uniform(0.2, 0.8, 71)
    path = tmp_path_factory.mktemp("bundle") / "run"
    save_bundle(path, model, cfg, thr, table, shares, data.signals[src], data.ecg_ids[src],
                {"validation": {"macro_auroc": 0.5}}, {"sha256": "x"}, is_demo=True)
    return path, model, data, table, thr, cfg


def test_round_trip_identical_predictions(saved):
    path, model, data, table, thr, cfg = saved
    b = load_bundle(path)
    assert not b.model.training
    assert b.codes == codes() and b.branch_of == branch_of()
    assert b.config == cfg and b.fs == 100 and b.n_samples == 1000 and b.is_demo
    assert np.array_equal(b.thresholds, thr)
    pred = b.predict(data.signals[:7])
    with torch.no_grad():
        ref = model(torch.from_numpy(data.signals[:7]), with_leads=True)
    assert np.array_equal(pred.logits, ref["logits"].numpy())
    assert np.allclose(pred.probs, torch.sigmoid(ref["logits"]).numpy(), atol=1e-6)
    assert np.array_equal(pred.predicted, pred.probs >= thr[None, :])
    for br in ("rhythm", "morphology", "diffuse"):
        assert np.array_equal(pred.sims[br], ref["sims"][br].numpy())
    assert np.array_equal(pred.maps["morphology"], ref["maps"]["morphology"].numpy())
    assert np.allclose(pred.lead_contrib["morphology"].sum(-1), pred.sims["morphology"], atol=1e-5)
    single = b.predict(data.signals[0])
    assert single.probs.shape == (1, 71)


def test_prototype_table_and_signals(saved):
    path, model, data, table, *_ = saved
    b = load_bundle(path)
    assert list(b.prototypes["prototype_id"]) == list(table["prototype_id"])
    assert np.array_equal(b.prototypes["source_ecg_id"].to_numpy(), table["source_ecg_id"].to_numpy())
    row = b.prototypes[(b.prototypes.branch == "morphology") & (b.prototypes.source_ecg_id >= 0)].iloc[0]
    snippet = b.prototype_signal(row["prototype_id"])
    n = int(np.flatnonzero(data.ecg_ids == row["source_ecg_id"])[0])
    a, e = int(round(row["window_start_s"] * 100)), int(round(row["window_end_s"] * 100))
    assert snippet.shape == (12, e - a) and np.array_equal(snippet, data.signals[n][:, a:e])
    full, s0, s1 = b.prototype_source(row["prototype_id"])
    assert full.shape == (12, 1000) and (s0, s1) == (row["window_start_s"], row["window_end_s"])
    assert b.window_seconds("morphology", int(row["window_index"])) == pytest.approx((s0, s1))
    unprojected = b.prototypes[b.prototypes.source_ecg_id < 0]
    if len(unprojected):
        with pytest.raises(KeyError):
            b.prototype_signal(unprojected.iloc[0]["prototype_id"])
    with pytest.raises(KeyError):
        b.prototype_signal("no-such-prototype")


def test_predict_rejects_bad_input(saved):
    b = load_bundle(saved[0])
    x = saved[2].signals[:2].copy()
    with pytest.raises(LeadError):
        b.predict(x[:, :11])
    with pytest.raises(RecordLengthError):
        b.predict(x[:, :, :500])
    x[0, 3, 10] = np.nan
    with pytest.raises(SignalQualityError) as err:
        b.predict(x)
    assert isinstance(err.value, ECGDataError)


def test_loading_is_strict_and_weights_only(saved, tmp_path):
    path = tmp_path / "copy"
    shutil.copytree(saved[0], path)
    state = torch.load(path / "model.pt", weights_only=True)
    state["unexpected.weight"] = torch.zeros(1)
    torch.save(state, path / "model.pt")
    with pytest.raises(RuntimeError, match="unexpected"):
        load_bundle(path)
    (path / "model.pt").write_bytes(pickle.dumps({"x": object()}))
    with pytest.raises(pickle.UnpicklingError):
        load_bundle(path)
    (path / "model.pt").unlink()
    with pytest.raises(BundleError, match="model.pt"):
        load_bundle(path)
