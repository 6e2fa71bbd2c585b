"""``protoecg data synth-mimic``: write a synthetic MIMIC-IV (hosp tables + MIMIC-IV-ECG records)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``synth-mimic`` to the ``protoecg data`` parser."""
    p = sub.add_parser(
        "synth-mimic", help="generate a synthetic MIMIC-IV with planted ECG→diagnosis associations",
        description="Write generated (not real) MIMIC-IV hosp tables and MIMIC-IV-ECG WFDB records in the "
                    "real layouts, with planted ECG signature → ICD associations, null diagnoses, deaths, "
                    "and ground_truth.csv saying which (signature, phecode) pairs are real.")
    p.add_argument("--out", required=True, help="output directory (hosp/, ecg/, ground_truth.csv)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--n-patients", type=int, default=1000, help="number of patients (default 1000)")
    p.add_argument("--workers", type=int, default=2, help="processes synthesising waveforms (default 2)")
    p.add_argument("--no-waveforms", action="store_true", help="write the tables only, no WFDB files")
    p.add_argument("--chronic-null-frac", type=float, default=0.0,
                   help="share of null diagnoses that are chronic (recur across a patient's admissions), to "
                        "exercise patient-level units (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic
    from protoecg_cli.errors import CommandError

    if args.n_patients < 1:
        raise CommandError("--n-patients must be at least 1")
    if not 0.0 <= args.chronic_null_frac <= 1.0:
        raise CommandError("--chronic-null-frac must be between 0 and 1")
    cfg = MimicSynthConfig(n_patients=args.n_patients, seed=args.seed, write_waveforms=not args.no_waveforms,
                           workers=max(1, args.workers), chronic_null_frac=args.chronic_null_frac)
    r = synthesize_mimic(args.out, cfg, progress=not args.no_progress)
    print(f"synthetic MIMIC-IV (generated data, not real patients) written to {r.out_dir}: "
          f"{r.n_patients} patients, {r.n_admissions} admissions, {r.n_ecgs} ECGs, "
          f"{r.n_diagnoses} diagnoses, {r.n_deaths} recorded deaths")
    return 0
