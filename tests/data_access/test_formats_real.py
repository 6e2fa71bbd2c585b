"""Clinical files written by other software (carts, ECG management systems, converters), vendored under
tests/fixtures/formats/ with their licences (README.md there says where each comes from).

- ``muse_guangxi_sinus_rhythm.xml``: a GE MUSE 9.0.9 export of a MAC cart ECG (MIT, via ecg2dcm 1.3.1).
- ``ecg2dcm_guangxi_sinus_rhythm.dcm``: the same ECG converted to DICOM General ECG by ecg2dcm (MIT).
- ``philips_sierra103_129DYPRG.xml``: a Philips Sierra XML 1.03 file from a HeartStart MRx, XLI-compressed
  (sierra-ecg-tools' test file, MIT).
- ``fda_minimum_aecg.xml``: the FDA's minimal valid HL7 aECG (aecg-python's example, CC0): one lead, 13
  samples, so it must be refused with a message that says what is there and what is missing.
- ``fda_ectd_subject1_1.xml``: a full HL7 aECG from the FDA's eCTD example study (aecg-python, CC0): the
  HL7 aECG reference example of a Mortara ELI250 resting ECG, 12 leads stored independently, 10 s at
  500 Hz, 2.5 uV per digit, a rhythm series plus a representative-beat derived series and annotations.
"""
import base64
import re
import shutil

import numpy as np
import pytest

from data_access.errors import LeadError, MalformedFileError
from data_access.formats import detect_format, read_any
from data_access.leads import CANONICAL_LEADS

MUSE = "formats/muse_guangxi_sinus_rhythm.xml"
MUSE_DCM = "formats/ecg2dcm_guangxi_sinus_rhythm.dcm"
MUSE_LSB_MV = 4.88e-3
PHILIPS = "formats/philips_sierra103_129DYPRG.xml"
PHILIPS_LSB_MV = 5e-3
# sierra-ecg-tools' own tests pin these samples (index 2750 of each lead, in LSB) for this file.
PHILIPS_MIDPOINTS = [-9, -17, -7, 13, -1, -12, 0, -1, -3, -4, -7, -6]
AECG = "formats/fda_ectd_subject1_1.xml"
AECG_LSB_MV = 2.5e-3          # <scale value="2.5" unit="uV"/>, <origin value="0" unit="uV"/>


def test_real_muse_export(fixtures_dir):
    rec = read_any(fixtures_dir / MUSE)
    assert detect_format(fixtures_dir / MUSE) == "muse"
    assert rec.fs == 500.0 and rec.signal.shape == (12, 5000) and rec.leads == CANONICAL_LEADS
    # MUSE stores I, II, V1-V6; the reader computes the other four and says so.
    assert rec.derived_leads == ("III", "aVR", "aVL", "aVF")
    assert rec.metadata["lead_names"] == ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]
    m = rec.metadata
    assert (m["age"], m["sex"], m["acquisition_time"], m["device"]) == (11, "M", "2024-01-01T10:35:17", "MAC P")
    assert m["statements"] == ["窦性心律", "ST段抬高（提示心室早期复极）"]        # sinus rhythm; early repolarisation
    iv = m["intervals"]
    assert (iv["heart_rate_bpm"], iv["pr_ms"], iv["qrs_ms"], iv["qt_ms"], iv["qtc_ms"]) == (97, 122, 74, 328, 417)
    assert (iv["p_axis_deg"], iv["qrs_axis_deg"], iv["t_axis_deg"]) == (31, 63, 49)
    # The rhythm strip (5000 samples), not the 600-sample median beat; amplitudes in mV (4.88 µV LSB).
    ptp = np.ptp(rec.signal, axis=1)
    assert np.all(ptp > 0.5) and np.all(ptp < 6.0)
    ints = rec.signal[[0, 1, 6]].astype(np.float64) / MUSE_LSB_MV
    np.testing.assert_allclose(ints, np.round(ints), atol=1e-3)


