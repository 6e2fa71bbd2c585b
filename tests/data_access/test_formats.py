"""Clinical formats in: a real DICOM ECG (pydicom's, written by a Mortara ELI 250), EDF+ written by
pyedflib (EDFlib), and MUSE / Philips / aECG files written from their published layouts (see
clinical_factory), all from or checked against real signals. Real MUSE and Philips files written by
carts: test_formats_real."""
import shutil

import numpy as np
import pytest

from data_access.convert import convert_many
from data_access.formats import detect_format, find_ecg_files, read_any
from data_access.leads import CANONICAL_LEADS
from data_access.record import read_record

from .clinical_factory import CANON, real_mv, write_aecg, write_edf, write_muse, write_philips

DICOM = "formats/waveform_ecg.dcm"


@pytest.fixture(scope="module")
def leads(fixtures_dir):
    return real_mv(fixtures_dir)


@pytest.fixture(scope="module")
def files(tmp_path_factory, leads):
    d = tmp_path_factory.mktemp("clinical")
    return {"muse": write_muse(d / "muse.xml", leads), "philips": write_philips(d / "philips.xml", leads),
            "philips_xli": write_philips(d / "philips_xli.xml", leads, compress=True),
            "aecg": write_aecg(d / "aecg.xml", leads), "edf": write_edf(d / "ecg.edf", leads)}


def test_real_dicom_ecg(fixtures_dir):
    rec = read_any(fixtures_dir / DICOM)
    assert rec.signal.shape == (12, 10000) and rec.fs == 1000.0 and rec.signal.dtype == np.float32
    assert rec.leads == CANONICAL_LEADS and rec.derived_leads == ()
    m = rec.metadata
    assert (m["age"], m["sex"], m["acquisition_time"]) == (42, "F", "2013-01-25T10:59:19")
    assert m["statements"] == ["RITMO SINUSALE", "ECG NORMALE"]
    assert m["intervals"]["pr_ms"] == 161 and m["intervals"]["qrs_ms"] == 75 and m["intervals"]["qtc_ms"] == 370
    assert "Mortara" in m["device"] and m["format"] == "DICOM 12-lead ECG Waveform Storage"
    s = {lead: rec.signal[i].astype(np.float64) for i, lead in enumerate(CANONICAL_LEADS)}
    # The cart recorded all 12 leads: Einthoven and Goldberger hold on its data within 2 LSB (1.25 µV each),
    # which checks that the channel names were mapped to the right rows.
    lsb = 1.25e-3
    assert np.abs(s["III"] - (s["II"] - s["I"])).max() <= 2 * lsb
    assert np.abs(s["aVR"] + (s["I"] + s["II"]) / 2).max() <= 2 * lsb
    assert np.abs(s["aVF"] - (s["II"] - s["I"] / 2)).max() <= 2 * lsb
    assert 0.5 < np.ptp(s["II"]) < 5.0                      # millivolts, not microvolts


@pytest.mark.parametrize("kind,lsb_mv", [("muse", 4.88e-3), ("philips", 5e-3), ("philips_xli", 5e-3),
                                         ("aecg", 2.5e-3), ("edf", 1e-3)])
def test_formats_read_the_real_signal(files, leads, kind, lsb_mv):
    rec = read_any(files[kind])
    assert rec.fs == 500.0 and rec.signal.shape == (12, 5000) and rec.leads == CANONICAL_LEADS
    written = [lead for lead in CANON if lead not in rec.derived_leads]
    for lead in written:
        i = CANONICAL_LEADS.index(lead)
        assert np.abs(rec.signal[i] - leads[lead]).max() <= lsb_mv / 2 + 1e-6, lead
    assert rec.metadata["sex"] in ("M", "F") and isinstance(rec.metadata["age"], int)
    assert rec.metadata["acquisition_time"][:4].isdigit()
    assert rec.metadata["statements"]


