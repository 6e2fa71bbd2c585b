"""Phenotype analysis of ECG features against MIMIC-IV: cohort and linkage, phecodes, PheWAS, survival,
and the study that ties them together (:mod:`analysis.study`). Public names are listed in ``__all__`` and
imported on first use.
"""
from __future__ import annotations

from data_access.lazy import lazy_exports

_LAZY: dict[str, str] = {
    "find_results": "analysis.study",
    "load_features": "analysis.study",
    "run_phewas_study": "analysis.study",
    "run_survival_study": "analysis.study",
    "build_feature_table": "analysis.study",
    "study_cohort": "analysis.study",
    "Cohort": "analysis.cohort",
    "build_cohort": "analysis.cohort",
    "survival_table": "analysis.cohort",
    "LinkageRule": "analysis.linkage",
    "PheWAS": "analysis.phewas",
    "PheWASConfig": "analysis.phewas",
    "PheWASInputError": "analysis.phewas",
    "SurvivalInputError": "analysis.survival",
    "cox_per_sd": "analysis.survival",
    "km_by_quartile": "analysis.survival",
    "extract_features": "analysis.features",
    "read_features": "analysis.features",
    "hierarchical_qvalues": "analysis.fdr",
    "is_hit": "analysis.fdr",
}

__all__ = ["Cohort", "LinkageRule", "PheWAS", "PheWASConfig", "PheWASInputError", "SurvivalInputError",
           "build_cohort", "build_feature_table", "cox_per_sd", "extract_features", "find_results",
           "hierarchical_qvalues", "is_hit", "km_by_quartile", "load_features", "read_features",
           "run_phewas_study", "run_survival_study", "study_cohort", "survival_table"]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
