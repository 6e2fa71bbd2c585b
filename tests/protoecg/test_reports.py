"""`protoecg report` end to end: self-contained HTML per record, index with bad records, summary, resume."""
from __future__ import annotations

import csv
import re
import shutil

import pytest

from protoecg_cli import main

from .explain_support import tiny_bundle_path


@pytest.fixture(scope="module")
def record_list(tmp_path_factory, ptbxl_fixture_dir, cinc_fixture_dir):
    d = tmp_path_factory.mktemp("records")
    good = ptbxl_fixture_dir / "records100" / "00000" / "00017_lr"
    # a deliberately bad record: a copy whose signal file was cut short (an interrupted download)
    bad = d / "broken" / "00009_lr"
    bad.parent.mkdir()
    shutil.copy(ptbxl_fixture_dir / "records100" / "00000" / "00009_lr.hea", bad.with_suffix(".hea"))
    data = (ptbxl_fixture_dir / "records100" / "00000" / "00009_lr.dat").read_bytes()
    bad.with_suffix(".dat").write_bytes(data[: len(data) // 3])
    lst = d / "records.txt"
    lst.write_text(f"# two good records, one truncated, one missing\n{good}\n{cinc_fixture_dir / 'E07500'}\n"
                   f"broken/00009_lr\n{d / 'nowhere' / 'ghost'}\n")
    return lst


def test_report_run_writes_self_contained_pages_and_lists_bad_records(record_list, tmp_path, capsys):
    out = tmp_path / "reports"
    rc = main(["report", "--model", str(tiny_bundle_path()), "--records", str(record_list), "--out", str(out)])
    assert rc == 0
    pages = sorted(p.name for p in out.glob("*.html") if p.name != "index.html")
    assert pages == ["00000__00017_lr.html", "cinc2021__E07500.html"]
    for name in pages:
        html = (out / name).read_text(encoding="utf-8")
        assert html.count("plotly.js v") == 1                     # the library embedded exactly once
        assert not re.search(r"<script[^>]+src=", html)           # nothing fetched: opens offline
        assert html.count("Plotly.newPlot") >= 3                  # ECG figures + counterfactual/attributions
        assert "generated ECGs" in html                           # demo-model banner
        assert "Integrated" in html or "integrated" in html
        pdf = out / name.replace(".html", ".pdf")                 # the linked one-page clinical PDF
        assert f'href="{pdf.name}"' in html and pdf.read_bytes()[:5] == b"%PDF-"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "00000__00017_lr.html" in index and "cinc2021__E07500.html" in index
    assert "broken__00009_lr" in index and "nowhere__ghost" in index
    bad_section = index.split("Bad records", 1)[1]
    assert "00009_lr" in bad_section and "truncated" in bad_section
    assert "ghost.hea not found" in bad_section
    with (out / "summary.csv").open() as f:
        rows = {r["record"]: r for r in csv.DictReader(f)}
    assert rows["00000__00017_lr"]["status"] == "ok" and rows["broken__00009_lr"]["status"] == "error"
    assert rows["nowhere__ghost"]["reason"]
    assert rows["00000__00017_lr"]["cf_valid"] in ("True", "False")
    printed = capsys.readouterr().out
    assert "2 report(s) written" in printed and "2 bad record(s)" in printed

    # resumable: a second run skips the finished pages and keeps listing the bad ones
    before = (out / pages[0]).stat().st_mtime_ns
    rc = main(["report", "--model", str(tiny_bundle_path()), "--records", str(record_list), "--out", str(out),
               "--no-attributions"])
    assert rc == 0
    assert (out / pages[0]).stat().st_mtime_ns == before
    printed = capsys.readouterr().out
    assert "0 report(s) written, 2 already done, 2 bad record(s)" in printed


def test_report_rejects_an_empty_record_directory(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    rc = main(["report", "--model", str(tiny_bundle_path()), "--records", str(tmp_path / "empty"),
               "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "no ECG files under" in capsys.readouterr().err


def test_explain_cli_json_and_html(tmp_path, capsys, ptbxl_fixture_dir):
    import json
    html = tmp_path / "one.html"
    rc = main(["explain", "--model", str(tiny_bundle_path()), "--record",
               str(ptbxl_fixture_dir / "records500" / "00000" / "00026_hr"), "--json", "--html", str(html)])
    assert rc == 0
    js = json.loads(capsys.readouterr().out)
    assert set(js) == {"predictions", "evidence", "counterfactual", "timings_ms"}
    assert html.exists() and html.read_text(encoding="utf-8").count("plotly.js v") == 1
    page = html.read_text(encoding="utf-8")
    if js["counterfactual"] and js["counterfactual"]["leads_changed"]:   # leads as a list a reader can read
        assert f"<th>leads_changed</th><td>{', '.join(js['counterfactual']['leads_changed'])}</td>" in page


def test_explain_eval_cli_on_real_fixture_folds(tmp_path, capsys, ptbxl_fixture_dir):
    import json
    model = tmp_path / "model"
    shutil.copytree(tiny_bundle_path(), model)          # explain-eval caches its donor bank in the bundle
    rc = main(["explain-eval", "--model", str(model), "--ptbxl", str(ptbxl_fixture_dir), "--fold", "10",
               "--json", "--csv", str(tmp_path / "cases.csv")])
    assert rc == 0
    js = json.loads(capsys.readouterr().out)
    for key in ("validity", "median_seconds", "p95_seconds", "median_fraction_changed", "median_leads_changed",
                "median_plausibility", "median_plausibility_random", "n_cases", "skipped_no_donor"):
        assert key in js
    assert js["n_ecgs"] >= 1 and js["n_cases"] + js["skipped_no_donor"] == 2 * js["n_ecgs"]
    assert (model / "donor_bank.npz").exists()
    with (tmp_path / "cases.csv").open() as f:
        assert sum(1 for _ in f) == js["n_cases"] + 1
