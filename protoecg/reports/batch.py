"""Batch explanation reports: one HTML per record, ``index.html`` and ``summary.csv``; resumable.

A record is finished when its HTML file exists and ``summary.csv`` has an ``ok`` row for it; a rerun
skips finished records and retries failed ones. Records that raise a typed data error
(:class:`data_access.errors.ECGDataError` or :class:`protoecg.explain.ExplainError`) are listed in the
index with their reason and do not stop the run. ``summary.csv`` is rewritten atomically after every
record, so an interrupted run loses at most the record in progress.
"""
from __future__ import annotations

import csv
import html
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from data_access.errors import ECGDataError

from ..provenance import DEMO_DISCLAIMER, as_sentence
from .html import render_record_html

if TYPE_CHECKING:
    from ..explain.types import Explanation

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("record", "path", "status", "reason", "html", "positive_labels", "top_label",
                   "top_probability", "cf_label", "cf_direction", "cf_valid", "cf_fraction_changed",
                   "cf_leads_changed", "cf_seconds", "explain_ms", "demo_model")


class ReportInputError(ECGDataError):
    """The record list or directory given to the report writer is unusable."""


@dataclass
class ReportRun:
    """What a report run did."""

    out_dir: Path
    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bad: list[dict] = field(default_factory=list)        # [{record, path, reason}]

    @property
    def index_path(self) -> Path:
        return self.out_dir / "index.html"

    @property
    def summary_path(self) -> Path:
        return self.out_dir / "summary.csv"


def find_records(spec: str | Path | Sequence[str | Path]) -> list[Path]:
    """Record paths from a directory (every WFDB ``.hea``, without suffix, and every MUSE/Philips/aECG
    ``.xml``, ``.dcm`` and ``.edf`` below it), a text file listing one path per line (relative to the
    file's folder; ``#`` comments), or a sequence of paths."""
    from data_access.formats import find_ecg_files

    if isinstance(spec, (list, tuple)):
        return [Path(p).with_suffix("") if Path(p).suffix == ".hea" else Path(p) for p in spec]
    p = Path(spec)
    if p.is_dir():
        recs = find_ecg_files(p)
        if not recs:
            raise ReportInputError(f"no ECG files under {p} (WFDB .hea, .xml, .dcm or .edf)")
        return recs
    if p.is_file():
        out = []
        for line in p.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                q = Path(line) if Path(line).is_absolute() else p.parent / line
                out.append(q.with_suffix("") if q.suffix == ".hea" else q)
        if not out:
            raise ReportInputError(f"the record list {p} names no records")
        return out
    raise ReportInputError(f"{p} is neither a directory of ECG records nor a file listing them")


def record_key(path: Path) -> str:
    """A file-name-safe key for a record: its last two path parts (PTB-XL names repeat across folders)."""
    parts = [*path.parent.parts[-1:], path.name]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", "__".join(parts))


