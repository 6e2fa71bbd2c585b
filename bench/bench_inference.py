"""Fused inference throughput (ECG/s) of the vectorised windowed similarity against a reference
implementation that loops over windows in Python (same weights; outputs must agree within 1e-5).

    .venv/bin/python bench/bench_inference.py [--model RUN] [--batch 64] [--n 256] [--preset demo|paper]

Without ``--model`` a freshly initialised network of the preset is timed (speed does not depend on the
weights). Prints both throughputs and their ratio.
"""
from __future__ import annotations

import argparse
import time
from contextlib import contextmanager

import numpy as np
import torch

from data_access.ptbxl import branch_of, codes
from protoecg.model import branches, build_model
from protoecg.model.similarity import window_cosine_loop
from protoecg.training.config import preset


@contextmanager
def loop_similarity():
    """Swap the vectorised window similarity for the Python-loop reference inside the branches."""
    original = branches.window_cosine
    branches.window_cosine = window_cosine_loop
    try:
        yield
    finally:
        branches.window_cosine = original


@torch.no_grad()
def throughput(model, x: torch.Tensor, batch: int, repeats: int) -> tuple[float, torch.Tensor]:
    model(x[:batch])                                   # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        outs = [model(x[i:i + batch]) for i in range(0, len(x), batch)]
        best = min(best, time.perf_counter() - t0)
    probs = torch.cat([torch.sigmoid(o["logits"]) for o in outs])
    sims = torch.cat([torch.cat([o["sims"][b] for b in sorted(o["sims"])], 1) for o in outs])
    return len(x) / best, torch.cat([probs, sims], 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="a trained run directory (bundle)")
    ap.add_argument("--preset", default="demo")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        from protoecg.bundle import load_bundle
        model = load_bundle(args.model).model
    else:
        torch.manual_seed(0)
        model = build_model(preset(args.preset).model, codes(), branch_of()).eval()
    cfg = model.cfg
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.3, (args.n, 12, cfg.n_samples)).astype(np.float32))
    # Interleave the two arms (best of each) so that load from other processes hits both alike.
    fast = slow = 0.0
    for _ in range(args.repeats):
        f, out_fast = throughput(model, x, args.batch, 1)
        with loop_similarity():
            s_, out_slow = throughput(model, x, args.batch, 1)
        fast, slow = max(fast, f), max(slow, s_)
    diff = float((out_fast - out_slow).abs().max())
    n_win = model.branch("morphology").n_windows(cfg.n_samples)
    print(f"model: {args.model or 'preset ' + args.preset} | morphology windows per ECG: {n_win} | "
          f"batch {args.batch} | {args.n} ECGs | {args.threads} threads")
    print(f"vectorised (conv1d) : {fast:9.1f} ECG/s")
    print(f"python window loop  : {slow:9.1f} ECG/s")
    print(f"max |difference| of probabilities and similarities = {diff:.2e}")
    print(f"ratio vectorised / loop = {fast / slow:.2f}x")
    sim_bench(model, x[:args.batch], args.repeats)
    if diff > 1e-5:
        raise SystemExit(f"outputs differ by {diff:.2e} > 1e-5")


@torch.no_grad()
def sim_bench(model, x: torch.Tensor, repeats: int) -> None:
    """The windowed similarity alone (morphology latent of one batch), vectorised vs loop."""
    from protoecg.model.similarity import window_cosine
    br = model.branch("morphology")
    z, p = br.latent(x), br.prototypes
    times = {}
    for name, fn in (("vectorised", window_cosine), ("loop", window_cosine_loop)):
        fn(z, p)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(z, p)
            best = min(best, time.perf_counter() - t0)
        times[name] = best
    print(f"windowed similarity alone ({tuple(z.shape)} latent x {tuple(p.shape)} prototypes): "
          f"vectorised {times['vectorised'] * 1e3:.2f} ms, loop {times['loop'] * 1e3:.2f} ms, "
          f"ratio {times['loop'] / times['vectorised']:.2f}x")


if __name__ == "__main__":
    main()
