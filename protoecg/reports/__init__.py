"""Batch explanation reports: self-contained HTML per record, an index page and a summary CSV."""
from .batch import ReportInputError, ReportRun, find_records, record_key, write_index, write_reports
from .html import render_record_html
from .pdf import clinical_pdf_bytes, write_clinical_pdf

__all__ = ["clinical_pdf_bytes", "write_clinical_pdf", "ReportInputError", "ReportRun", "find_records", "record_key", "render_record_html", "write_index",
           "write_reports"]
