"""``train`` labels a bundle as a demo model only when its data came from a generator."""
from __future__ import annotations

from pathlib import Path

from data_access.synth.ptbxl import SynthConfig, generate_ptbxl
from protoecg_cli.model_cmd import looks_generated

ROOT = Path(__file__).resolve().parents[2]


def test_vendored_real_records_are_not_called_generated() -> None:
    real = ROOT / "data" / "ptbxl_real"
    # Its README mentions generated ECGs (the demo pretrains on them); that must not make it "generated".
    assert "generated" in (real / "README.md").read_text().lower()
    assert not looks_generated(real)


def test_generator_output_is_detected(tmp_path: Path) -> None:
    root = generate_ptbxl(tmp_path / "synth", config=SynthConfig(n=3, seed=1, workers=1))
    assert looks_generated(root)
    (root / "README_SYNTHETIC.txt").unlink()
    (root / "synth_params.json").unlink()
    assert not looks_generated(root)
