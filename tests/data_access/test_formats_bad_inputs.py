"""The bad-input corpus for the clinical formats: each broken file gets its own typed error and message."""
import numpy as np
import pytest

from data_access.batch import load_records  # noqa: F401  (the WFDB batch API stays importable beside formats)
from data_access.errors import (ECGDataError, LeadError, MalformedFileError, SamplingRateError,
                                UnitsError, UnknownFormatError)
from data_access.formats import read_any

from .clinical_factory import CANON, EIGHT, real_mv, write_aecg, write_edf, write_muse, write_philips


@pytest.fixture(scope="module")
def leads(fixtures_dir):
    return real_mv(fixtures_dir)


def test_truncated_xml(tmp_path, leads):
    p = write_muse(tmp_path / "cut.xml", leads)
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    with pytest.raises(MalformedFileError, match=r"^cut: the XML is broken or truncated \("):
        read_any(p)


def test_muse_missing_lead(tmp_path, leads):
    p = write_muse(tmp_path / "nov3.xml", leads, lead_ids=[x for x in EIGHT if x != "V3"])
    with pytest.raises(LeadError, match=r"nov3: missing lead\(s\) V3; found"):
        read_any(p)


def test_muse_limb_leads_underivable(tmp_path, leads):
    p = write_muse(tmp_path / "noII.xml", leads, lead_ids=[x for x in EIGHT if x != "II"])
    with pytest.raises(LeadError, match=r"missing lead\(s\) II, III, aVR, aVL, aVF; found I, V1, V2, V3, V4, V5, V6 "
                                        r"\(III, aVR, aVL, aVF can be derived only when leads I and II are present\)"):
        read_any(p)


def test_muse_wrong_units(tmp_path, leads):
    p = write_muse(tmp_path / "units.xml", leads, units="MILLIMETERS")
    with pytest.raises(UnitsError, match=r"lead I is in unit 'MILLIMETERS'; expected a voltage"):
        read_any(p)


def test_muse_base64_garbage(tmp_path, leads):
    p = write_muse(tmp_path / "garbage.xml", leads, mangle={"V2": "garbage"})
    with pytest.raises(MalformedFileError, match=r"lead V2: <WaveFormData> is not valid base64"):
        read_any(p)


def test_muse_truncated_waveform(tmp_path, leads):
    p = write_muse(tmp_path / "short.xml", leads, mangle={"V5": "truncate"})
    with pytest.raises(MalformedFileError, match=r"lead V5: <WaveFormData> holds 2500 samples but "
                                                 r"<LeadSampleCountTotal> declares 5000"):
        read_any(p)


