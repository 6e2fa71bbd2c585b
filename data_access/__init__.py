"""Reading and validating ECG data: PTB-XL, single WFDB records, MIMIC-IV; preprocessing; demo generators.

Nothing here imports ``protoecg``, ``analysis`` or ``app``: data flows one way, out of this package.
"""
from __future__ import annotations

from .lazy import lazy_exports

_LAZY: dict[str, str] = {
    "ECGRecord": "data_access.record",
    "read_record": "data_access.record",
    "BRANCHES": "data_access.ptbxl",
    "PTBXLData": "data_access.ptbxl",
    "branch_of": "data_access.ptbxl",
    "codes": "data_access.ptbxl",
    "load_ptbxl": "data_access.ptbxl",
    "read_metadata": "data_access.ptbxl",
    "scp_statements": "data_access.ptbxl",
    "highpass": "data_access.preprocess",
    "resample": "data_access.preprocess",
    "to_model_input": "data_access.preprocess",
    "check_model_input": "data_access.signal_checks",
    "validate_signal": "data_access.signal_checks",
    "CANONICAL_LEADS": "data_access.leads",
    "load_mimic_ecg": "data_access.mimic_ecg",
    "read_record_list": "data_access.mimic_ecg",
    "HospTables": "data_access.mimic_hosp",
    "read_hosp": "data_access.mimic_hosp",
    "ECGDataError": "data_access.errors",
    "LeadError": "data_access.errors",
    "MetadataError": "data_access.errors",
    "MissingFileError": "data_access.errors",
    "ProtoECGError": "data_access.errors",
    "RecordLengthError": "data_access.errors",
    "RecordReadError": "data_access.errors",
    "SamplingRateError": "data_access.errors",
    "SignalQualityError": "data_access.errors",
    "SynthConfig": "data_access.synth.ptbxl",
    "generate_ptbxl": "data_access.synth.ptbxl",
    "MimicSynthConfig": "data_access.synth.mimic",
    "synthesize_mimic": "data_access.synth.mimic",
}

__all__ = ["BRANCHES", "CANONICAL_LEADS", "ECGDataError", "ECGRecord", "HospTables", "LeadError",
           "MetadataError", "MimicSynthConfig", "MissingFileError", "PTBXLData", "ProtoECGError",
           "RecordLengthError", "RecordReadError", "SamplingRateError", "SignalQualityError", "SynthConfig",
           "branch_of", "check_model_input", "codes", "generate_ptbxl", "highpass", "load_mimic_ecg",
           "load_ptbxl", "read_hosp", "read_metadata", "read_record", "read_record_list", "resample",
           "scp_statements", "synthesize_mimic", "to_model_input", "validate_signal"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
