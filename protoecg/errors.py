"""The library's errors, under one root: ``except ProtoECGError`` catches every error protoecg raises on
purpose (the CLI turns each into a one-line ``error: ...`` and exit code 2).

The root is defined in :mod:`data_access.errors` (the bottom floor, which imports nothing of the project)
and re-exported here. Errors about ECG records and their metadata derive from :class:`ECGDataError`;
the others below derive from the root directly and keep the builtin parent they always had, so older
``except ValueError`` / ``except FileNotFoundError`` clauses still catch them::

    ProtoECGError
    ├── ECGDataError             bad records / metadata (see data_access.errors)
    │   ├── TrainingDataError    (protoecg.training.trainer) the dataset cannot train a model
    │   └── ReportInputError     (protoecg.reports.batch) an unusable record list or directory
    ├── ConfigError              also ValueError: an invalid configuration, or a run directory holding
    │                            a different one
    ├── BundleError              also FileNotFoundError: an incomplete or incompatible model bundle
    ├── ExplainError             an explanation cannot be produced (unknown label, no donor, bad input)
    │   └── CounterfactualError  (protoecg.explain.counterfactual)
    ├── RatingError              also ValueError: an invalid rating or feedback form
    └── RatingsStoreError        also RuntimeError: the ratings database cannot be opened or written

``analysis`` and ``app`` add theirs on the same root (``PheWASInputError``, ``SurvivalInputError``,
``ResultsError``, ``ModelUnavailable``).
"""
from __future__ import annotations

from data_access.errors import ECGDataError, ProtoECGError

__all__ = ["BundleError", "ConfigError", "ECGDataError", "ExplainError", "ProtoECGError", "RatingError",
           "RatingsStoreError"]


class ConfigError(ProtoECGError, ValueError):
    """A configuration value is invalid or a run directory holds an incompatible configuration."""


class BundleError(ProtoECGError, FileNotFoundError):
    """A bundle directory is missing files or was written by an incompatible version."""


class ExplainError(ProtoECGError):
    """An explanation cannot be produced for this input (unknown label, wrong input shape, no donor)."""


class RatingError(ProtoECGError, ValueError):
    """A rating or feedback form holds an invalid value (message names the field and the rule)."""


class RatingsStoreError(ProtoECGError, RuntimeError):
    """The ratings database cannot be opened or written (message says which and why)."""