def test_muse_derives_the_four_limb_leads(files):
    rec = read_any(files["muse"])
    assert rec.derived_leads == ("III", "aVR", "aVL", "aVF")
    assert rec.metadata["derived_leads"] == ["III", "aVR", "aVL", "aVF"]
    s = rec.signal.astype(np.float64)
    np.testing.assert_allclose(s[2], s[1] - s[0], atol=1e-6)            # III = II - I
    np.testing.assert_allclose(s[3], -(s[0] + s[1]) / 2, atol=1e-6)     # aVR
    np.testing.assert_allclose(s[4], s[0] - s[1] / 2, atol=1e-6)        # aVL
    np.testing.assert_allclose(s[5], s[1] - s[0] / 2, atol=1e-6)        # aVF
    m = rec.metadata
    assert (m["age"], m["sex"], m["acquisition_time"]) == (56, "F", "1984-11-09T09:10:11")
    assert m["intervals"]["pr_ms"] == 172 and m["statements"] == ["Normal sinus rhythm", "Normal ECG"]


def test_xli_matches_the_reference_decoder(files):
    """The sierraecg reference implementation's own file reader gives the same integer samples."""
    import sierraecg

    ref = sierraecg.read_file(str(files["philips_xli"]))
    rec = read_any(files["philips_xli"])
    for lead in ref.leads:
        i = CANONICAL_LEADS.index(lead.label)
        np.testing.assert_allclose(rec.signal[i], np.asarray(lead.samples, float) * 5e-3, atol=1e-6)
    np.testing.assert_allclose(read_any(files["philips"]).signal, rec.signal, atol=1e-6)


def test_format_comes_from_content_not_name(tmp_path, files, fixtures_dir):
    expect = {"muse": "muse", "philips": "philips", "aecg": "aecg", "edf": "edf"}
    for kind, fmt in expect.items():
        disguised = tmp_path / f"{kind}_upload.bin"
        shutil.copy(files[kind], disguised)
        assert detect_format(disguised) == fmt
        np.testing.assert_array_equal(read_any(disguised).signal, read_any(files[kind]).signal)
    dcm = tmp_path / "IM0001"                                        # DICOM files often have no extension
    shutil.copy(fixtures_dir / DICOM, dcm)
    assert detect_format(dcm) == "dicom"
    assert detect_format(fixtures_dir / "ptbxl/records100/00000/00001_lr") == "wfdb"


def test_wfdb_conversion_round_trip(tmp_path, files, fixtures_dir):
    src = tmp_path / "in"
    src.mkdir()
    for p in list(files.values()) + [fixtures_dir / DICOM]:
        shutil.copy(p, src / p.name)
    (src / "notes.xml").write_text("<notes><n>not an ECG</n></notes>")
    (src / "broken.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    run = convert_many(find_ecg_files(src), tmp_path / "out")
    assert len(run.written) == 6
    assert sorted(b["path"].rsplit("/", 1)[1] for b in run.bad) == ["broken.dcm", "notes.xml"]
    assert {b["error"] for b in run.bad} == {"UnknownFormatError", "MalformedFileError"}
    assert run.failures_csv.read_text().count("\n") == 3                 # header + 2 failures
    for inp, out in run.written:
        orig, back = read_any(inp), read_any(out)
        assert back.fs == orig.fs and back.metadata["format"] == "WFDB"
        np.testing.assert_allclose(back.signal, orig.signal, atol=2e-3)
        hdr = read_record(out, supported_fs=(orig.fs,)).metadata
        assert hdr.get("Source format") == orig.metadata["format"]
        if orig.derived_leads:
            assert hdr["Derived leads"].startswith("III aVR aVL aVF")


def test_convert_resamples_on_request(tmp_path, fixtures_dir):
    run = convert_many([fixtures_dir / DICOM], tmp_path, fs=500)
    rec = read_record(run.written[0][1])                              # 500 Hz: the plain WFDB reader accepts it
    assert rec.fs == 500.0 and rec.signal.shape == (12, 5000)


def test_philips_trailing_pattern_on_all_leads_is_cut(tmp_path, leads):
    """What the real HeartStart file has after its ECG (test_formats_real): here 1 s of zeros on every lead."""
    padded = {k: np.concatenate([v, np.zeros(500)]) for k, v in leads.items()}
    rec = read_any(write_philips(tmp_path / "cal.xml", padded))
    assert rec.signal.shape == (12, 5000) and rec.metadata["calibration_trimmed_s"] == 1.0
    # A few equal samples (under 20 ms) can be chance: kept.
    short = {k: np.concatenate([v, np.zeros(5)]) for k, v in leads.items()}
    rec = read_any(write_philips(tmp_path / "short.xml", short))
    assert rec.signal.shape == (12, 5005) and "calibration_trimmed_s" not in rec.metadata

