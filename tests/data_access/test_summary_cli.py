"""``protoecg data summary --ptbxl DIR --json`` on the real fixture and on a damaged copy."""
import ast
import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from protoecg_cli import main

BRANCH_CSV = Path(__file__).parents[2] / "data_access" / "resources" / "ptbxl_branch_groups.csv"


def _run(capsys, *args):
    rc = main(["data", "summary", *args])
    return rc, capsys.readouterr().out


def test_summary_json_matches_the_csv(ptbxl_fixture_dir, capsys):
    rc, out = _run(capsys, "--ptbxl", str(ptbxl_fixture_dir), "--json")
    assert rc == 0
    s = json.loads(out)
    with open(ptbxl_fixture_dir / "ptbxl_database.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = Counter(code for r in rows for code in ast.literal_eval(r["scp_codes"]))
    assert s["n_records"] == len(rows) == 10
    assert len(s["label_counts"]) == 71
    assert {c: n for c, n in s["label_counts"].items() if n} == dict(expected)
    assert s["folds"] == {k: v for k, v in Counter(r["strat_fold"] for r in rows).items()}
    branch = {r["scp_code"]: r["branch"] for r in csv.DictReader(open(BRANCH_CSV, newline=""))}
    per_branch = Counter(b for r in rows for b in {branch[c] for c in ast.literal_eval(r["scp_codes"])})
    assert s["branch_counts"] == dict(per_branch) == {"rhythm": 10, "morphology": 8, "diffuse": 4}
    assert s["sampling_rates"] == [100, 500] and s["records_per_rate"] == {"100": 10, "500": 10}
    assert s["bad_records"] == [] and s["unknown_codes"] == []


def test_summary_lists_every_unreadable_record(ptbxl_fixture_dir, tmp_path, capsys):
    root = tmp_path / "ptbxl"
    shutil.copytree(ptbxl_fixture_dir, root)
    (root / "records500/00000/00008_hr.dat").unlink()
    dat = root / "records100/00000/00077_lr.dat"
    dat.write_bytes(dat.read_bytes()[:-24 * 10])
    text = (root / "ptbxl_database.csv").read_text().replace("\"{'IRBBB': 100.0, 'RAO/RAE'", "\"{'IRBBB' 100.0, 'RAO")
    (root / "ptbxl_database.csv").write_text(text)
    rc, out = _run(capsys, "--ptbxl", str(root), "--json")
    s = json.loads(out)
    assert rc == 0 and s["n_records"] == 10 and sum(s["folds"].values()) == 10
    bad = [(b["ecg_id"], b["file"], b["error"]) for b in s["bad_records"]]
    assert bad == [(8, "records500/00000/00008_hr", "MissingFileError"),
                   (45, "ptbxl_database.csv", "MetadataError"),
                   (77, "records100/00000/00077_lr", "TruncatedRecordError")]
    assert "holds 990 of the 1000 samples" in s["bad_records"][2]["reason"]
    assert s["records_per_rate"] == {"100": 8, "500": 8}
    rc, text_out = _run(capsys, "--ptbxl", str(root), "--fs", "100")
    assert rc == 0 and "unreadable records: 2" in text_out and "ecg_id 77" in text_out


def test_summary_of_missing_folder_is_an_error(tmp_path, capsys):
    rc = main(["data", "summary", "--ptbxl", str(tmp_path / "nope")])
    assert rc == 2 and "no such directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["data", "summary"])
