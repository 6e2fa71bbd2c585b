"""``protoecg infer``: per-ECG prototype similarities, probabilities and branch logits for MIMIC-IV-ECG."""
from __future__ import annotations

import argparse

from protoecg.provenance import DEMO_DISCLAIMER


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError(f"--shard i/n needs 0 <= i < n, got {text!r}")
    return i, n


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``infer`` to the ``protoecg`` parser."""
    p = sub.add_parser(
        "infer", help="write the per-ECG feature table (Parquet) for a MIMIC-IV-ECG directory",
        description="Run a model bundle over every record of a MIMIC-IV-ECG directory (record_list.csv + "
                    "WFDB files) and write study_id, sim_<prototype>, prob_<code> and logit_<branch>_<code> "
                    "to a Parquet dataset directory. Sharded (--shard i/n, 0-based), resumable (a rerun skips "
                    "studies already written), bad records listed in OUT/_bad_records*.csv.")
    p.add_argument("--model", required=True, help="model bundle directory (e.g. runs/demo)")
    p.add_argument("--mimic-ecg", required=True, help="MIMIC-IV-ECG root (holds record_list.csv and files/)")
    p.add_argument("--out", required=True, help="output dataset directory, e.g. features.parquet")
    p.add_argument("--shard", type=_shard, default=(0, 1), help="this job's shard i/n, 0-based (default 0/1)")
    p.add_argument("--batch-size", type=int, default=64, help="model batch size (default 64)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--workers", type=int, default=None,
                   help="WFDB decode worker processes (default: one per spare CPU core, at most 4; 0 = none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import torch

    from analysis.features import extract_features, read_bad_records, read_run_stats
    from protoecg.bundle import load_bundle

    torch.set_num_threads(max(1, args.threads))
    bundle = load_bundle(args.model)
    out = extract_features(bundle, args.mimic_ecg, args.out, shard=args.shard, batch_size=args.batch_size,
                           progress=not args.no_progress, workers=args.workers)
    bad = read_bad_records(out)
    stats = read_run_stats(out, args.shard)
    note = f" ({bundle.disclaimer or DEMO_DISCLAIMER})" if bundle.is_demo else ""
    print(f"features written to {out}{note}; {len(bad)} bad record(s) listed in {out}/_bad_records*.csv")
    if stats.get("ecgs_inferred"):
        print(f"{stats['ecgs_inferred']} ECGs in {stats['wall_s']:.1f} s: {stats['ecg_per_s']} ECG/s end to end "
              f"(model alone {stats['model_ecg_per_s']} ECG/s, {stats['decode_workers']} decode workers)")
    return 0
