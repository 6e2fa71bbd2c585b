"""Writers of clinical ECG files for the reader tests, from a real PTB-XL signal.

Real MUSE and Philips files and the FDA's minimal aECG are vendored in tests/fixtures/formats (see its
README); these writers add what those cannot: a 12-lead HL7 aECG, every encoding variant, and files
broken on purpose for the bad-input tests. They follow the published layouts (the element names and
encodings the readers' docstrings list), strictly: base64 little-endian int16 with LSB and units for MUSE, Philips
Sierra 1.03 uncompressed or XLI-compressed (the XLI encoder below is the inverse of the decoder of the
``sierraecg`` reference implementation, which decodes it in the reader), aECG digits with scale and
origin. EDF files are written by pyedflib (the EDFlib C library), i.e. by other software.
DICOM uses the real files vendored in tests/fixtures/formats/.
"""
from __future__ import annotations

import base64
import struct
from pathlib import Path

import numpy as np
import wfdb

CANON = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
EIGHT = ["I", "II", "V1", "V2", "V3", "V4", "V5", "V6"]


def real_mv(fixtures_dir: Path, ecg_id: int = 1) -> dict[str, np.ndarray]:
    """A real PTB-XL record at 500 Hz, 10 s: ``{canonical lead: mV}``."""
    rec = wfdb.rdrecord(str(fixtures_dir / "ptbxl" / "records500" / "00000" / f"{ecg_id:05d}_hr"))
    names = [n.upper() for n in rec.sig_name]
    return {lead: rec.p_signal[:, names.index(lead.upper())].astype(np.float64) for lead in CANON}


def _ints(mv: np.ndarray, lsb_uv: float) -> np.ndarray:
    return np.round(mv * 1000.0 / lsb_uv).astype(np.int64)


