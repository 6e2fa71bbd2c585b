"""App settings, read from environment variables set by ``protoecg app`` (or by tests)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.app_env import (  # noqa: F401  (re-exported for the app and tests)
    DATA_ENV, DB_ENV, DEFAULT_MAX_UPLOAD_MB, MAX_UPLOAD_ENV, MODEL_ENV, RESULTS_ENV, SURVIVAL_ENV,
)

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples" / "ptbxl"


@dataclass(frozen=True)
class AppConfig:
    """Where the model, the ratings database, the demo data and the phenotype results are."""

    model_dir: Path | None
    db_url: str
    max_upload_mb: int
    data_dir: Path | None
    results_dir: Path | None
    survival_dir: Path | None = None

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


def _path(value: str | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None


def load_config() -> AppConfig:
    """Settings from the environment; the ratings DB defaults to ``<model run>/ratings.sqlite``."""
    from protoecg.review.ratings import resolve_db_url

    model = _path(os.environ.get(MODEL_ENV))
    try:
        mb = int(os.environ.get(MAX_UPLOAD_ENV, DEFAULT_MAX_UPLOAD_MB))
    except ValueError:
        mb = DEFAULT_MAX_UPLOAD_MB
    results = _path(os.environ.get(RESULTS_ENV))
    if results is None and model is not None:
        # `make demo` writes RUN/model (the bundle) beside RUN/phewas
        results = next((d for d in (model / "phewas", model.parent / "phewas") if d.is_dir()),
                       model / "phewas")
    survival = _path(os.environ.get(SURVIVAL_ENV))
    if survival is None and results is not None:
        survival = next((d for d in (results / "survival", results.parent / "survival", results)
                         if d.is_dir() and any(d.glob("km_*.html"))), None)
    return AppConfig(model_dir=model,
                     db_url=resolve_db_url(os.environ.get(DB_ENV) or None, default_dir=model),
                     max_upload_mb=max(1, mb), data_dir=_path(os.environ.get(DATA_ENV)),
                     results_dir=results, survival_dir=survival)
