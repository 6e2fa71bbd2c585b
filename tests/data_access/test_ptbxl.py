"""PTB-XL metadata, labels, branches, folds and signals on the vendored real records."""
import ast
import csv
import shutil

import numpy as np
import pytest

from data_access.errors import MetadataError
from data_access.preprocess import highpass
from data_access.ptbxl import (BRANCHES, TEST_FOLDS, VAL_FOLDS, branch_codes, branch_label_matrices,
                               branch_of, codes, label_matrix, load_ptbxl, parse_scp_codes, read_metadata,
                               read_metadata_checked)

EXPECTED_FOLDS = {1: 3, 2: 2, 8: 9, 9: 10, 17: 9, 26: 9, 32: 1, 45: 1, 63: 10, 77: 6}


def _csv_rows(root):
    with open(root / "ptbxl_database.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_codes_and_branches():
    cs = codes()
    assert len(cs) == 71 and len(set(cs)) == 71 and cs[:2] == ("NDT", "NST_")
    per = branch_codes()
    assert {b: len(v) for b, v in per.items()} == {"rhythm": 16, "morphology": 52, "diffuse": 3}
    assert set(per["diffuse"]) == {"NORM", "DIG", "EL"}
    assert {"1AVB", "2AVB", "3AVB", "IVCD", "AFIB", "SR"} <= set(per["rhythm"])
    assert set(branch_of()) == set(cs)


def test_parse_scp_codes_is_safe():
    assert parse_scp_codes("{'NORM': 100.0, 'SR': 0.0}") == {"NORM": 100.0, "SR": 0.0}
    for cell, msg in [("{'NORM': 100.0", "malformed scp_codes cell"), ("__import__('os')", "malformed"),
                      ("['NORM']", "is not a dict"), ("{'NORM': 'high'}", "must be numbers"),
                      (float("nan"), "empty scp_codes cell")]:
        with pytest.raises(MetadataError, match=rf"^7: .*{msg}"):
            parse_scp_codes(cell, 7)


def test_metadata_folds_and_labels_match_csv(ptbxl_fixture_dir):
    meta = read_metadata(ptbxl_fixture_dir)
    assert meta.index.tolist() == sorted(EXPECTED_FOLDS)
    assert meta["strat_fold"].to_dict() == EXPECTED_FOLDS
    y = label_matrix(meta)
    assert y.shape == (10, 71) and y.dtype == np.uint8
    cs = codes()
    for row, yi in zip(_csv_rows(ptbxl_fixture_dir), y):          # independent parse of the CSV text
        listed = set(ast.literal_eval(row["scp_codes"]))
        assert {cs[j] for j in np.flatnonzero(yi)} == listed, row["ecg_id"]
    i17 = meta.index.get_loc(17)
    assert {cs[j] for j in np.flatnonzero(y[i17])} == {"AFLT", "ABQRS", "AFIB"}   # 0 % likelihood counts


def test_branch_label_matrices(ptbxl_fixture_dir):
    meta = read_metadata(ptbxl_fixture_dir)
    y = label_matrix(meta)
    parts = branch_label_matrices(y)
    assert {b: m.shape for b, m in parts.items()} == {"rhythm": (10, 16), "morphology": (10, 52),
                                                      "diffuse": (10, 3)}
    assert sum(int(m.sum()) for m in parts.values()) == int(y.sum())
    i26 = meta.index.get_loc(26)                                   # NST_, DIG, SR
    names = {b: {c for c, v in zip(branch_codes()[b], parts[b][i26]) if v} for b in BRANCHES}
    assert names == {"rhythm": {"SR"}, "morphology": {"NST_"}, "diffuse": {"DIG"}}
    with pytest.raises(ValueError, match="expected"):
        branch_label_matrices(y[:, :70])


@pytest.mark.parametrize("fs", [100, 500])
def test_load_ptbxl_real_records(ptbxl_fixture_dir, fs):
    d = load_ptbxl(ptbxl_fixture_dir, fs=fs, cache_dir=False)
    assert d.signals.shape == (10, 12, 10 * fs) and d.signals.dtype == np.float32
    assert d.ecg_ids.tolist() == sorted(EXPECTED_FOLDS) and d.bad_records == []
    assert dict(zip(d.ecg_ids.tolist(), d.folds.tolist())) == EXPECTED_FOLDS
    assert d.labels.shape == (10, 71) and d.fs == fs
    val, test = d.split(VAL_FOLDS), d.split(TEST_FOLDS)
    assert val.ecg_ids.tolist() == [8, 17, 26] and test.ecg_ids.tolist() == [9, 63]
    assert val.branch_labels()["diffuse"].shape == (3, 3)
    raw = load_ptbxl(ptbxl_fixture_dir, fs=fs, folds=(9,), preprocess=False, cache_dir=False)
    assert raw.ecg_ids.tolist() == [8, 17, 26]
    np.testing.assert_allclose(val.signals, highpass(raw.signals, fs), atol=1e-5)

    def below_half_hz(x):          # energy under 0.5 Hz (baseline wander), over all leads
        spec = np.abs(np.fft.rfft(x - x.mean(axis=-1, keepdims=True), axis=-1)) ** 2
        return spec[..., np.fft.rfftfreq(x.shape[-1], 1 / fs) < 0.5].sum()
    assert below_half_hz(val.signals) < 0.5 * below_half_hz(raw.signals)


def test_500hz_files_resampled_to_100hz_agree_with_ptbxl_100hz_files(ptbxl_fixture_dir):
    lr = load_ptbxl(ptbxl_fixture_dir, fs=100, cache_dir=False)
    hr = load_ptbxl(ptbxl_fixture_dir, fs=100, source_fs=500, cache_dir=False)
    assert hr.signals.shape == lr.signals.shape
    a, b = lr.signals[:, :, 50:-50].ravel(), hr.signals[:, :, 50:-50].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.98


@pytest.fixture
def broken_copy(ptbxl_fixture_dir, tmp_path):
    """A copy of the fixture dataset with one malformed scp_codes cell, one missing file, one 500 Hz file
    in place of a 100 Hz one and one truncated file."""
    root = tmp_path / "ptbxl"
    shutil.copytree(ptbxl_fixture_dir, root)
    text = (root / "ptbxl_database.csv").read_text()
    text = text.replace("\"{'LPFB': 100.0, 'SR': 0.0}\"", "\"{'LPFB': 100.0, 'SR': \"")   # ecg_id 32
    (root / "ptbxl_database.csv").write_text(text)
    (root / "records100/00000/00002_lr.dat").unlink()                                   # ecg_id 2
    for ext in ("hea", "dat"):                                                          # ecg_id 9
        shutil.copy(root / f"records500/00000/00009_hr.{ext}", root / f"records100/00000/00009_lr.{ext}")
    (root / "records100/00000/00009_lr.hea").write_text(
        (root / "records100/00000/00009_lr.hea").read_text().replace("00009_hr", "00009_lr"))
    dat = root / "records100/00000/00063_lr.dat"                                        # ecg_id 63
    dat.write_bytes(dat.read_bytes()[:10000])
    return root


def test_load_ptbxl_skips_and_lists_bad_records(broken_copy):
    with pytest.raises(MetadataError, match=r"^32: malformed scp_codes cell"):
        read_metadata(broken_copy)
    meta, bad = read_metadata_checked(broken_copy)
    assert len(meta) == 9 and [b["ecg_id"] for b in bad] == [32]
    d = load_ptbxl(broken_copy, fs=100, cache_dir=False)
    assert d.ecg_ids.tolist() == [1, 8, 17, 26, 45, 77]
    reasons = {b["ecg_id"]: b["reason"] for b in d.bad_records}
    assert set(reasons) == {2, 9, 32, 63}
    assert "malformed scp_codes" in reasons[32]
    assert "signal file 00002_lr.dat named in 00002_lr.hea not found" in reasons[2]
    assert reasons[9] == "expected 100 Hz, the record is sampled at 500 Hz"
    assert "truncated: it holds 416 of the 1000 samples" in reasons[63]
    assert d.signals.shape == (6, 12, 1000) and d.labels.shape == (6, 71)
    hr = load_ptbxl(broken_copy, fs=500, cache_dir=False)      # the 500 Hz files are intact
    assert [b["ecg_id"] for b in hr.bad_records] == [32] and len(hr.ecg_ids) == 9
    only9 = load_ptbxl(broken_copy, fs=100, folds=(9,), cache_dir=False)
    assert only9.ecg_ids.tolist() == [8, 17, 26] and only9.bad_records == []


def test_metadata_table_problems(tmp_path, ptbxl_fixture_dir):
    with pytest.raises(MetadataError, match="no ptbxl_database.csv"):
        read_metadata(tmp_path)
    rows = (ptbxl_fixture_dir / "ptbxl_database.csv").read_text().splitlines()
    (tmp_path / "ptbxl_database.csv").write_text("\n".join(rows + [rows[1]]) + "\n")
    with pytest.raises(MetadataError, match=r"duplicated ecg_id\(s\) 1"):
        read_metadata(tmp_path)
    (tmp_path / "ptbxl_database.csv").write_text("ecg_id,scp_codes\n1,\"{'NORM': 100.0}\"\n")
    with pytest.raises(MetadataError, match=r"lacks column\(s\) strat_fold, filename_lr, filename_hr"):
        read_metadata(tmp_path)