def test_philips_xli_garbage_and_truncation(tmp_path, leads):
    good = write_philips(tmp_path / "ok.xml", leads, compress=True)
    b64 = good.read_text().split('leadlabels="I II III aVR aVL aVF V1 V2 V3 V4 V5 V6">')[1].split("<")[0]
    half = "".join(b64.split())[: len("".join(b64.split())) // 3 // 4 * 4]
    p = write_philips(tmp_path / "xli_cut.xml", leads, compress=True, body_override=half)
    with pytest.raises(MalformedFileError, match=r"xli_cut: XLI chunk \d+ declares \d+ bytes but \d+ remain \(truncated or corrupt\)"):
        read_any(p)
    p = write_philips(tmp_path / "b64.xml", leads, body_override="@@@@" + b64[4:])
    with pytest.raises(MalformedFileError, match=r"<parsedwaveforms> is not valid base64"):
        read_any(p)


def test_philips_unsupported_version(tmp_path, leads):
    p = write_philips(tmp_path / "v2.xml", leads, version="2.00")
    with pytest.raises(MalformedFileError, match=r"Philips XML version '2.00' is not supported"):
        read_any(p)


def test_aecg_non_numeric_digits_and_missing_rate(tmp_path, leads):
    p = write_aecg(tmp_path / "digits.xml", leads, digits_override={"V4": "12 13 x14 15"})
    with pytest.raises(MalformedFileError, match=r"lead MDC_ECG_LEAD_V4: <digits> holds a non-number"):
        read_any(p)
    p = write_aecg(tmp_path / "norate.xml", leads, increment=False)
    with pytest.raises(MalformedFileError, match=r"the sampling rate is unknown"):
        read_any(p)
    p = write_aecg(tmp_path / "volts.xml", leads, units="mm")
    with pytest.raises(UnitsError, match=r"unit 'mm'"):
        read_any(p)


def test_aecg_unequal_lead_lengths(tmp_path, leads):
    short = dict(leads)
    short["V6"] = leads["V6"][:4000]
    p = write_aecg(tmp_path / "ragged.xml", short)
    with pytest.raises(LeadError, match=r"leads have different numbers of samples: .*V6 4000"):
        read_any(p)


def test_dicom_without_waveform(tmp_path, fixtures_dir):
    import pydicom

    ds = pydicom.dcmread(fixtures_dir / "formats/waveform_ecg.dcm")
    del ds.WaveformSequence
    ds.save_as(tmp_path / "nowave.dcm")
    with pytest.raises(MalformedFileError, match=r"nowave: the DICOM object \(12-lead ECG Waveform Storage, "
                                                 r"modality ECG\) holds no waveform"):
        read_any(tmp_path / "nowave.dcm")


def test_dicom_truncated(tmp_path, fixtures_dir):
    raw = (fixtures_dir / "formats/waveform_ecg.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ECGDataError) as err:
        read_any(tmp_path / "cut.dcm")
    assert isinstance(err.value, MalformedFileError) and err.value.record == "cut"


def test_edf_with_three_channels(tmp_path, leads):
    p = write_edf(tmp_path / "three.edf", leads, labels=["I", "II", "V1"])
    with pytest.raises(LeadError, match=r"three: the EDF file has 3 recognisable ECG lead\(s\) among 3 signal\(s\) "
                                        r"\(ECG I, ECG II, ECG V1\)"):
        read_any(p)


def test_edf_real_non_ecg_file():
    """pyedflib's own test recording (EDFbrowser's generator: sine, square, noise) is no ECG."""
    import pathlib

    import pyedflib

    p = pathlib.Path(pyedflib.__file__).parent / "data" / "test_generator.edf"
    with pytest.raises(LeadError, match=r"0 recognisable ECG lead\(s\) among 11 signal\(s\) \(squarewave"):
        read_any(p)


def test_edf_truncated(tmp_path, leads):
    p = write_edf(tmp_path / "cut.edf", leads)
    p.write_bytes(p.read_bytes()[:-5000])
    with pytest.raises(MalformedFileError, match=r"^cut: not a readable EDF file"):
        read_any(p)


def test_short_record_and_odd_rate(tmp_path, leads):
    short = {k: v[:2500] for k, v in leads.items()}
    from data_access.errors import RecordLengthError
    with pytest.raises(RecordLengthError, match=r"record is 5.0 s long"):
        read_any(write_aecg(tmp_path / "short.xml", short))
    with pytest.raises(SamplingRateError, match=r"sampling rate 333 Hz is not supported"):
        read_any(write_muse(tmp_path / "fs333.xml", leads, fs=333))


def test_unknown_content(tmp_path):
    (tmp_path / "cda.xml").write_text('<?xml version="1.0"?><ClinicalDocument xmlns="urn:hl7-org:v3"/>')
    with pytest.raises(UnknownFormatError, match=r"root element <ClinicalDocument> is not a known ECG format"):
        read_any(tmp_path / "cda.xml")
    (tmp_path / "empty.edf").write_bytes(b"")
    with pytest.raises(UnknownFormatError, match=r"file content empty"):
        read_any(tmp_path / "empty.edf")
    (tmp_path / "photo.dcm").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(UnknownFormatError, match=r"not WFDB, GE MUSE"):
        read_any(tmp_path / "photo.dcm")


def test_xml_entity_bomb_refused(tmp_path):
    bomb = ('<?xml version="1.0"?><!DOCTYPE RestingECG [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><RestingECG>&b;</RestingECG>')
    (tmp_path / "bomb.xml").write_text(bomb)
    with pytest.raises(MalformedFileError, match=r"entities or external references, which are refused"):
        read_any(tmp_path / "bomb.xml")


def test_every_leads_name_spelling_maps():
    from data_access.formats._common import lead_name
    assert [lead_name(x) for x in ("MDC_ECG_LEAD_AVR", "Lead I (Einthoven)", "ECG V1", "EKG II", "avl")] == \
        ["aVR", "I", "V1", "II", "aVL"]
    assert lead_name("Resp") is None and CANON[3] == "aVR"
