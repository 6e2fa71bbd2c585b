"""The fast WFDB writer is byte-identical to wfdb.wrsamp and reads back through wfdb.rdrecord."""
from __future__ import annotations

import numpy as np
import wfdb

from data_access.synth.ptbxl import PTBXL_LEAD_NAMES
from data_access.synth.wfdb_writer import to_digital, write_record, write_record_wfdb


def test_fast_writer_matches_wrsamp_bytes(tmp_path):
    rng = np.random.default_rng(0)
    for fs, n in ((500, 5000), (100, 1000)):
        x = rng.normal(0, 1.5, (12, n))
        x[3, :5] = 40.0                                  # beyond the 16-bit range: clipped, not wrapped
        write_record(tmp_path / "a" / f"r{fs}", x, fs, PTBXL_LEAD_NAMES)
        write_record_wfdb(tmp_path / "b" / f"r{fs}", x, fs, PTBXL_LEAD_NAMES)
        for ext in (".hea", ".dat"):
            assert (tmp_path / "a" / f"r{fs}{ext}").read_bytes() == (tmp_path / "b" / f"r{fs}{ext}").read_bytes()
        rec = wfdb.rdrecord(str(tmp_path / "a" / f"r{fs}"))
        assert rec.fs == fs and rec.sig_name == list(PTBXL_LEAD_NAMES) and rec.units == ["mV"] * 12
        np.testing.assert_allclose(rec.p_signal.T[[0, 1, 2, 4]], x[[0, 1, 2, 4]], atol=5e-4 + 1e-9)
        assert rec.p_signal[0, 3] == 32.767


def test_digital_is_rounded_microvolts():
    d = to_digital(np.array([[0.0004, 0.0006, -0.0016]] * 12))
    assert d.dtype == np.int16 and d[:, 0].tolist() == [0, 1, -2]
