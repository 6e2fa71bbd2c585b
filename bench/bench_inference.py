"""Inference throughput (ECG/s) of the paper and demo presets against a reference-shaped ProtoECGNet
(``bench/reference_shaped.py``), measured in the same run, at batch 64 and 1, on 1 and 2 CPU threads.

    .venv/bin/python bench/bench_inference.py [--steps] [--model RUN] [--n 64] [--repeats 5]

For each preset two arms are timed: ``plain`` (the network as trained) and ``fast`` (the serving path of
``protoecg.model.fast``: batch norm folded into the convolutions, chunks of 16 ECGs); the fast path's
probabilities and similarities must equal the plain path's within 1e-5 (the script exits non-zero
otherwise), and the vectorised window similarity must equal a Python loop over windows within 1e-5.
``--steps`` adds what each design step bought on the paper preset (1 thread). Random weights (speed does
not depend on them); inputs (B, 12, 1000); eval mode + ``torch.inference_mode``; all arms interleaved in
every repeat and the best repeat kept, so load from other processes hits every arm alike.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_shaped import ReferenceShapedNet  # noqa: E402

from data_access.ptbxl import branch_of, codes  # noqa: E402
from protoecg.model import build_model  # noqa: E402
from protoecg.model.fast import fast_model  # noqa: E402
from protoecg.model.similarity import window_cosine, window_cosine_loop  # noqa: E402
from protoecg.training.config import BackboneConfig, ModelConfig, preset  # noqa: E402

TOL = 1e-5


def paper_v1() -> ModelConfig:
    """The paper preset before issue 14/15 (for ``--steps``): ResNet18-width rhythm branch with kernel 7,
    2D branches with 12 rows through 4 x 2 blocks of 32-256 channels, 4.95 s morphology windows."""
    r18_1d = BackboneConfig(stem_channels=64, stem_kernel=15, stem_stride=2, channels=(64, 128, 256, 512),
                            strides=(1, 2, 2, 2), blocks_per_stage=2, kernel=7)
    r18_2d = BackboneConfig(stem_channels=32, stem_kernel=7, stem_stride=4, channels=(32, 64, 128, 256),
                            strides=(1, 2, 2, 2), blocks_per_stage=2, kernel=3)
    return ModelConfig(rhythm_backbone=r18_1d, morph_backbone=r18_2d, diffuse_backbone=r18_2d, latent_dim=512,
                       latent_channels=32, protos_per_class=(5, 18, 7), morph_window=3, diffuse_steps=4)


def _build(cfg: ModelConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model(cfg, codes(), branch_of()).eval()


@torch.inference_mode()
def _time_once(fn: Callable, x: torch.Tensor, batch: int) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(x), batch):
        fn(x[i:i + batch])
    return time.perf_counter() - t0


@torch.inference_mode()
def _outputs(fn: Callable, x: torch.Tensor) -> torch.Tensor:
    o = fn(x)
    return torch.cat([torch.sigmoid(o["logits"])] + [o["sims"][b] for b in sorted(o["sims"])], 1)


def race(arms: dict[str, Callable], x: torch.Tensor, batch: int, repeats: int) -> dict[str, float]:
    """ECG/s of every arm: one warm-up, then ``repeats`` interleaved rounds, best round kept."""
    best = {k: float("inf") for k in arms}
    for fn in arms.values():
        _time_once(fn, x[:batch], batch)
    for _ in range(repeats):
        for k, fn in arms.items():
            best[k] = min(best[k], _time_once(fn, x, batch))
    return {k: len(x) / t for k, t in best.items()}


SERVING_KEYS = ("logits", "combined_logits", "sims", "branch_logits")


def _serving(fast: torch.nn.Module) -> Callable:
    """The fast path as cohort inference calls it: only the outputs it writes."""
    return lambda x: fast(x, keys=SERVING_KEYS)


def check_exact(model: torch.nn.Module, fast: torch.nn.Module, x: torch.Tensor) -> float:
    return float((_outputs(model, x) - _outputs(fast, x)).abs().max())


def check_vectorised_similarity(model: torch.nn.Module, x: torch.Tensor) -> float:
    br = model.branch("morphology")
    with torch.inference_mode():
        z = br.latent(x)
        return float((window_cosine(z, br.prototypes) - window_cosine_loop(z, br.prototypes)).abs().max())


def main_table(models: dict[str, torch.nn.Module], n: int, repeats: int, threads: tuple[int, ...]) -> float:
    ref = ReferenceShapedNet().eval()
    arms: dict[str, Callable] = {"reference-shaped": ref}
    worst = 0.0
    x_chk = torch.from_numpy(np.random.default_rng(1).normal(0, 0.3, (9, 12, 1000)).astype(np.float32))
    for name, m in models.items():
        f = fast_model(m)
        arms[f"{name} plain"], arms[f"{name} fast"] = m, _serving(f)
        d = check_exact(m, f, x_chk)
        s = check_vectorised_similarity(m, x_chk)
        worst = max(worst, d, s)
        print(f"{name}: fast vs plain max |diff| of probabilities+similarities = {d:.1e}; "
              f"vectorised vs loop window similarity = {s:.1e}")
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.3, (n, 12, 1000)).astype(np.float32))
    print("\n| threads | batch | " + " | ".join(arms) + " |")
    print("|---|---|" + "---|" * len(arms))
    for th in threads:
        torch.set_num_threads(th)
        for batch in (64, 1):
            xs = x if batch > 1 else x[:max(8, n // 4)]
            r = race(arms, xs, batch, repeats)
            base = r["reference-shaped"]
            cells = [f"{base:.1f}"] + [f"{v:.1f} ({v / base:.2f}x)" for k, v in r.items() if k != "reference-shaped"]
            print(f"| {th} | {batch} | " + " | ".join(cells) + " |")
    return worst


def steps_table(n: int, repeats: int) -> None:
    """What each step bought on the paper preset, 1 thread, ECG/s relative to the reference-shaped model."""
    torch.set_num_threads(1)
    v1 = paper_v1()
    v1_folded = dataclasses.replace(v1, morph_backbone=dataclasses.replace(v1.morph_backbone, kind="folded1d"),
                                    diffuse_backbone=dataclasses.replace(v1.diffuse_backbone, kind="folded1d"))
    new = preset("paper").model
    new_rows = dataclasses.replace(new, morph_backbone=dataclasses.replace(new.morph_backbone, kind="rows2d"),
                                   diffuse_backbone=dataclasses.replace(new.diffuse_backbone, kind="rows2d"))
    m_new = _build(new)
    arms: dict[str, Callable] = {
        "reference-shaped": ReferenceShapedNet().eval(),
        "1 v1 paper (rows2d)": _build(v1),
        "2 v1 + lead-folded 1D": _build(v1_folded),
        "3 beat-sized narrow design, rows2d": _build(new_rows),
        "4 = 3 lead-folded (paper preset)": m_new,
        "5 + batch norm folded": fast_model(m_new, chunk=10 ** 6),
        "6 + chunks of 16 ECGs": fast_model(m_new),
        "7 + only the served outputs (fast path)": _serving(fast_model(m_new)),
    }
    x = torch.from_numpy(np.random.default_rng(0).normal(0, 0.3, (n, 12, 1000)).astype(np.float32))
    res = {b: race(arms, x if b > 1 else x[:max(8, n // 4)], b, repeats) for b in (64, 1)}
    print("\n| step (paper preset, 1 thread) | batch 64 ECG/s | batch 1 ECG/s |")
    print("|---|---|---|")
    for k in arms:
        cells = [f"{res[b][k]:.1f} ({res[b][k] / res[b]['reference-shaped']:.2f}x)" for b in (64, 1)]
        print(f"| {k} | " + " | ".join(cells) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="also time a trained run directory (bundle)")
    ap.add_argument("--n", type=int, default=64, help="ECGs per timed round at batch 64")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", action="store_true", help="also: what each design step bought (paper, 1 thread)")
    args = ap.parse_args()
    models = {"paper": _build(preset("paper").model), "demo": _build(preset("demo").model)}
    if args.model:
        from protoecg.bundle import load_bundle
        models["bundle"] = load_bundle(args.model).model
    for name, m in models.items():
        cfg = m.cfg
        br = m.branch("morphology")
        lo, hi = br.window_seconds(br.n_windows(cfg.n_samples) // 2, cfg.n_samples, cfg.fs)
        print(f"{name}: {sum(p.numel() for p in m.parameters()) / 1e6:.2f} M parameters, morphology window "
              f"{hi - lo:.2f} s ({br.n_windows(cfg.n_samples)} windows per ECG)")
    print(f"reference-shaped: {sum(p.numel() for p in ReferenceShapedNet().parameters()) / 1e6:.2f} M parameters")
    worst = main_table(models, args.n, args.repeats, tuple(args.threads))
    if args.steps:
        steps_table(args.n, max(2, args.repeats // 2))
    if worst > TOL:
        raise SystemExit(f"outputs differ by {worst:.2e} > {TOL:g}")


if __name__ == "__main__":
    main()
