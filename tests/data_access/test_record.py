"""The single-record reader on real PTB-XL and CinC 2021 records (vendored under tests/fixtures)."""
import hashlib

import numpy as np
import pytest
import wfdb

from data_access.batch import find_records, load_records
from data_access.errors import SignalQualityError
from data_access.leads import CANONICAL_LEADS
from data_access.record import read_record

from .wfdb_factory import write_record

PTBXL_IDS = (1, 2, 8, 9, 17, 26, 32, 45, 63, 77)


def _limb_identity_residual(sig: np.ndarray) -> float:
    """Largest violation (mV) of Einthoven's and Goldberger's relations; ~0 only if the lead order is right."""
    i, ii, iii, avr, avl, avf = sig[:6]
    return float(max(np.abs(iii - (ii - i)).max(), np.abs(avr + (i + ii) / 2).max(),
                     np.abs(avl - (i - ii / 2)).max(), np.abs(avf - (ii - i / 2)).max()))


def test_fixture_checksums_match_official_ptbxl_sums(ptbxl_fixture_dir):
    lines = (ptbxl_fixture_dir / "SHA256SUMS.txt").read_text().split("\n")
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    record_files = {p.relative_to(ptbxl_fixture_dir).as_posix()
                    for p in ptbxl_fixture_dir.glob("records*/*/*") if p.suffix in {".hea", ".dat"}}
    assert record_files <= set(sums) and len(record_files) == 4 * len(PTBXL_IDS)
    for rel, digest in sums.items():
        assert hashlib.sha256((ptbxl_fixture_dir / rel).read_bytes()).hexdigest() == digest, rel


def test_cinc_fixture_checksums(cinc_fixture_dir):
    for line in (cinc_fixture_dir / "SHA256SUMS.txt").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((cinc_fixture_dir / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("fs,sub,suffix", [(100, "records100", "lr"), (500, "records500", "hr")])
def test_ptbxl_records_shape_units_and_lead_order(ptbxl_fixture_dir, fs, sub, suffix):
    for ecg_id in PTBXL_IDS:
        path = ptbxl_fixture_dir / sub / "00000" / f"{ecg_id:05d}_{suffix}"
        rec = read_record(path.with_suffix(".hea"))  # the .hea suffix is accepted too
        raw = wfdb.rdrecord(str(path))
        assert rec.record_id == f"{ecg_id:05d}_{suffix}"
        assert rec.signal.shape == (12, 10 * fs) and rec.signal.dtype == np.float32
        assert rec.fs == fs and rec.duration_s == 10.0 and rec.leads == CANONICAL_LEADS
        assert rec.metadata["lead_names"][3] == "AVR"            # PTB-XL's upper-case spelling
        np.testing.assert_allclose(rec.signal[3], raw.p_signal[:, 3], atol=1e-6)   # AVR -> aVR row
        np.testing.assert_allclose(rec.signal[11], raw.p_signal[:, 11], atol=1e-6)
        assert _limb_identity_residual(rec.signal) < 0.01
        ptp_ii = np.ptp(rec.signal[1])
        assert 0.3 < ptp_ii < 8.0, f"lead II spans {ptp_ii} mV: not millivolts?"
        assert rec.dx_snomed == ()


def test_cinc_records_from_three_sites(cinc_fixture_dir):
    batch = load_records(find_records(cinc_fixture_dir))
    assert batch.record_ids == ["E07500", "E07501", "HR06000", "JS20000"]
    assert [b["record"] for b in batch.bad_records] == ["JS20004"]   # real record with flat V2, V4, V6
    assert "V2, V4, V6" in batch.bad_records[0]["reason"]
    scored = (cinc_fixture_dir / "dx_mapping_scored.csv").read_text()
    for rec in batch.records:
        assert rec.signal.shape == (12, 5000) and rec.fs == 500.0
        assert rec.metadata["lead_names"][3] == "aVR"
        assert _limb_identity_residual(rec.signal) < 0.01
        assert 0.3 < np.ptp(rec.signal[1]) < 8.0
        assert rec.dx_snomed and all(code.isdigit() for code in rec.dx_snomed)
        assert any(code in scored for code in rec.dx_snomed)
    hr = batch.records[2]
    assert hr.metadata["units"][0] == "mv"          # lower-case unit in the PTB-XL part of the Challenge
    assert hr.dx_snomed == ("164934002", "426783006")
    assert hr.metadata["Age"] == "59" and hr.metadata["Sex"] == "Female"
    assert batch.records[0].dx_snomed == ("67741000119109", "426177001")


def test_real_flat_lead_record_rejected_unless_allowed(cinc_fixture_dir):
    with pytest.raises(SignalQualityError, match=r"JS20004: flat lead\(s\).*V2, V4, V6"):
        read_record(cinc_fixture_dir / "JS20004")
    rec = read_record(cinc_fixture_dir / "JS20004", allow_flat=True)
    assert np.ptp(rec.signal[7]) == 0.0 and rec.dx_snomed[0] == "284470004"


def test_microvolt_records_are_converted_to_millivolts(tmp_path, fixtures_dir):
    from .wfdb_factory import real_signal

    sig = real_signal(fixtures_dir)
    mv = read_record(write_record(tmp_path, "mv", sig, 100))
    uv = read_record(write_record(tmp_path, "uv", sig * 1000.0, 100, units="uV", adc_gain=1.0))
    np.testing.assert_allclose(uv.signal, mv.signal, atol=2e-3)
    assert mv.signal[3].std() == pytest.approx(sig[:, 3].std(), rel=1e-3)


def test_record_path_may_name_any_of_its_files(cinc_fixture_dir, ptbxl_fixture_dir):
    by_mat = read_record(cinc_fixture_dir / "E07500.mat")
    by_base = read_record(str(cinc_fixture_dir / "E07500"))
    assert by_mat.record_id == by_base.record_id == "E07500"
    np.testing.assert_array_equal(by_mat.signal, by_base.signal)
    assert read_record(ptbxl_fixture_dir / "records100/00000/00009_lr.dat").record_id == "00009_lr"
