"""A summary of a PTB-XL-layout dataset: counts per fold, code and branch, rates, unreadable records.

Every record file is read and validated (not just listed), so truncated or corrupt files show up in
``bad_records`` with the reason :func:`~data_access.record.read_record` gives.
"""
from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import ECGDataError
from .ptbxl import BRANCHES, branch_label_matrices, codes, label_matrix, read_metadata_checked

log = logging.getLogger(__name__)

_COLUMN = {100: "filename_lr", 500: "filename_hr"}


def summarize_ptbxl(root: str | Path, rates: Sequence[int] = (100, 500), progress: bool = False
                    ) -> dict[str, Any]:
    """Summarise the dataset at ``root``; JSON-ready.

    Keys: ``n_records`` (rows in ``ptbxl_database.csv``), ``folds`` {fold: n}, ``label_counts``
    {code: n positives} for all 71 codes, ``branch_counts`` {branch: n records with ≥1 positive code
    of the branch}, ``sampling_rates`` (rates of the records read successfully), ``records_per_rate``
    {fs: n readable}, ``unknown_codes`` (codes outside the 71), ``bad_records`` [{ecg_id, reason,
    file, error}] (a record bad at both rates is listed twice, once per file).
    """
    from tqdm.auto import tqdm

    from .record import read_record

    root = Path(root)
    meta, bad_meta = read_metadata_checked(root)
    fold_counts = Counter(int(f) for f in meta["strat_fold"])
    fold_counts.update(b["strat_fold"] for b in bad_meta if b["strat_fold"] is not None)
    y = label_matrix(meta)
    code_list = codes()
    by_branch = branch_label_matrices(y, code_list)
    bad: list[dict[str, Any]] = [{"ecg_id": b["ecg_id"], "reason": b["reason"], "file": "ptbxl_database.csv",
                                  "error": "MetadataError"} for b in bad_meta]
    readable: Counter[int] = Counter()
    show = progress and sys.stderr.isatty()
    for rate in rates:
        col = _COLUMN[int(rate)]
        for ecg_id, rel in tqdm(list(zip(meta.index, meta[col])), disable=not show, desc=f"{rate} Hz"):
            try:
                rec = read_record(root / rel, expected_fs=rate)
                readable[int(rec.fs)] += 1
            except ECGDataError as exc:
                bad.append({"ecg_id": int(ecg_id), "reason": exc.reason, "file": str(rel),
                            "error": type(exc).__name__})
    bad.sort(key=lambda b: (b["ecg_id"], b["file"]))
    unknown = sorted({c for d in meta["scp"] for c in d} - set(code_list))
    return {
        "root": str(root),
        "n_records": len(meta) + len(bad_meta),
        "folds": {str(f): fold_counts[f] for f in sorted(fold_counts)},
        "label_counts": {c: int(n) for c, n in zip(code_list, y.sum(axis=0))},
        "branch_counts": {br: int(by_branch[br].any(axis=1).sum()) for br in BRANCHES},
        "sampling_rates": sorted(readable),
        "records_per_rate": {str(r): readable[r] for r in sorted(readable)},
        "unknown_codes": unknown,
        "bad_records": bad,
    }


def format_summary(s: dict[str, Any]) -> str:
    """A human-readable rendering of :func:`summarize_ptbxl`'s result."""
    lines = [f"PTB-XL dataset at {s['root']}: {s['n_records']} records",
             "records per fold: " + ", ".join(f"{f}: {n}" for f, n in s["folds"].items()),
             "sampling rates: " + (", ".join(f"{r} Hz ({s['records_per_rate'][str(r)]} readable)"
                                             for r in s["sampling_rates"]) or "none readable"),
             "records with >=1 positive code per branch: "
             + ", ".join(f"{b}: {n}" for b, n in s["branch_counts"].items()),
             "positives per code (codes with none omitted):"]
    pos = sorted(((n, c) for c, n in s["label_counts"].items() if n), key=lambda t: (-t[0], t[1]))
    lines += [f"  {c:<8} {n}" for n, c in pos]
    if s["unknown_codes"]:
        lines.append("codes outside the 71 statements (ignored): " + ", ".join(s["unknown_codes"]))
    lines.append(f"unreadable records: {len(s['bad_records'])}")
    lines += [f"  ecg_id {b['ecg_id']} ({b['file']}): {b['reason']}" for b in s["bad_records"]]
    return "\n".join(lines)
