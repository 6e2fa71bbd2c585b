"""A fast writer of 16-bit WFDB records, byte-identical to ``wfdb.wrsamp`` for this one layout.

``wfdb.wrsamp`` spends ~12 ms per record validating header fields through pandas look-ups, which alone
would exceed the 4,000-records-a-minute budget. For the single format the generator needs (format 16,
one ``.dat`` file, gain 1000/mV, baseline 0, like PTB-XL) the header and the interleaved little-endian
int16 samples are written directly; ``tests/data_access/test_synth_wfdb.py`` proves the bytes equal
``wfdb.wrsamp``'s and that ``wfdb.rdrecord`` reads them back. ``SynthConfig(writer="wfdb")`` uses
``wfdb.wrsamp`` itself.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

ADC_GAIN = 1000.0            # digital units per mV, as in PTB-XL
_DIGITAL_MAX = 32767         # -32768 is WFDB's "no sample" value for format 16


def to_digital(signal_mv: np.ndarray) -> np.ndarray:
    """(leads, samples) mV -> (samples, leads) int16 digital values (gain 1000/mV, baseline 0)."""
    d = np.rint(np.asarray(signal_mv, dtype=np.float64) * ADC_GAIN)
    return np.clip(d, -_DIGITAL_MAX, _DIGITAL_MAX).astype(np.int16).T


def header_text(record_name: str, fs: float, digital: np.ndarray, sig_names: Sequence[str]) -> str:
    """The ``.hea`` text ``wfdb.wrsamp`` writes for ``digital`` (samples, leads) in format 16."""
    n, n_sig = digital.shape
    fs_txt = f"{int(fs)}" if float(fs).is_integer() else f"{fs}"
    lines = [f"{record_name} {n_sig} {fs_txt} {n}"]
    checks = digital.astype(np.int64).sum(axis=0) % 65536
    for j, name in enumerate(sig_names):
        lines.append(f"{record_name}.dat 16 {ADC_GAIN}(0)/mV 16 0 {int(digital[0, j])} {int(checks[j])} 0 {name}")
    return "\n".join(lines) + "\n"


def write_record(path_base: str | Path, signal_mv: np.ndarray, fs: float, sig_names: Sequence[str]) -> None:
    """Write ``path_base.hea`` and ``path_base.dat`` (16-bit WFDB, mV, gain 1000)."""
    base = Path(path_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    digital = to_digital(signal_mv)
    base.with_name(base.name + ".hea").write_text(header_text(base.name, fs, digital, sig_names))
    np.ascontiguousarray(digital, dtype="<i2").tofile(base.with_name(base.name + ".dat"))


def write_record_wfdb(path_base: str | Path, signal_mv: np.ndarray, fs: float, sig_names: Sequence[str]) -> None:
    """Same output through ``wfdb.wrsamp`` (slower; the reference implementation)."""
    import wfdb

    base = Path(path_base)
    base.parent.mkdir(parents=True, exist_ok=True)
    digital = to_digital(signal_mv).astype(np.int64)
    n_sig = digital.shape[1]
    wfdb.wrsamp(base.name, fs=fs, units=["mV"] * n_sig, sig_name=list(sig_names), d_signal=digital,
                fmt=["16"] * n_sig, adc_gain=[ADC_GAIN] * n_sig, baseline=[0] * n_sig, write_dir=str(base.parent))
