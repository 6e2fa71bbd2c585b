"""Explanation benchmarks: evidence latency and counterfactual quality/speed on the demo test fold.

Prints, measured in this run on ``--threads`` CPU threads (default 2):
- reference: one forward pass of the model on one ECG (warm), the unit the other timings are compared to;
- prototype evidence per ECG (target <= 100 ms);
- counterfactuals on held-out ECGs: validity (target >= 90 %; published prototype-guided method ~81 %),
  median / p95 seconds (target median <= 1 s), median fraction of the signal changed (target <= 15 %;
  published prototype-guided ~78 %), plausibility vs random substitutions of the same size;
- the same search with cells of one lead and of all 12 leads (whole beats) instead of lead groups;
- a whole-lead-swap variant of the same search (cells = entire leads, UniCoMTE-like granularity) on
  the same ECGs, as an in-run reference for how much finer (lead x window) cells change.

Usage: python bench/bench_explain.py [--model runs/demo/model] [--ptbxl demo_data/ptbxl] [--n 40]
The machine's load average is printed: timings on a shared machine are upper bounds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np


def _find(paths: list[str]) -> Path | None:
    for p in paths:
        if p and (Path(p) / "model.pt").exists():
            return Path(p)
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--ptbxl", default=None)
    ap.add_argument("--n", type=int, default=40, help="held-out ECGs for the counterfactual benchmark")
    ap.add_argument("--bank", type=int, default=800, help="training ECGs in the donor bank")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-whole-lead", action="store_true")
    args = ap.parse_args()

    import torch

    from protoecg.bundle import load_bundle
    from protoecg.explain import CFConfig, Explainer
    from protoecg.explain.donors import bank_from_ptbxl
    from protoecg.explain.evaluate import evaluate_counterfactuals, held_out

    torch.set_num_threads(args.threads)
    model = _find([args.model, os.environ.get("PROTOECG_BENCH_MODEL", ""), "runs/demo/model"])
    ptbxl = Path(args.ptbxl or os.environ.get("PROTOECG_BENCH_PTBXL", "demo_data/ptbxl"))
    if model is None or not (ptbxl / "ptbxl_database.csv").exists():
        print("bench_explain: no demo model / demo data (run `make demo`, or pass --model and --ptbxl); skipped")
        return 0
    b = load_bundle(model)
    print(f"model {model} ({'demo model trained on generated ECGs' if b.is_demo else 'model'}), data {ptbxl}")
    print(f"threads {args.threads}; load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    t = time.perf_counter()
    ex = Explainer(b, bank=bank_from_ptbxl(b, ptbxl, max_n=args.bank))
    t_bank = time.perf_counter() - t
    t_warm = ex.warm_up()
    print(f"set-up: donor bank of {len(ex.bank)} training ECGs {t_bank:.1f} s, warm-up {t_warm:.1f} s (once)")

    x, ids = held_out(b, ptbxl, 10, args.n, seed=0)
    fwd = []
    with torch.no_grad():
        for i in range(20):
            t = time.perf_counter()
            b.model(torch.from_numpy(x[i % len(x)][None]))
            fwd.append(time.perf_counter() - t)
    ref_ms = 1000 * float(np.median(fwd))
    print(f"\nreference: one forward pass, 1 ECG: {ref_ms:.1f} ms (median of 20)")

    ev = []
    for i in range(min(len(x), 30)):
        t = time.perf_counter()
        ex.explain(x[i], counterfactual=False)
        ev.append(time.perf_counter() - t)
    ev_ms = 1000 * float(np.median(ev))
    print(f"prototype evidence per ECG: median {ev_ms:.1f} ms, p95 {1000 * np.quantile(ev, 0.95):.1f} ms "
          f"= {ev_ms / ref_ms:.2f} x one forward pass; target <= 100 ms: {'MET' if ev_ms <= 100 else 'NOT MET'}")

    df, s = evaluate_counterfactuals(ex, x, ids, progress=False)
    print(f"\ncounterfactuals: {s.n_cases} searches on {s.n_ecgs} test-fold ECGs (both directions; "
          f"{s.skipped_no_donor} (ECG, direction) cases had no label with a donor and were not searched)")
    print(f"  validity {s.validity:.1%} (to negative {s.validity_to_negative:.1%}, to positive "
          f"{(s.validity_to_positive or float('nan')):.1%}); target >= 90 %: {'MET' if s.validity >= 0.9 else 'NOT MET'}; "
          f"published prototype-guided 81 % -> {100 * (s.validity - 0.81):+.1f} points")
    print(f"  time: median {s.median_seconds:.2f} s, p95 {s.p95_seconds:.2f} s = "
          f"{1000 * s.median_seconds / ref_ms:.0f} forward passes; target median <= 1 s: "
          f"{'MET' if s.median_seconds <= 1 else 'NOT MET'}; model calls median {s.median_model_calls:.0f}")
    print(f"  fraction of the signal changed: median {s.median_fraction_changed:.2%}; target <= 15 %: "
          f"{'MET' if s.median_fraction_changed <= 0.15 else 'NOT MET'}; published prototype-guided 78 % -> "
          + (f"{0.78 / s.median_fraction_changed:.0f}x less" if s.median_fraction_changed > 0 else "n/a"))
    n_empty = int(((df["n_cells"] == 0) & df["valid"]).sum()) if len(df) else 0
    if n_empty:
        print(f"  ({n_empty} case(s) were already on the target side: valid with nothing changed)")
    print(f"  leads changed: median {s.median_leads_changed:.0f}; seconds changed: median {s.median_seconds_changed:.1f}")
    print(f"  plausibility (latent distance to the nearest training ECG; lower = more typical): counterfactual "
          f"{s.median_plausibility:.3f}, original {s.median_plausibility_original:.3f}, random cells of the same "
          f"size {s.median_plausibility_random:.3f}; random substitution validity {s.random_validity:.1%}")
    print(f"  same donor, random cell order until the label flips: median {s.median_fraction_random_flip:.1%} of "
          f"the signal, plausibility {s.median_plausibility_random_flip:.3f} (what ranking + pruning buy)")

    for kind in ("lead", "all"):
        other = Explainer(b, bank=ex.bank, cf_config=CFConfig(cells=kind))
        other.warm_up()
        _, s_k = evaluate_counterfactuals(other, x, ids, progress=False)
        print(f"\ncells = {kind} ({'one lead' if kind == 'lead' else 'all 12 leads: whole beats'}) instead of "
              f"anatomical lead groups, same ECGs: validity {s_k.validity:.1%}, median fraction changed "
              f"{s_k.median_fraction_changed:.1%}, median time {s_k.median_seconds:.2f} s, plausibility "
              f"{s_k.median_plausibility:.3f} (random cells of the same size {s_k.median_plausibility_random:.3f})")

    if not args.skip_whole_lead:
        whole = Explainer(b, bank=ex.bank, cf_config=CFConfig(window_s=b.n_samples / b.fs, cells="lead"))
        whole.warm_up()
        df_w, s_w = evaluate_counterfactuals(whole, x, ids, progress=False)
        print(f"\nwhole-lead swaps (same search, cells = entire leads; UniCoMTE-like granularity), same ECGs:")
        print(f"  validity {s_w.validity:.1%}, median fraction changed {s_w.median_fraction_changed:.1%}, "
              f"median time {s_w.median_seconds:.2f} s")
        if s.median_fraction_changed > 0:
            print(f"  the default (lead group x window) cells change {s_w.median_fraction_changed / s.median_fraction_changed:.1f}x "
                  f"less of the signal than whole-lead swaps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
