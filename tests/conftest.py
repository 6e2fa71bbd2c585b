"""Shared test fixtures. Tests never read ../shared: real records are vendored under tests/fixtures/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# Two cores in CI: keep every test process from oversubscribing them.
os.environ.setdefault("OMP_NUM_THREADS", "2")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def ptbxl_fixture_dir() -> Path:
    """About 10 real PTB-XL records (PTB-XL layout, CC BY 4.0)."""
    return FIXTURES / "ptbxl"


@pytest.fixture(scope="session")
def cinc_fixture_dir() -> Path:
    """A few real PhysioNet/CinC 2021 records from other sites (CC BY 4.0)."""
    return FIXTURES / "cinc2021"


@pytest.fixture(scope="session", autouse=True)
def _isolated_protoecg_cache(tmp_path_factory):
    """``load_ptbxl`` caches decoded signals (data_access.cache); keep test runs out of ~/.cache."""
    old = os.environ.get("PROTOECG_CACHE_DIR")
    os.environ["PROTOECG_CACHE_DIR"] = str(tmp_path_factory.mktemp("protoecg_cache"))
    yield
    if old is None:
        os.environ.pop("PROTOECG_CACHE_DIR", None)
    else:
        os.environ["PROTOECG_CACHE_DIR"] = old
