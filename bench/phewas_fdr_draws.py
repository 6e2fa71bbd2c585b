"""False discovery proportion per draw: two-stage FDR (default) vs plain BH, on many demo MIMIC-IV draws.

For each seed a synthetic MIMIC-IV (2,000 patients, tables only) is generated with planted ECG ->
diagnosis associations, the label-derived stand-in features are scanned once, and the hits are scored
against the planted truth with both rules from the *same* p-values. Prints one line per seed and a
summary (mean / max FDP, draws with FDP > 5 %, sensitivity range).

Usage: python bench/phewas_fdr_draws.py [--seeds 30] [--patients 2000]   (~5 s per seed on 2 cores)
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--patients", type=int, default=2000)
    args = ap.parse_args()

    from analysis.study import build_feature_table, study_cohort
    from analysis.phewas import PheWAS
    from analysis.phewas_sim import label_features
    from analysis.recovery import read_ground_truth, score_recovery
    from data_access.synth.mimic import MimicSynthConfig, synthesize_mimic

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.perf_counter()
            mimic = Path(tmp) / f"mimic{seed}"
            synthesize_mimic(mimic, MimicSynthConfig(n_patients=args.patients, seed=seed, write_waveforms=False),
                             progress=False)
            feats, protos = label_features(pd.read_csv(mimic / "ecg_labels.csv"), seed=seed)
            # the CLI's table, without the machine-statement concepts (this bench scans the prototypes)
            table, pmap = build_feature_table(feats, mimic, protos, concepts=False)
            cohort = study_cohort(mimic)
            pw = PheWAS().fit(table, cohort.phenotypes, cohort.units[["age", "sex"]],
                              phecode_info=cohort.phecode_info)
            truth = read_ground_truth(mimic / "ground_truth.csv", "1.2")
            res = pw.results_
            h = score_recovery(res, truth, pmap)
            b = score_recovery(res.assign(hit=res["q"] < 0.05), truth, pmap)
            rows.append({"seed": seed, "sens_two_stage": h["sensitivity"], "fdp_two_stage": h["false_discovery_proportion"],
                         "hits_two_stage": h["n_hits"], "false_phecodes_two_stage": h["n_false_phecodes"],
                         "sens_bh": b["sensitivity"], "fdp_bh": b["false_discovery_proportion"], "hits_bh": b["n_hits"]})
            r = rows[-1]
            print(f"seed {seed:3d}: two-stage sensitivity {r['sens_two_stage']:.2f} FDP {r['fdp_two_stage']:.3f} "
                  f"({r['hits_two_stage']} hits) | BH sensitivity {r['sens_bh']:.2f} FDP {r['fdp_bh']:.3f} "
                  f"({r['hits_bh']} hits)  [{time.perf_counter() - t0:.0f} s]", flush=True)
    df = pd.DataFrame(rows)
    print(f"\n{len(df)} draws of {args.patients} generated patients (label-derived features), alpha 0.05")
    for name, key in (("two-stage FDR (default)", "two_stage"), ("plain BH over all tests", "bh")):
        f = df[f"fdp_{key}"]
        print(f"  {name:24s} sensitivity {df[f'sens_{key}'].min():.2f}-{df[f'sens_{key}'].max():.2f}; "
              f"FDP mean {f.mean():.3f}, max {f.max():.3f}; draws with FDP > 5 %: {int((f > 0.05).sum())} "
              f"of {len(df)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
