"""Reading the phenotype-association outputs of ``protoecg phewas`` / ``protoecg survival``.

The folder layout, its reader and its error are :mod:`analysis.study`'s (the module that writes it); the
figures come from :mod:`analysis.plots`; Kaplan-Meier curves are the self-contained HTML files
``protoecg survival`` writes (the app computes no statistics).
"""
from __future__ import annotations

from analysis.study import (RESULT_COLUMNS, RESULT_FILES, SURVIVAL_FILES, PhenotypeResults,  # noqa: F401
                            ResultsError, find_results)

NEEDED = RESULT_COLUMNS  # the name this module used to export

__all__ = ["NEEDED", "RESULT_COLUMNS", "RESULT_FILES", "SURVIVAL_FILES", "PhenotypeResults", "ResultsError",
           "find_results"]