def test_muse_and_its_dicom_conversion_by_other_software_agree(fixtures_dir):
    """ecg2dcm converted the MUSE export to DICOM; our MUSE and DICOM readers give the same ECG."""
    xml, dcm = read_any(fixtures_dir / MUSE), read_any(fixtures_dir / MUSE_DCM)
    assert dcm.fs == xml.fs and dcm.signal.shape == xml.signal.shape
    assert dcm.derived_leads == ()                         # ecg2dcm writes all 12 channels
    assert dcm.metadata["format"] == "DICOM General ECG Waveform Storage"
    assert dcm.metadata["lead_names"][3] == "aVR, augmented voltage, right"    # DICOM CID 3001 wording
    diff = np.abs(xml.signal.astype(np.float64) - dcm.signal.astype(np.float64)).max(axis=1)
    stored = [CANONICAL_LEADS.index(lead) for lead in ("I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6")]
    assert diff[stored].max() <= 1e-6
    # ecg2dcm rounds its Goldberger leads to whole LSBs; ours are exact: within half an LSB.
    assert diff[[3, 4, 5]].max() <= MUSE_LSB_MV / 2 + 1e-6
    assert diff[[3, 4, 5]].max() > 0                       # (so the derived leads were really compared)
    for key in ("pr_ms", "qrs_ms", "qt_ms", "qtc_ms", "heart_rate_bpm", "atrial_rate_bpm"):
        assert dcm.metadata["intervals"][key] == xml.metadata["intervals"][key], key
    assert (dcm.metadata["age"], dcm.metadata["sex"]) == (11, "M")


def test_dicom_leads_named_by_code_when_the_meaning_is_unfamiliar(fixtures_dir, tmp_path):
    """A writer may word the code meaning its own way; the MDC lead code still names the lead."""
    import pydicom

    ds = pydicom.dcmread(str(fixtures_dir / MUSE_DCM))
    for g in ds.WaveformSequence:
        for ch in g.ChannelDefinitionSequence:
            ch.ChannelSourceSequence[0].CodeMeaning = "Ableitung " + ch.ChannelSourceSequence[0].CodeValue
    out = tmp_path / "relabelled.dcm"
    ds.save_as(str(out))
    rec, ref = read_any(out), read_any(fixtures_dir / MUSE_DCM)
    assert rec.derived_leads == ()
    np.testing.assert_array_equal(rec.signal, ref.signal)


def _rhythm_lead_data(text: str, lead: str) -> re.Match:
    rhythm = text.index("<WaveformType>Rhythm</WaveformType>")
    pattern = rf"<LeadID>{lead}</LeadID>.*?<WaveFormData>(.*?)</WaveFormData>"
    return re.compile(pattern, re.S).search(text, rhythm)


def test_real_muse_checksums_are_checked(fixtures_dir, tmp_path):
    """Every lead of the real export carries a CRC-32 that matches; one flipped sample is refused."""
    text = (fixtures_dir / MUSE).read_text(encoding="utf-8")
    m = _rhythm_lead_data(text, "V2")
    raw = bytearray(base64.b64decode("".join(m.group(1).split())))
    raw[1000] ^= 0x01                                      # one sample off by one LSB
    edited = text[:m.start(1)] + base64.b64encode(bytes(raw)).decode() + text[m.end(1):]
    bad = tmp_path / "edited.xml"
    bad.write_text(edited, encoding="utf-8")
    with pytest.raises(MalformedFileError, match=r"lead V2: .*checksum"):
        read_any(bad)
    # With the checksum zeroed (what a writer that does not compute one puts there) the file reads.
    m2 = _rhythm_lead_data(edited, "V2")
    crc = re.compile(r"<LeadDataCRC32>\d+</LeadDataCRC32>").search(edited, m2.start(), m2.start(1))
    zeroed = edited[:crc.start()] + "<LeadDataCRC32>0</LeadDataCRC32>" + edited[crc.end():]
    ok = tmp_path / "zeroed.xml"
    ok.write_text(zeroed, encoding="utf-8")
    rec = read_any(ok)
    v2 = rec.signal[CANONICAL_LEADS.index("V2")] - read_any(fixtures_dir / MUSE).signal[CANONICAL_LEADS.index("V2")]
    assert np.count_nonzero(np.abs(v2) > 1e-6) == 1


def test_misnamed_real_files_still_read(fixtures_dir, tmp_path):
    for rel, fmt in ((MUSE, "muse"), (MUSE_DCM, "dicom"), (PHILIPS, "philips")):
        dst = tmp_path / "upload.bin"
        shutil.copy(fixtures_dir / rel, dst)
        assert detect_format(dst) == fmt


