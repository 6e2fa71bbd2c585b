"""Feature extraction over a synthetic MIMIC-IV-ECG directory with a real (tiny, untrained but projected)
model bundle: columns, agreement with Bundle.predict, bad records, sharding, resumption, CLI."""
import numpy as np
import pandas as pd
import pytest

from analysis.features import extract_features, feature_columns, read_bad_records, read_features
from data_access.mimic_ecg import load_mimic_ecg, read_record_list, to_model_input


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    import torch

    from data_access.preprocess import highpass
    from data_access.ptbxl import branch_of, codes, label_matrix
    from data_access.synth.ecg import synthesize_ecg
    from protoecg.bundle import load_bundle, save_bundle
    from protoecg.model import build_model
    from protoecg.projection import project_prototypes
    from protoecg.training.config import preset

    torch.set_num_threads(2)
    torch.manual_seed(0)
    cfg = preset("tiny", threads=2)
    model = build_model(cfg.model, codes(), branch_of())
    rng = np.random.default_rng(0)
    labs = [{"NORM"}, {"AFIB"}, {"CLBBB"}, {"IMI"}] * 2
    x = highpass(np.stack([synthesize_ecg(l, rng, fs=100) for l in labs]), 100.0)
    y = label_matrix(pd.DataFrame({"scp": [{c: 100.0 for c in l} for l in labs]}))
    ids = np.arange(1, len(labs) + 1)
    table, shares = project_prototypes(model, x, y, ids)
    src = np.unique(table.loc[table["source_index"] >= 0, "source_index"].to_numpy(int))
    path = tmp_path_factory.mktemp("bundle") / "run"
    save_bundle(path, model, cfg, np.full(len(codes()), 0.5), table, shares, x[src], ids[src], {}, {}, True)
    return load_bundle(path)


@pytest.fixture(scope="module")
def ecg_dir(tmp_path_factory):
    import wfdb

    from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic

    out = tmp_path_factory.mktemp("mimic")
    synthesize_mimic(out, MimicSynthConfig(n_patients=12, seed=5), progress=False)
    root = out / "ecg"
    rl = read_record_list(root)
    nan_rel = rl["path"].iloc[2]                         # inject a NaN run into one record
    rec = wfdb.rdrecord(str(root / nan_rel))
    sig = rec.p_signal.copy()
    sig[100:300, 4] = np.nan
    wfdb.wrsamp(rec.record_name, fs=500, units=["mV"] * 12, sig_name=rec.sig_name, p_signal=sig,
                fmt=["16"] * 12, adc_gain=[200.0] * 12, baseline=[0] * 12, write_dir=str((root / nan_rel).parent))
    (root / (rl["path"].iloc[5] + ".dat")).unlink()     # and delete one signal file
    return root, rl, int(rl["study_id"].iloc[2]), int(rl["study_id"].iloc[5])


def test_columns_values_and_bad_records(bundle, ecg_dir, tmp_path):
    root, rl, nan_id, gone_id = ecg_dir
    out = extract_features(bundle, root, tmp_path / "features.parquet", progress=False, chunk_records=8)
    f = read_features(out)
    sims, probs, logits = feature_columns(bundle)
    assert list(f.columns) == [s[0] for s in sims] + probs + logits
    assert len(sims) == len(bundle.prototypes) and len(probs) == 71 and "logit_rhythm_AFIB" in logits
    assert set(f.index) == set(rl["study_id"]) - {nan_id, gone_id}
    assert len(list(out.glob("part*.parquet"))) == int(np.ceil(len(rl) / 8))        # one part per chunk
    bad = read_bad_records(out).set_index("study_id")
    assert set(bad.index) == {nan_id, gone_id}
    assert "NaN" in bad.loc[nan_id, "reason"] and "not found" in bad.loc[gone_id, "reason"]
    sid = int(f.index[0])                                # same numbers as a direct Bundle.predict
    x = to_model_input(load_mimic_ecg(root, study_id=sid))
    pred = bundle.predict(x[None], with_leads=False)
    np.testing.assert_allclose(f.loc[sid, probs].to_numpy(float), pred.probs[0], rtol=1e-5, atol=1e-6)
    row = bundle.prototypes.iloc[-1]
    assert f.loc[sid, f"sim_{row.prototype_id}"] == pytest.approx(pred.sims[row.branch][0, row.branch_index], abs=1e-6)


