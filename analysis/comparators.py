"""Comparator features tested with the same engine as the prototypes.

* :func:`class_aggregates` - per class, the mean and max of its prototypes' similarities
  (``agg_mean_<class>``, ``agg_max_<class>``), from the model bundle's prototype -> class table.
* :func:`machine_concepts` - binary concepts from the ECG machine's free-text statements
  (``report_0`` ... ``report_17`` of MIMIC-IV-ECG ``machine_measurements.csv``), by keyword rules with a
  simple negation guard ("no ...", "without ...", "... absent" do not count).

Class probabilities (``prob_<code>``) need no work: they are already columns of the feature table.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from data_access.errors import MetadataError

log = logging.getLogger(__name__)

#: concept name -> regular expression over one lower-cased machine statement.
DEFAULT_CONCEPT_RULES: dict[str, str] = {
    "atrial_fibrillation": r"atrial fibrillation|a-?fib",
    "atrial_flutter": r"atrial flutter",
    "sinus_rhythm": r"\bsinus rhythm\b",
    "sinus_tachycardia": r"sinus tachycardia",
    "sinus_bradycardia": r"sinus bradycardia",
    "first_degree_av_block": r"(?:1st|first) degree a-?v block|prolonged pr",
    "left_bundle_branch_block": r"left bundle branch block|\blbbb\b",
    "right_bundle_branch_block": r"right bundle branch block|\brbbb\b",
    "left_anterior_fascicular_block": r"left anterior fascicular block",
    "left_ventricular_hypertrophy": r"left ventricular hypertrophy|\blvh\b",
    "low_voltage": r"low (?:qrs )?voltage",
    "prolonged_qt": r"prolonged qt|long qt",
    "st_elevation": r"st elevation|st-elevation",
    "st_t_abnormality": r"st-?t (?:wave )?(?:abnormalit|change)|t wave (?:abnormalit|inversion)|nonspecific st",
    "infarct": r"infarct",
    "pvc": r"premature ventricular|\bpvcs?\b|ventricular premature",
    "paced_rhythm": r"\bpaced\b|pacemaker",
    "abnormal_ecg": r"abnormal ecg",
    "normal_ecg": r"^normal ecg",
}

#: machine-statement concept -> the PTB-XL statement(s) it names (used to tie concepts to ECG signatures
#: when scoring recovery of planted truth; ``infarct`` is broader than IMI and names every infarct code).
CONCEPT_CODES: dict[str, tuple[str, ...]] = {
    "atrial_fibrillation": ("AFIB",), "atrial_flutter": ("AFLT",), "sinus_rhythm": ("SR",),
    "sinus_tachycardia": ("STACH",), "sinus_bradycardia": ("SBRAD",), "first_degree_av_block": ("1AVB",),
    "left_bundle_branch_block": ("CLBBB", "ILBBB"), "right_bundle_branch_block": ("CRBBB", "IRBBB"),
    "left_anterior_fascicular_block": ("LAFB",), "left_ventricular_hypertrophy": ("LVH",),
    "low_voltage": ("LVOLT",), "prolonged_qt": ("LNGQT",), "pvc": ("PVC",), "paced_rhythm": ("PACE",),
    "infarct": ("IMI", "AMI", "ASMI", "ALMI", "ILMI", "IPLMI", "IPMI", "LMI", "PMI"),
    "normal_ecg": ("NORM",),
}

_NEGATION = re.compile(r"^\s*(?:no|not|without)\b|\b(?:absent|ruled out|no longer)\b")
_REPORT_COL = re.compile(r"^report_\d+$")


def class_aggregates(features: pd.DataFrame, prototypes: pd.DataFrame,
                     how: tuple[str, ...] = ("mean", "max")) -> pd.DataFrame:
    """Aggregate ``sim_<prototype_id>`` columns by the prototypes' class.

    ``prototypes`` needs columns ``prototype_id`` and ``class``; prototypes without a ``sim_`` column are
    ignored. Returns a frame with the features' index and ``agg_<how>_<class>`` columns.
    """
    for col in ("prototype_id", "class"):
        if col not in prototypes.columns:
            raise MetadataError(f"prototype table lacks column {col!r} (needs prototype_id, class)")
    out = {}
    for cls, grp in prototypes.groupby("class", sort=True):
        cols = [f"sim_{pid}" for pid in grp["prototype_id"] if f"sim_{pid}" in features.columns]
        if not cols:
            continue
        block = features[cols].to_numpy(dtype=float)
        for h in how:
            if h == "mean":
                out[f"agg_mean_{cls}"] = block.mean(axis=1)
            elif h == "max":
                out[f"agg_max_{cls}"] = block.max(axis=1)
            else:
                raise ValueError(f"unknown aggregate {h!r} (use 'mean' or 'max')")
    if not out:
        log.warning("no prototype of the prototype table has a sim_ column in the features")
    return pd.DataFrame(out, index=features.index)


def prototype_class_map(prototypes: pd.DataFrame) -> dict[str, str]:
    """``sim_<prototype_id>`` -> class code."""
    return {f"sim_{pid}": str(c) for pid, c in zip(prototypes["prototype_id"], prototypes["class"])}


def machine_concepts(measurements: pd.DataFrame, rules: dict[str, str] | None = None) -> pd.DataFrame:
    """Binary ``concept_<name>`` columns (1.0 if any non-negated statement matches), indexed by study_id."""
    rules = DEFAULT_CONCEPT_RULES if rules is None else rules
    report_cols = [c for c in measurements.columns if _REPORT_COL.match(str(c))]
    if not report_cols:
        raise MetadataError("machine measurements have no report_0 ... report_17 columns")
    df = measurements.set_index("study_id") if "study_id" in measurements.columns else measurements
    df = df[~df.index.duplicated()]
    # one row per non-empty statement (long format), so each rule scans only real statements once
    long = df[report_cols].reset_index(drop=True).stack()
    long = long[long.notna()].astype(str).str.lower().str.strip()
    long = long[long != ""]
    row = long.index.get_level_values(0).to_numpy()
    negated = long.str.contains(_NEGATION, regex=True).to_numpy()
    out = {}
    for name, rx in rules.items():
        hit = long.str.contains(re.compile(rx), regex=True).to_numpy() & ~negated
        col = np.zeros(len(df))
        col[np.unique(row[hit])] = 1.0
        out[f"concept_{name}"] = col
    return pd.DataFrame(out, index=df.index)


def find_machine_measurements(mimic_dir: str | Path) -> Path | None:
    """Locate ``machine_measurements.csv[.gz]`` under a MIMIC directory (at most three levels deep)."""
    root = Path(mimic_dir)
    for depth in ("", "*/", "*/*/", "*/*/*/"):
        for name in ("machine_measurements.csv", "machine_measurements.csv.gz"):
            hits = sorted(root.glob(depth + name))
            if hits:
                return hits[0]
    return None


def read_machine_measurements(path: str | Path) -> pd.DataFrame:
    """Read ``study_id`` and the ``report_*`` columns of a machine_measurements table."""
    head = pd.read_csv(path, nrows=0)
    cols = ["study_id"] + [c for c in head.columns if _REPORT_COL.match(c)]
    if "study_id" not in head.columns:
        raise MetadataError(f"{path}: no study_id column")
    return pd.read_csv(path, usecols=cols, dtype={c: "string" for c in cols[1:]})


def scan_table(features: pd.DataFrame, prototypes: pd.DataFrame | None, mimic_dir: str | Path | None,
               aggregates: bool = True, concepts: bool = True) -> pd.DataFrame:
    """The feature table a PheWAS scans: model features plus class aggregates (when a prototype table is
    given) and machine-statement concepts (when ``mimic_dir`` has ``machine_measurements.csv``; units
    without a report count as having no statement). Shared by ``protoecg phewas`` and the benches."""
    parts = [features]
    if prototypes is not None and aggregates:
        parts.append(class_aggregates(features, prototypes))
    mm_path = find_machine_measurements(mimic_dir) if (mimic_dir is not None and concepts) else None
    if mm_path is not None:
        conc = machine_concepts(read_machine_measurements(mm_path)).reindex(features.index)
        log.info("machine concepts: %d of %d units have no machine report (counted as no statement)",
                 int(conc.isna().all(axis=1).sum()), len(conc))
        parts.append(conc.fillna(0.0))
    return pd.concat(parts, axis=1)