def test_real_philips_heartstart_file(fixtures_dir):
    rec = read_any(fixtures_dir / PHILIPS)
    assert detect_format(fixtures_dir / PHILIPS) == "philips"
    assert rec.fs == 500.0 and rec.leads == CANONICAL_LEADS and rec.derived_leads == ()
    m = rec.metadata
    assert m["format"] == "Philips Sierra XML 1.03"
    assert (m["age"], m["sex"], m["acquisition_time"], m["device"]) == (50, "M", "2011-12-01T07:27:34",
                                                                      "HeartstartMRx")
    assert m["statements"][0] == "Sinus bradycardia rate< 50" and m["statements"][-1] == ">>> Acute MI <<<"
    iv = m["intervals"]
    assert (iv["heart_rate_bpm"], iv["pr_ms"], iv["qrs_ms"], iv["qt_ms"], iv["qtc_ms"]) == (41, 151, 135, 476, 393)
    # 11 s were written: 10.528 s of ECG, then the calibration pattern, which is cut off.
    assert rec.signal.shape == (12, 5264) and m["calibration_trimmed_s"] == 0.472
    mid = np.round(rec.signal[:, 2750].astype(np.float64) / PHILIPS_LSB_MV).astype(int)
    assert mid.tolist() == PHILIPS_MIDPOINTS
    s = {lead: rec.signal[i].astype(np.float64) for i, lead in enumerate(CANONICAL_LEADS)}
    assert np.abs(s["III"] - (s["II"] - s["I"])).max() <= 2 * PHILIPS_LSB_MV + 1e-6
    assert np.abs(s["aVF"] - (s["II"] - s["I"] / 2)).max() <= 2 * PHILIPS_LSB_MV + 1e-6
    assert 0.5 < np.ptp(s["II"]) < 5.0


def test_real_philips_matches_the_reference_decoder(fixtures_dir):
    """sierraecg's own file reader decodes the same integers; the part cut off is the 1 mV pulse."""
    import sierraecg

    ref = sierraecg.read_file(str(fixtures_dir / PHILIPS))
    rec = read_any(fixtures_dir / PHILIPS)
    n = rec.signal.shape[1]
    for lead in ref.leads:
        samples = np.asarray(lead.samples, dtype=np.float64)
        assert samples.size == 5500
        i = CANONICAL_LEADS.index(lead.label)
        np.testing.assert_allclose(rec.signal[i], samples[:n] * PHILIPS_LSB_MV, atol=1e-6)
        assert set(np.unique(samples[n:])) == {0.0, 200.0}          # 200 LSB × 5 µV = 1 mV
        assert np.count_nonzero(samples[n:] == 200.0) == 100        # 0.2 s


def test_real_philips_cut_short_is_refused(fixtures_dir, tmp_path):
    text = (fixtures_dir / PHILIPS).read_text(encoding="utf-8")
    end = text.index("</parsedwaveforms>")
    cut = tmp_path / "cut.xml"
    cut.write_text(text[:end - 4000] + text[end:], encoding="utf-8")   # 4000 base64 characters lost
    with pytest.raises(MalformedFileError, match="truncated"):
        read_any(cut)


def test_fda_minimal_aecg_is_refused_naming_what_it_holds(fixtures_dir):
    path = fixtures_dir / "formats" / "fda_minimum_aecg.xml"
    assert detect_format(path) == "aecg"
    with pytest.raises(LeadError, match=r"^fda_minimum_aecg: missing lead\(s\) I, III, aVR, aVL, aVF, V1, V2, V3, V4, "
                                        r"V5, V6; found II \("):
        read_any(path)