def _read_summary(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {row["record"]: row for row in csv.DictReader(f)}


def _write_summary(path: Path, rows: dict[str, dict[str, str]]) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for key in sorted(rows):
            w.writerow(rows[key])
    os.replace(tmp, path)


def _ok_row(key: str, path: Path, html_name: str, expl: "Explanation", ms: float) -> dict[str, str]:
    top = max(expl.predictions, key=lambda p: p.probability) if expl.predictions else None
    cf = expl.counterfactual
    return {"record": key, "path": str(path), "status": "ok", "reason": "", "html": html_name,
            "positive_labels": " ".join(expl.positive_labels),
            "top_label": top.label if top else "", "top_probability": f"{top.probability:.4f}" if top else "",
            "cf_label": cf.label if cf else "", "cf_direction": cf.direction if cf else "",
            "cf_valid": str(cf.valid) if cf else "", "cf_fraction_changed": f"{cf.fraction_changed:.4f}" if cf else "",
            "cf_leads_changed": " ".join(cf.leads_changed) if cf else "",
            "cf_seconds": f"{cf.seconds:.3f}" if cf else "", "explain_ms": f"{ms:.1f}",
            "demo_model": str(expl.is_demo), "disclaimer": expl.banner or ""}


def write_reports(records: Sequence[Path], explain_fn: Callable[[Path], "Explanation"], out_dir: str | Path,
                  *, resume: bool = True, progress: bool = True, title: str = "protoecg report",
                  pdf: bool = True) -> ReportRun:
    """Explain every record with ``explain_fn`` and write its page (and, with ``pdf``, its one-page
    clinical PDF, linked from the page); returns what was written/skipped/bad."""
    from tqdm import tqdm

    from ..explain.errors import ExplainError

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = ReportRun(out)
    rows = _read_summary(run.summary_path) if resume else {}
    bar = tqdm(records, desc="reports", unit="ECG", disable=not progress or not sys.stderr.isatty())
    for path in bar:
        key = record_key(Path(path))
        html_name = f"{key}.html"
        prev = rows.get(key)
        if resume and prev and prev.get("status") == "ok" and (out / html_name).exists():
            run.skipped.append(key)
            continue
        t0 = time.perf_counter()
        try:
            expl = explain_fn(Path(path))
            pdf_name = f"{key}.pdf" if pdf else None
            page = render_record_html(expl, title=f"ECG {key}", pdf_href=pdf_name)
        except (ECGDataError, ExplainError) as exc:
            reason = getattr(exc, "reason", str(exc))
            log.warning("skipping %s: %s", key, reason)
            run.bad.append({"record": key, "path": str(path), "reason": reason})
            rows[key] = {"record": key, "path": str(path), "status": "error", "reason": reason}
            _write_summary(run.summary_path, rows)
            continue
        ms = (time.perf_counter() - t0) * 1000
        if pdf_name:
            from .pdf import clinical_pdf_bytes
            tmp_pdf = out / (pdf_name + ".tmp")
            tmp_pdf.write_bytes(clinical_pdf_bytes(expl))
            os.replace(tmp_pdf, out / pdf_name)
        tmp = out / (html_name + ".tmp")
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, out / html_name)
        rows[key] = _ok_row(key, Path(path), html_name, expl, ms)
        _write_summary(run.summary_path, rows)
        run.written.append(key)
    # Failed records from earlier runs that were not retried this time stay listed.
    known_bad = {b["record"] for b in run.bad}
    for key, row in rows.items():
        if row.get("status") == "error" and key not in known_bad:
            run.bad.append({"record": key, "path": row.get("path", ""), "reason": row.get("reason", "")})
    write_index(run.index_path, rows, title)
    log.info("reports: %d written, %d skipped (finished before), %d bad", len(run.written), len(run.skipped),
             len(run.bad))
    return run


def write_index(path: Path, rows: dict[str, dict[str, str]], title: str) -> Path:
    """The index page: a table of finished records (linked) and a list of bad records with reasons."""
    e = html.escape
    ok = [r for k, r in sorted(rows.items()) if r.get("status") == "ok"]
    bad = [r for k, r in sorted(rows.items()) if r.get("status") != "ok"]
    demo = any(r.get("demo_model") == "True" for r in ok)
    body = "".join(
        f"<tr><td><a href='{e(r['html'])}'>{e(r['record'])}</a></td><td>{e(r.get('positive_labels', ''))}</td>"
        f"<td>{e(r.get('top_label', ''))} {e(r.get('top_probability', ''))}</td><td>{e(r.get('cf_label', ''))} "
        f"{e(r.get('cf_direction', ''))}</td><td>{e(r.get('cf_valid', ''))}</td>"
        f"<td>{e(r.get('cf_fraction_changed', ''))}</td><td>{e(r.get('cf_leads_changed', ''))}</td></tr>"
        for r in ok)
    bad_html = ("<ul>" + "".join(f"<li><b>{e(r['record'])}</b> ({e(r.get('path', ''))}): {e(r.get('reason', ''))}</li>"
                                 for r in bad) + "</ul>") if bad else "<p>None.</p>"
    banner = ("<div style='background:#fff0f0;border:1px solid #e0a0a0;color:#900;padding:6px 10px'>"
              f"{e(as_sentence(next((r['disclaimer'] for r in ok if r.get('disclaimer')), DEMO_DISCLAIMER)))}"
              "</div>") if demo else ""
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:system-ui,Helvetica,Arial,sans-serif;margin:18px}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ddd;padding:3px 7px}}th{{background:#f5f5f5}}</style></head><body>
<h1>{e(title)}</h1>{banner}
<p>{len(ok)} record(s) explained, {len(bad)} bad record(s). Summary: <a href="summary.csv">summary.csv</a>.</p>
<table><tr><th>record</th><th>positive labels</th><th>top label</th><th>counterfactual</th><th>valid</th>
<th>fraction changed</th><th>leads changed</th></tr>{body}</table>
<h2>Bad records</h2>{bad_html}
</body></html>
"""
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path
