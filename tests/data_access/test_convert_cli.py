"""``protoecg data convert``: a directory of mixed clinical files → WFDB, bad files skipped and listed."""
import csv
import shutil

from data_access.record import read_record
from protoecg_cli import main

from .clinical_factory import real_mv, write_aecg, write_muse


def test_data_convert_directory(tmp_path, fixtures_dir, capsys):
    src = tmp_path / "exports"
    (src / "sub").mkdir(parents=True)
    leads = real_mv(fixtures_dir)
    write_muse(src / "a.xml", leads)
    write_aecg(src / "sub" / "b.XML", leads)
    shutil.copy(fixtures_dir / "formats" / "waveform_ecg.dcm", src / "c.dcm")
    (src / "sub" / "bad.edf").write_bytes(b"0       " + b"garbage" * 10)
    rc = main(["data", "convert", str(src), "--to", "wfdb", "--out", str(tmp_path / "wfdb"), "--fs", "500",
               "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0 and "3 of 4 file(s) converted" in out and "bad.edf" in out
    for name in ("a", "b", "c"):
        rec = read_record(tmp_path / "wfdb" / name)
        assert rec.fs == 500 and rec.signal.shape == (12, 5000)
    assert "Derived leads" in read_record(tmp_path / "wfdb" / "a").metadata
    with (tmp_path / "wfdb" / "conversion_failures.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["path"].rsplit("/", 1)[1] for r in rows] == ["bad.edf"]
    assert rows[0]["format"] == "edf" and rows[0]["error"] == "MalformedFileError"


def test_data_convert_nothing_to_do(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "convert", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    assert "no ECG files found" in capsys.readouterr().err
