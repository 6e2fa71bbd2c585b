"""Where a result comes from: the source commit that produced it, and the disclaimers every output of the
demo (a model trained on generated ECGs, an analysis of generated patients) carries.

One definition for the bundle manifest, the analysis ``run.json`` files, the CLI, the HTML reports and the
app, so the wording cannot drift between them.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["DEMO_DATA_NOTE", "DEMO_DISCLAIMER", "DEMO_FINETUNED_DISCLAIMER", "as_sentence", "git_commit"]

# Shown wherever a demo model's output is: figures, reports, the app, the CLI.
DEMO_DISCLAIMER = "demo model trained on generated ECGs — a demonstration, not a diagnostic"
# Shown instead for a demo model pretrained on generated ECGs and fine-tuned on a few real ones.
DEMO_FINETUNED_DISCLAIMER = ("demo model pretrained on generated ECGs and fine-tuned on {n} real PTB-XL ECGs "
                             "— a demonstration, not a diagnostic")
# Shown on the phenotype analysis of the generated MIMIC-IV-layout demo data.
DEMO_DATA_NOTE = "demo data: generated ECGs and diagnoses, not patients"


def as_sentence(note: str) -> str:
    """``note`` with a capital first letter and a full stop (for prose rather than a banner)."""
    return f"{note[:1].upper()}{note[1:]}."


def git_commit(cwd: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the source tree, or None outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
