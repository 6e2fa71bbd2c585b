"""The bad-input corpus: real WFDB files written with wfdb, each rejected with its own typed error."""
import numpy as np
import pytest

from data_access.batch import load_records
from data_access.errors import (ECGDataError, HeaderError, LeadError, MissingFileError, RecordLengthError,
                                SamplingRateError, SignalQualityError, TruncatedRecordError, UnitsError)
from data_access.record import read_record

from .wfdb_factory import PTBXL_LEADS, edit_header, real_signal, write_record


@pytest.fixture(scope="module")
def sig100(fixtures_dir):
    return real_signal(fixtures_dir, 100)


def test_truncated_dat(tmp_path, sig100):
    rec = write_record(tmp_path, "trunc", sig100, 100)
    dat = rec.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[: 24 * 500 + 7])       # 500.3 of 1000 frames survive
    with pytest.raises(TruncatedRecordError,
                       match=r"^trunc: signal file trunc\.dat is truncated: it holds 500 of the 1000 samples"):
        read_record(rec)


def test_header_declares_fewer_samples_than_file_holds(tmp_path, sig100):
    rec = write_record(tmp_path, "mismatch", sig100, 100)
    edit_header(rec, "mismatch 12 100 1000", "mismatch 12 100 900")
    with pytest.raises(RecordLengthError, match=r"header/signal length mismatch: mismatch\.hea declares 900 "
                                                r"samples per lead but mismatch\.dat holds 1000"):
        read_record(rec)


def test_unsupported_sampling_rate(tmp_path, fixtures_dir):
    sig = real_signal(fixtures_dir, 500)[:2500]                # 10 s at 250 Hz
    rec = write_record(tmp_path, "fs250", sig, 250)
    with pytest.raises(SamplingRateError, match=r"fs250: sampling rate 250 Hz is not supported \(use 100 or 500"):
        read_record(rec)


def test_sampling_rate_differs_from_expected(tmp_path, fixtures_dir):
    rec = write_record(tmp_path, "hr", real_signal(fixtures_dir, 500), 500)
    assert read_record(rec).fs == 500.0
    with pytest.raises(SamplingRateError, match=r"hr: expected 100 Hz, the record is sampled at 500 Hz"):
        read_record(rec, expected_fs=100)


@pytest.mark.parametrize("n_leads", [8, 15])
def test_wrong_number_of_leads(tmp_path, sig100, n_leads):
    names = (PTBXL_LEADS + ["VX", "VY", "VZ"])[:n_leads]
    sig = np.concatenate([sig100, sig100[:, :3]], axis=1)[:, :n_leads]
    rec = write_record(tmp_path, f"leads{n_leads}", sig, 100, lead_names=names)
    with pytest.raises(LeadError, match=rf"leads{n_leads}: expected 12 leads, found {n_leads} \(I, II, III"):
        read_record(rec)


def test_misnamed_lead(tmp_path, sig100):
    rec = write_record(tmp_path, "misnamed", sig100, 100, lead_names=PTBXL_LEADS[:11] + ["V7"])
    with pytest.raises(LeadError, match=r"misnamed: unrecognised lead name\(s\): 'V7'"):
        read_record(rec)


def test_duplicated_lead(tmp_path, sig100):
    rec = write_record(tmp_path, "dup", sig100, 100)
    edit_header(rec, " V2", " V1", line=8)                  # wfdb refuses to write duplicates itself
    with pytest.raises(LeadError, match=r"dup: duplicated lead\(s\): V1; missing lead\(s\): V2"):
        read_record(rec)


def test_nan_samples(tmp_path, sig100):
    sig = sig100.copy()
    sig[100:200, 8] = np.nan                                 # V3
    rec = write_record(tmp_path, "nan", sig, 100)
    with pytest.raises(SignalQualityError, match=r"nan: NaN samples in lead\(s\) V3 \(100 of 1000\)"):
        read_record(rec)


def test_flat_lead(tmp_path, sig100):
    sig = sig100.copy()
    sig[:, 10] = 0.25                                        # V5 disconnected: constant
    rec = write_record(tmp_path, "flat", sig, 100)
    with pytest.raises(SignalQualityError, match=r"flat: flat lead\(s\) with no signal .*: V5$"):
        read_record(rec)


def test_two_second_record(tmp_path, sig100):
    rec = write_record(tmp_path, "short", sig100[:200], 100)
    with pytest.raises(RecordLengthError, match=r"short: record is 2\.0 s long \(200 samples at 100 Hz\); "
                                                r"at least 10 s \(1000 samples\) needed"):
        read_record(rec)


@pytest.mark.parametrize("text", ["this is not a WFDB header\n", "rec 12 fast 1000\n", ""])
def test_unparseable_header(tmp_path, text):
    (tmp_path / "rec.hea").write_text(text)
    (tmp_path / "rec.dat").write_bytes(b"\0" * 24000)
    with pytest.raises(HeaderError, match=r"rec: could not parse header rec\.hea"):
        read_record(tmp_path / "rec")


def test_missing_files(tmp_path, sig100):
    with pytest.raises(MissingFileError, match=r"nothere: header file .*nothere\.hea not found"):
        read_record(tmp_path / "nothere")
    rec = write_record(tmp_path, "nodat", sig100, 100)
    rec.with_suffix(".dat").unlink()
    with pytest.raises(MissingFileError, match=r"nodat: signal file nodat\.dat named in nodat\.hea not found"):
        read_record(rec)


def test_non_voltage_units(tmp_path, sig100):
    rec = write_record(tmp_path, "degc", sig100, 100, units="degC")
    with pytest.raises(UnitsError, match=r"degc: lead I is in unit 'degC'; expected a voltage"):
        read_record(rec)


def test_batch_skips_and_lists_bad_records(tmp_path, sig100, ptbxl_fixture_dir):
    good = ptbxl_fixture_dir / "records100" / "00000" / "00001_lr"
    short = write_record(tmp_path, "short", sig100[:200], 100)
    nan_sig = sig100.copy()
    nan_sig[:, 0] = np.nan
    nan = write_record(tmp_path, "nan", nan_sig, 100)
    batch = load_records([good, short, tmp_path / "missing", nan, good])
    assert batch.record_ids == ["00001_lr", "00001_lr"]
    assert [(b["record"], b["error"]) for b in batch.bad_records] == [
        ("short", "RecordLengthError"), ("missing", "MissingFileError"), ("nan", "SignalQualityError")]
    assert all(b["reason"] and b["path"] for b in batch.bad_records)
    assert issubclass(TruncatedRecordError, ECGDataError)