def test_resume_skips_done_and_redoes_lost_parts(bundle, ecg_dir, tmp_path):
    root, rl, _, _ = ecg_dir
    out = extract_features(bundle, root, tmp_path / "f.parquet", progress=False, chunk_records=8)
    parts = sorted(out.glob("part*.parquet"))
    before = read_features(out)
    mtimes = {p: p.stat().st_mtime_ns for p in parts}
    extract_features(bundle, root, out, progress=False, chunk_records=8)      # nothing left to do
    assert sorted(out.glob("part*.parquet")) == parts and all(p.stat().st_mtime_ns == mtimes[p] for p in parts)
    lost = set(pd.read_parquet(parts[0])["study_id"])
    parts[0].unlink()
    extract_features(bundle, root, out, progress=False, chunk_records=8)
    after = read_features(out)
    pd.testing.assert_frame_equal(after, before, check_exact=False, rtol=1e-5)
    assert len(read_bad_records(out)) == 2                                    # bad ones not re-listed
    assert lost <= set(after.index)


def test_shards_partition_the_records(bundle, ecg_dir, tmp_path):
    root, rl, nan_id, gone_id = ecg_dir
    out = tmp_path / "sharded.parquet"
    for i in range(3):
        extract_features(bundle, root, out, shard=(i, 3), progress=False)
    f = read_features(out)
    assert set(f.index) == set(rl["study_id"]) - {nan_id, gone_id}
    assert len(pd.read_parquet(out)) == len(f)                                # no study in two shards
    assert len(list(out.glob("_bad_records.shard-*-of-3.csv"))) >= 1
    with pytest.raises(ValueError, match="shard"):
        extract_features(bundle, root, out, shard=(3, 3), progress=False)


def test_cli(bundle, ecg_dir, tmp_path, capsys):
    from protoecg_cli import main

    root, rl, _, _ = ecg_dir
    out = tmp_path / "cli.parquet"
    assert main(["infer", "--model", str(bundle.path), "--mimic-ecg", str(root), "--out", str(out),
                 "--shard", "0/1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "2 bad record(s)" in text and "demo model" in text
    assert len(read_features(out)) == len(rl) - 2
    with pytest.raises(SystemExit):
        main(["infer", "--model", str(bundle.path), "--mimic-ecg", str(root), "--out", str(out), "--shard", "2/2"])


def test_streamed_fast_path_gives_the_plain_features(bundle, ecg_dir, tmp_path):
    """Decode workers + the fast serving path write the same table as in-process decoding, and every row
    equals the plain model's prediction (the pre-streaming computation) within 1e-5; ECG/s recorded."""
    from analysis.features import read_run_stats

    root, rl, nan_id, gone_id = ecg_dir
    a = read_features(extract_features(bundle, root, tmp_path / "w0.parquet", progress=False, chunk_records=5,
                                       batch_size=3, workers=0))
    out = extract_features(bundle, root, tmp_path / "w2.parquet", progress=False, chunk_records=5, batch_size=3,
                           workers=2)
    b = read_features(out)
    pd.testing.assert_frame_equal(a, b)
    assert len(list(out.glob("part*.parquet"))) == int(np.ceil(len(rl) / 5))      # chunking unchanged
    assert set(read_bad_records(out)["study_id"]) == {nan_id, gone_id}
    x = np.stack([to_model_input(load_mimic_ecg(root, study_id=int(s))) for s in b.index])
    plain = bundle.predict(x, with_leads=False)                                     # plain path
    _, probs, _ = feature_columns(bundle)
    np.testing.assert_allclose(b[probs].to_numpy(float), plain.probs, atol=1e-5)
    for r in bundle.prototypes.itertuples():
        np.testing.assert_allclose(b[f"sim_{r.prototype_id}"].to_numpy(float), plain.sims[r.branch][:, r.branch_index],
                                   atol=1e-5)
    stats = read_run_stats(out)
    assert stats["ecgs_inferred"] == len(b) and stats["bad_records"] == 2 and stats["ecg_per_s"] > 0
