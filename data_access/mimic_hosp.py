"""MIMIC-IV ``hosp`` module reader (``patients``, ``admissions``, ``diagnoses_icd``) with DuckDB.

Every table is read as text by DuckDB straight from its ``.csv.gz`` (millions of rows: no Python row
loops), cast with ``TRY_CAST``, and checked in SQL. Rows that cannot be used (missing ids, unparseable
dates, an ``icd_version`` other than 9/10, a discharge before the admission) are dropped and *reported*
in ``bad_rows`` (``{table, row, subject_id, hadm_id, reason, action}``); lines DuckDB cannot even split
into the right number of fields are reported too. Bad rows are never fatal. Missing files or columns are
(:class:`~data_access.errors.MetadataError`).

Dates in MIMIC-IV are shifted into 2100-2200; nothing here compares them with today.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import MetadataError

log = logging.getLogger(__name__)

# (column, DuckDB type, kind): 'required' → row dropped when missing/unparseable;
# 'expected' → reported when missing/unparseable, row kept with NULL; 'optional' → reported only
# when present but unparseable.
_Spec = tuple[tuple[str, str, str], ...]
PATIENTS: _Spec = (("subject_id", "BIGINT", "required"), ("gender", "VARCHAR", "expected"),
                   ("anchor_age", "INTEGER", "required"), ("anchor_year", "INTEGER", "required"),
                   ("anchor_year_group", "VARCHAR", "optional"), ("dod", "DATE", "optional"))
ADMISSIONS: _Spec = (("subject_id", "BIGINT", "required"), ("hadm_id", "BIGINT", "required"),
                     ("admittime", "TIMESTAMP", "required"), ("dischtime", "TIMESTAMP", "expected"),
                     ("deathtime", "TIMESTAMP", "optional"), ("hospital_expire_flag", "INTEGER", "optional"))
DIAGNOSES: _Spec = (("subject_id", "BIGINT", "required"), ("hadm_id", "BIGINT", "required"),
                    ("seq_num", "INTEGER", "optional"), ("icd_code", "VARCHAR", "required"),
                    ("icd_version", "INTEGER", "required"))
# Extra row checks on the typed columns ``c.*``: (SQL condition marking the row bad, reason, drop it?)
_CHECKS = {
    "patients": (("c.gender NOT IN ('M', 'F')", "gender is not M or F", False),
                 ("c.anchor_age < 0 OR c.anchor_age > 120", "anchor_age out of range", True)),
    "admissions": (("c.dischtime < c.admittime", "dischtime before admittime", True),),
    "diagnoses_icd": (("c.icd_version NOT IN (9, 10)", "icd_version is not 9 or 10", True),),
}


@dataclass
class HospTables:
    """The three hosp tables, typed, plus every row that was dropped or needs attention."""

    patients: pd.DataFrame
    admissions: pd.DataFrame
    diagnoses: pd.DataFrame
    bad_rows: list[dict] = field(default_factory=list)


def hosp_file(hosp_dir: str | Path, name: str) -> Path:
    """``hosp/<name>.csv.gz`` (or an uncompressed ``.csv``), else :class:`MetadataError`."""
    d = Path(hosp_dir)
    for suffix in (".csv.gz", ".csv"):
        if (d / f"{name}{suffix}").exists():
            return d / f"{name}{suffix}"
    raise MetadataError(f"MIMIC-IV hosp table {name}.csv.gz not found in {d}")


def _connect():
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute("SET preserve_insertion_order = true")
    return con


def _cast(col: str, typ: str) -> str:
    raw = f"NULLIF(trim(\"{col}\"), '')"
    return raw if typ == "VARCHAR" else f"TRY_CAST({raw} AS {typ})"


def read_table(path: str | Path, table: str, spec: _Spec,
               extra_columns: tuple[str, ...] = ()) -> tuple[pd.DataFrame, list[dict]]:
    """Read one hosp table; returns (clean typed frame, bad rows). ``extra_columns`` are kept as text."""
    path = Path(path)
    con = _connect()
    try:
        quoted = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"CREATE TEMP TABLE t AS SELECT row_number() OVER () AS _row, * FROM read_csv("
                    f"{quoted}, all_varchar = true, header = true, ignore_errors = true, store_rejects = true)")
        have = {r[0] for r in con.execute("DESCRIBE t").fetchall()}
        missing = [c for c, _, _ in spec if c not in have]
        if missing:
            raise MetadataError(f"{path.name} lacks column(s) {', '.join(missing)}")
        extras = [c for c in extra_columns if c in have]
        typed = ", ".join([f"{_cast(c, t)} AS \"{c}\"" for c, t, _ in spec] + [f"\"{c}\"" for c in extras])
        reasons, drops = [], []
        for c, t, kind in spec:
            present = f"NULLIF(trim(t.\"{c}\"), '') IS NOT NULL"
            bad_val = f"{present} AND c.\"{c}\" IS NULL"
            if kind in ("required", "expected"):
                reasons.append(f"CASE WHEN NOT ({present}) THEN 'missing {c}' "
                               f"WHEN {bad_val} THEN 'unparseable {c} ' || '''' || t.\"{c}\" || '''' END")
                if kind == "required":
                    drops.append(f"c.\"{c}\" IS NULL")
            else:
                reasons.append(f"CASE WHEN {bad_val} THEN 'unparseable {c} ' || '''' || t.\"{c}\" || '''' END")
        for cond, reason, drop in _CHECKS.get(table, ()):
            reasons.append(f"CASE WHEN coalesce({cond}, false) THEN '{reason}' END")
            if drop:
                drops.append(f"coalesce({cond}, false)")
        con.execute(f"CREATE TEMP TABLE c AS SELECT _row, {typed} FROM t")
        con.execute(f"""CREATE TEMP TABLE j AS SELECT c.*, concat_ws('; ', {', '.join(reasons)}) AS _reason,
                        ({' OR '.join(drops) or 'false'}) AS _drop,
                        t.subject_id AS _sid, {'t.hadm_id' if 'hadm_id' in have else 'NULL'} AS _hid
                        FROM c JOIN t USING (_row)""")
        bad = con.execute("SELECT _row, _sid, _hid, _reason, _drop FROM j WHERE _reason <> '' OR _drop "
                          "ORDER BY _row").fetchall()
        clean = con.execute(f"SELECT * EXCLUDE (_row, _reason, _drop, _sid, _hid) FROM j "
                            f"WHERE NOT _drop ORDER BY _row").df()
        rejects = con.execute("SELECT line, min(error_message) FROM reject_errors "
                              "GROUP BY line ORDER BY line").fetchall()
    finally:
        con.close()
    bad_rows = [{"table": table, "row": int(r), "subject_id": s, "hadm_id": h, "reason": reason or "invalid",
                 "action": "dropped" if d else "kept"} for r, s, h, reason, d in bad]
    bad_rows += [{"table": table, "row": None, "subject_id": None, "hadm_id": None,
                  "reason": f"malformed line {line}: {msg}", "action": "dropped"} for line, msg in rejects]
    if bad_rows:
        log.warning("%s: %d bad row(s) (%d dropped)", path.name, len(bad_rows),
                    sum(b["action"] == "dropped" for b in bad_rows))
    return clean, bad_rows


def read_patients(hosp_dir: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """``patients`` with an added ``sex`` column (1 = male, 0 = female, NaN = unknown)."""
    df, bad = read_table(hosp_file(hosp_dir, "patients"), "patients", PATIENTS)
    dup = df["subject_id"].duplicated(keep="first")
    bad += [{"table": "patients", "row": None, "subject_id": s, "hadm_id": None,
             "reason": "duplicate subject_id (first row kept)", "action": "dropped"}
            for s in df.loc[dup, "subject_id"]]
    df = df[~dup].copy()
    df["sex"] = df["gender"].map({"M": 1.0, "F": 0.0})
    df["dod"] = pd.to_datetime(df["dod"])
    return df.reset_index(drop=True), bad


ADMISSION_EXTRAS = ("admission_type", "admit_provider_id", "admission_location", "discharge_location",
                    "insurance", "language", "marital_status", "race", "edregtime", "edouttime")


def read_admissions(hosp_dir: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """``admissions`` (typed times; the descriptive columns kept as text)."""
    df, bad = read_table(hosp_file(hosp_dir, "admissions"), "admissions", ADMISSIONS, ADMISSION_EXTRAS)
    dup = df["hadm_id"].duplicated(keep="first")
    bad += [{"table": "admissions", "row": None, "subject_id": None, "hadm_id": h,
             "reason": "duplicate hadm_id (first row kept)", "action": "dropped"}
            for h in df.loc[dup, "hadm_id"]]
    return df[~dup].reset_index(drop=True), bad


def read_diagnoses(hosp_dir: str | Path) -> tuple[pd.DataFrame, list[dict]]:
    """``diagnoses_icd`` (undotted ``icd_code`` upper-cased, ``icd_version`` 9/10)."""
    df, bad = read_table(hosp_file(hosp_dir, "diagnoses_icd"), "diagnoses_icd", DIAGNOSES)
    df["icd_code"] = df["icd_code"].str.replace(".", "", regex=False).str.upper()
    return df, bad


def read_hosp(hosp_dir: str | Path) -> HospTables:
    """All three tables; diagnoses of admissions absent from ``admissions`` are reported and dropped."""
    pts, b1 = read_patients(hosp_dir)
    adm, b2 = read_admissions(hosp_dir)
    dx, b3 = read_diagnoses(hosp_dir)
    orphan = ~dx["hadm_id"].isin(adm["hadm_id"])
    if orphan.any():
        b3.append({"table": "diagnoses_icd", "row": None, "subject_id": None, "hadm_id": None,
                   "reason": f"{int(orphan.sum())} diagnosis row(s) name an hadm_id absent from admissions",
                   "action": "dropped"})
    return HospTables(pts, adm, dx[~orphan].reset_index(drop=True), b1 + b2 + b3)