def test_fda_aecg_layout_with_twelve_leads_reads(fixtures_dir, tmp_path):
    """The FDA file's own sequence element, repeated for 12 leads holding a real PTB-XL signal."""
    from .clinical_factory import CANON, real_mv

    text = (fixtures_dir / "formats" / "fda_minimum_aecg.xml").read_text(encoding="utf-8")
    start = text.index("<component>", text.index("TIME_ABSOLUTE"))
    end = text.index("</sequenceSet>")
    block = text[start:end]
    leads = real_mv(fixtures_dir)
    blocks = []
    for lead in CANON:
        digits = " ".join(str(int(v)) for v in np.round(leads[lead] * 1000 / 2.5))
        b = block.replace("MDC_ECG_LEAD_II", f"MDC_ECG_LEAD_{lead.upper()}")
        blocks.append(re.sub(r"<digits>.*?</digits>", f"<digits>{digits}</digits>", b))
    out = tmp_path / "fda_layout.xml"
    out.write_text(text[:start] + "".join(blocks) + text[end:], encoding="utf-8")
    rec = read_any(out)
    assert rec.fs == 500.0 and rec.signal.shape == (12, 5000) and rec.derived_leads == ()
    assert rec.metadata["acquisition_time"] == "2002-11-22T09:10:00"          # from <effectiveTime><center>
    for i, lead in enumerate(CANONICAL_LEADS):
        assert np.abs(rec.signal[i] - leads[lead]).max() <= 1.25e-3 + 1e-6, lead



def test_real_aecg_reads_its_rhythm_series(fixtures_dir):
    """The full FDA/HL7 example: the 10 s rhythm series (not the 599-sample representative beat), in mV."""
    rec = read_any(fixtures_dir / AECG)
    assert detect_format(fixtures_dir / AECG) == "aecg"
    assert rec.fs == 500.0 and rec.signal.shape == (12, 5000) and rec.leads == CANONICAL_LEADS
    assert rec.derived_leads == ()                           # all 12 leads are in the file
    assert rec.metadata["lead_names"] == [f"MDC_ECG_LEAD_{n}" for n in
                                          ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6", "III", "AVR", "AVL", "AVF")]
    m = rec.metadata
    # <center value="20021122101000"/>; born 19530508; the cart's rhythm annotation (a coded value)
    assert (m["acquisition_time"], m["sex"], m["age"], m["device"]) == ("2002-11-22T10:10:00", "M", 49, "ELI250")
    assert m["statements"] == ["Sinus Rhythm"]
    iv = m["intervals"]
    assert (iv["pr_ms"], iv["qrs_ms"], iv["qt_ms"], iv["qtc_ms"]) == (148, 120, 420, 443)
    assert (iv["p_axis_deg"], iv["qrs_axis_deg"], iv["t_axis_deg"]) == (44, -61, 86)
    # scale (uV) applied: lead I starts "-2 -2 -2 -2 -3 -4", lead II "-7 -7", V1 "43 43"
    np.testing.assert_allclose(rec.signal[0, :6], np.array([-2, -2, -2, -2, -3, -4]) * AECG_LSB_MV, atol=1e-9)
    np.testing.assert_allclose(rec.signal[[1, 6], 0], np.array([-7, 43]) * AECG_LSB_MV, atol=1e-9)
    ints = rec.signal.astype(np.float64) / AECG_LSB_MV
    np.testing.assert_allclose(ints, np.round(ints), atol=1e-3)
    ptp = np.ptp(rec.signal, axis=1)
    assert np.all(ptp > 0.5) and np.all(ptp < 3.0)          # plausible resting ECG amplitudes in mV


def test_real_aecg_limb_leads_obey_einthoven_and_goldberger(fixtures_dir):
    """The cart stored I, II, III, aVR, aVL, aVF independently (integers): the identities hold to rounding."""
    rec = read_any(fixtures_dir / AECG)
    lsb = {lead: np.round(rec.signal[i].astype(np.float64) / AECG_LSB_MV) for i, lead in enumerate(rec.leads)}
    i, ii, iii = lsb["I"], lsb["II"], lsb["III"]
    assert np.abs(iii - (ii - i)).max() == 0                               # Einthoven, exactly
    assert np.abs(lsb["aVR"] + (i + ii) / 2).max() <= 0.5                  # Goldberger, half an LSB of rounding
    assert np.abs(lsb["aVL"] - (i - iii) / 2).max() <= 0.5
    assert np.abs(lsb["aVF"] - (ii + iii) / 2).max() <= 0.5
    assert np.abs(lsb["aVR"] + lsb["aVL"] + lsb["aVF"]).max() <= 1
    assert np.abs(i).max() > 50                                            # (a real signal, not zeros)
