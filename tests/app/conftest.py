"""Shared fixtures for the app tests: a tiny demo model trained here, on generated PTB-XL-layout data.

CI starts from a fresh clone, so nothing is read from ../shared or runs/: the fixture generates a small
synthetic PTB-XL dataset with the project's own generator and trains the ``tiny`` preset on it
(about 20 s on 2 cores), once per test session.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

N_RECORDS = 60


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory) -> Path:
    from data_access.synth.ptbxl import SynthConfig, generate_ptbxl

    root = tmp_path_factory.mktemp("demo_data")
    return generate_ptbxl(root, config=SynthConfig(n=N_RECORDS, seed=11, workers=1))


@pytest.fixture(scope="session")
def tiny_bundle_dir(demo_data_dir, tmp_path_factory) -> Path:
    import torch

    from data_access.ptbxl import load_ptbxl
    from protoecg.training.config import preset
    from protoecg.training.trainer import train

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("runs") / "tiny"
    data = load_ptbxl(demo_data_dir, fs=100, cache_dir=False)
    train(data, preset("tiny"), out, is_demo=True, dataset=str(demo_data_dir), progress=False, n_boot=20)
    return out


@pytest.fixture()
def app_env(tiny_bundle_dir, demo_data_dir, tmp_path, monkeypatch) -> dict[str, str]:
    """Environment for one app session: the tiny model, a fresh ratings DB, the demo data."""
    db = tmp_path / "ratings.sqlite"
    env = {"PROTOECG_APP_MODEL": str(tiny_bundle_dir), "PROTOECG_APP_DB": str(db),
           "PROTOECG_APP_DATA": str(demo_data_dir), "PROTOECG_APP_MAX_UPLOAD_MB": "1",
           "PROTOECG_APP_RESULTS": str(tmp_path / "phewas")}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


APP_DIR = Path(__file__).resolve().parents[2] / "app"
PAGES = APP_DIR / "views"
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's script runner installs each page it runs as ``sys.modules['__main__']`` and AppTest
    does not put the original back. Later tests that start processes with the ``spawn`` method (the demo
    generator's worker pool) would then re-run a page script in every child, so restore it."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