# ---------------------------------------------------------------- GE MUSE
def write_muse(path: Path, leads: dict[str, np.ndarray], fs: int = 500, lsb_uv: float = 4.88,
               units: str = "MICROVOLTS", lead_ids: list[str] | None = None, mangle: dict | None = None) -> Path:
    """A MUSE RestingECG XML with a median and an 8-lead rhythm waveform. ``mangle`` ({lead: 'garbage' |
    'truncate'}) breaks one lead's data for the bad-input tests."""
    mangle = mangle or {}
    lead_xml = []
    for lead in lead_ids or EIGHT:
        raw = _ints(leads[lead], lsb_uv).astype("<i2").tobytes()
        n = len(raw) // 2
        b64 = base64.b64encode(raw).decode()
        if mangle.get(lead) == "garbage":
            b64 = "!!not*base64##" + b64[14:]
        elif mangle.get(lead) == "truncate":
            b64 = base64.b64encode(raw[: len(raw) // 2]).decode()
        lead_xml.append(f"""   <LeadData>
    <LeadByteCountTotal>{2 * n}</LeadByteCountTotal><LeadTimeOffset>0</LeadTimeOffset>
    <LeadSampleCountTotal>{n}</LeadSampleCountTotal><LeadAmplitudeUnitsPerBit>{lsb_uv}</LeadAmplitudeUnitsPerBit>
    <LeadAmplitudeUnits>{units}</LeadAmplitudeUnits><LeadHighLimit>32767</LeadHighLimit><LeadLowLimit>-32768</LeadLowLimit>
    <LeadID>{lead}</LeadID><LeadOffsetFirstSample>0</LeadOffsetFirstSample><FirstSampleBaseline>0</FirstSampleBaseline>
    <LeadSampleSize>2</LeadSampleSize><LeadOff>FALSE</LeadOff><BaselineSway>FALSE</BaselineSway>
    <WaveFormData>{b64}</WaveFormData>
   </LeadData>""")
    body = "\n".join(lead_xml)
    path.write_text(f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!DOCTYPE RestingECG SYSTEM "restecg.dtd">
<RestingECG>
 <MuseInfo><MuseVersion>8.0.2.10132</MuseVersion></MuseInfo>
 <PatientDemographics><PatientID>DEMO0001</PatientID><PatientAge>56</PatientAge><AgeUnits>YEARS</AgeUnits>
  <Gender>FEMALE</Gender></PatientDemographics>
 <TestDemographics><DataType>RESTING</DataType><AcquisitionDevice>MAC55</AcquisitionDevice>
  <AcquisitionTime>09:10:11</AcquisitionTime><AcquisitionDate>11-09-1984</AcquisitionDate></TestDemographics>
 <RestingECGMeasurements><VentricularRate>63</VentricularRate><AtrialRate>63</AtrialRate><PRInterval>172</PRInterval>
  <QRSDuration>94</QRSDuration><QTInterval>398</QTInterval><QTCorrected>407</QTCorrected><PAxis>53</PAxis>
  <RAxis>-12</RAxis><TAxis>40</TAxis></RestingECGMeasurements>
 <Diagnosis><Modality>RESTING</Modality>
  <DiagnosisStatement><StmtFlag>ENDSLINE</StmtFlag><StmtText>Normal sinus rhythm</StmtText></DiagnosisStatement>
  <DiagnosisStatement><StmtText>Normal ECG</StmtText></DiagnosisStatement></Diagnosis>
 <Waveform><WaveformType>Median</WaveformType><SampleBase>500</SampleBase><SampleExponent>0</SampleExponent></Waveform>
 <Waveform><WaveformType>Rhythm</WaveformType><WaveformStartTime>0</WaveformStartTime><NumberofLeads>8</NumberofLeads>
  <SampleType>CONTINUOUS_SAMPLES</SampleType><SampleBase>{fs}</SampleBase><SampleExponent>0</SampleExponent>
  <HighPassFilter>16</HighPassFilter><LowPassFilter>150</LowPassFilter><ACFilter>50</ACFilter>
{body}
 </Waveform>
</RestingECG>
""", encoding="iso-8859-1")
    return path


# ---------------------------------------------------------------- Philips Sierra XML + XLI
def lzw_encode(data: bytes, bits: int = 10) -> bytes:
    """LZW with fixed ``bits``-wide codes packed MSB first, no clear code: what XLI chunks hold."""
    max_code = (1 << bits) - 2
    table = {bytes([i]): i for i in range(256)}
    nxt, w, codes = 256, b"", []
    for b in data:
        wc = w + bytes([b])
        if wc in table:
            w = wc
            continue
        codes.append(table[w])
        if nxt <= max_code:
            table[wc] = nxt
            nxt += 1
        w = bytes([b])
    if w:
        codes.append(table[w])
    acc, nbits, out = 0, 0, bytearray()
    for c in codes:
        acc, nbits = (acc << bits) | c, nbits + bits
        while nbits >= 8:
            nbits -= 8
            out.append((acc >> nbits) & 0xFF)
    if nbits:
        out.append((acc << (8 - nbits)) & 0xFF)
    return bytes(out)


def xli_chunk(s: np.ndarray) -> bytes:
    """One lead as an XLI chunk: second differences (+64) packed high bytes then low bytes, LZW-coded."""
    s = [int(v) for v in s]
    n = len(s)
    d = [0] * n
    d[0], d[1] = s[0], s[1]
    first = 2 * s[1] - s[0] - s[2]
    for k in range(2, n - 1):
        d[k] = 2 * s[k] - s[k - 1] - s[k + 1] + 64
    d[n - 1] = 64
    u = [v & 0xFFFF for v in d]
    payload = bytes([(v >> 8) & 0xFF for v in u] + [v & 0xFF for v in u])
    comp = lzw_encode(payload)
    return struct.pack("<iHh", len(comp), 0, first) + comp


def write_philips(path: Path, leads: dict[str, np.ndarray], fs: int = 500, res_uv: float = 5.0,
                  compress: bool = False, version: str = "1.03", drop: tuple[str, ...] = (),
                  body_override: str | None = None) -> Path:
    """A Philips Sierra ECG XML with all 12 leads, uncompressed or XLI (limb residuals as the carts store)."""
    ints = {k: _ints(leads[k], res_uv) for k in CANON}
    n = len(ints["I"])
    labels = [lead for lead in CANON if lead not in drop]
    if compress:
        i, ii, iii = ints["I"], ints["II"], ints["III"]
        stored = dict(ints)
        stored["III"] = ii - i - iii
        stored["aVR"] = -ints["aVR"] - np.floor_divide(i + ii, 2)
        stored["aVL"] = np.floor_divide(i - iii, 2) - ints["aVL"]
        stored["aVF"] = np.floor_divide(ii + iii, 2) - ints["aVF"]
        raw = b"".join(xli_chunk(stored[k]) for k in labels)
        attrs = 'compressflag="True" compressmethod="XLI"'
    else:
        raw = b"".join(ints[k].astype("<i2").tobytes() for k in labels)
        attrs = 'compressflag="False"'
    b64 = base64.b64encode(raw).decode()
    body = body_override if body_override is not None else "\n".join(b64[i:i + 76] for i in range(0, len(b64), 76))
    dur_ms = int(round(n * 1000 / fs))
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<restingecgdata xmlns="http://www3.medical.philips.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <documentinfo><documenttype>SierraECG</documenttype><documentversion>{version}</documentversion></documentinfo>
 <dataacquisition date="2011-12-01" time="07:27:34"><machine machineid="0001">PageWriter TC50</machine>
  <signalcharacteristics><samplingrate>{fs}</samplingrate><signalresolution>{res_uv:g}</signalresolution>
   <acquisitiontype>STD-12</acquisitiontype><bitspersample>16</bitspersample><signaloffset>0</signaloffset>
   <signalsigned>True</signalsigned><numberchannelsallocated>{len(labels)}</numberchannelsallocated>
   <numberchannelsvalid>{len(labels)}</numberchannelsvalid></signalcharacteristics></dataacquisition>
 <patient><generalpatientdata><patientid>DEMO</patientid><age><years>50</years></age><sex>Male</sex></generalpatientdata></patient>
 <interpretations><interpretation><statement><leftstatement>SINUS RHYTHM</leftstatement><rightstatement>normal P axis, V-rate 50-99</rightstatement></statement>
  <statement><leftstatement>NORMAL ECG</leftstatement></statement></interpretation></interpretations>
 <measurements><globalmeasurements><meanventrate>63</meanventrate><meanprint>151</meanprint><meanqrsdur>96</meanqrsdur>
  <meanqtint>400</meanqtint><meanqtc>409</meanqtc><qrsfrontaxis>-21</qrsfrontaxis></globalmeasurements></measurements>
 <waveforms><parsedwaveforms durationperchannel="{dur_ms}" samplespersecond="{fs}" dataencoding="Base64" {attrs}
   numberofleads="{len(labels)}" leadlabels="{' '.join(labels)}">{body}</parsedwaveforms></waveforms>
</restingecgdata>
""", encoding="utf-8")
    return path


# ---------------------------------------------------------------- HL7 aECG
def write_aecg(path: Path, leads: dict[str, np.ndarray], fs: int = 500, scale_uv: float = 2.5,
               origin_uv: float = 0.0, units: str = "uV", lead_names: list[str] | None = None,
               digits_override: dict[str, str] | None = None, increment: bool = True) -> Path:
    """An HL7 aECG document with one rhythm series holding 12 MDC_ECG_LEAD_* sequences."""
    digits_override = digits_override or {}
    seqs = []
    if increment:
        seqs.append(f"""<component><sequence><code code="TIME_ABSOLUTE" codeSystem="2.16.840.1.113883.5.4"/>
   <value xsi:type="GLIST_TS"><head value="20110412083000.000"/><increment value="{1.0 / fs:g}" unit="s"/></value>
  </sequence></component>""")
    for lead in lead_names or CANON:
        d = digits_override.get(lead)
        if d is None:
            d = " ".join(str(v) for v in np.round((leads[lead] * 1000.0 - origin_uv) / scale_uv).astype(np.int64))
        mdc = "MDC_ECG_LEAD_" + lead.upper()
        seqs.append(f"""<component><sequence><code code="{mdc}" codeSystem="2.16.840.1.113883.6.24"/>
   <value xsi:type="SLIST_PQ"><origin value="{origin_uv:g}" unit="{units}"/><scale value="{scale_uv:g}" unit="{units}"/>
    <digits>{d}</digits></value></sequence></component>""")
    body = "\n".join(seqs)
    path.write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<AnnotatedECG xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <id root="728989ec-4ad2-4d93-8dfe-bfd1e3e0b4d1"/>
 <code code="93000" codeSystem="2.16.840.1.113883.6.12" codeSystemName="CPT-4"/>
 <effectiveTime><low value="20110412083000"/><high value="20110412083010"/></effectiveTime>
 <componentOf><timepointEvent><componentOf><subjectAssignment><subject><trialSubject>
  <subjectDemographicPerson><administrativeGenderCode code="M" codeSystem="2.16.840.1.113883.5.1"/>
   <birthTime value="19610520"/></subjectDemographicPerson></trialSubject></subject></subjectAssignment>
 </componentOf></timepointEvent></componentOf>
 <component><series><code code="RHYTHM" codeSystem="2.16.840.1.113883.5.4"/>
  <author><seriesAuthor><manufacturedSeriesDevice><manufacturerModelName>ELI 250</manufacturerModelName>
  </manufacturedSeriesDevice></seriesAuthor></author>
  <component><sequenceSet>
{body}
  </sequenceSet></component>
  <subjectOf><annotationSet>
   <component><annotation><code code="MDC_ECG_INTERPRETATION_STATEMENT" codeSystem="2.16.840.1.113883.6.24"/>
    <value xsi:type="ST">Sinus rhythm</value></annotation></component>
   <component><annotation><code code="MDC_ECG_TIME_PD_PR" codeSystem="2.16.840.1.113883.6.24"/>
    <value xsi:type="PQ" value="158" unit="ms"/></annotation></component>
   <component><annotation><code code="MDC_ECG_HEART_RATE" codeSystem="2.16.840.1.113883.6.24"/>
    <value xsi:type="PQ" value="64" unit="bpm"/></annotation></component>
  </annotationSet></subjectOf>
 </series></component>
</AnnotatedECG>
""", encoding="utf-8")
    return path


# ---------------------------------------------------------------- EDF (written by pyedflib / EDFlib)
def write_edf(path: Path, leads: dict[str, np.ndarray], fs: int = 500, labels: list[str] | None = None) -> Path:
    """An EDF+ file written by pyedflib (EDFlib), one ``ECG <lead>`` signal per lead in µV."""
    import datetime

    import pyedflib

    labels = labels or CANON
    data = [leads[lead] * 1000.0 for lead in labels]
    w = pyedflib.EdfWriter(str(path), len(labels), file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        headers = []
        for lead, x in zip(labels, data):
            lim = float(np.ceil(max(abs(x.min()), abs(x.max()), 1.0) + 1))
            headers.append({"label": f"ECG {lead}", "dimension": "uV", "sample_frequency": fs,
                            "physical_max": lim, "physical_min": -lim, "digital_max": 32767,
                            "digital_min": -32768, "transducer": "AgAgCl electrode", "prefilter": "HP:0.05Hz"})
        w.setSignalHeaders(headers)
        w.setSex(1)
        w.setBirthdate(datetime.date(1961, 5, 20))
        w.setStartdatetime(datetime.datetime(2011, 4, 12, 8, 30, 0))
        w.setEquipment("protoecg-test")
        w.writeSamples(data)
        w.writeAnnotation(1.0, -1, "Sinus rhythm")
    finally:
        w.close()
    return path
