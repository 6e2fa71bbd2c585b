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
