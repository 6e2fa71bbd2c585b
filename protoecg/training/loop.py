"""One generic, resumable training loop with early stopping on a validation score.

After every epoch rank 0 writes ``<ckpt_dir>/<stage>.pt`` (model, optimiser, scheduler, epoch, best score
and best weights, history); re-running the same command picks the stage up at the next epoch. The best
weights (highest validation score, i.e. macro AUROC on the plain validation fold) are restored at the end.
"""
from __future__ import annotations

import copy
import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from . import ddp

log = logging.getLogger(__name__)


@dataclass
class StageSpec:
    """What a stage trains and how. ``batch_loss(idx)`` returns the loss of a batch of training indices;
    ``score()`` returns the validation score (higher is better, NaN counts as -inf)."""

    name: str
    epochs: int
    lr: float
    weight_decay: float
    patience: int
    batch_size: int
    n_train: int
    params: list[nn.Parameter]
    batch_loss: Callable[[np.ndarray], torch.Tensor]
    score: Callable[[], float]
    train_mode: Callable[[], None] = lambda: None
    score_initial: bool = False
    history: list[dict] = field(default_factory=list)
    # Early stopping never ends a stage before ``min_epochs``; the best epoch and the patience count use
    # the mean of the last ``smooth`` validation scores (one small validation fold is noisy).
    min_epochs: int = 0
    smooth: int = 1
    # Training-only modules (e.g. warm-up heads, joint-stage calibration) checkpointed with the stage.
    extra_modules: dict[str, nn.Module] = field(default_factory=dict)
    # Called once after the best weights are restored (e.g. the fusion stage's per-class selection).
    finish: Callable[[], None] | None = None


def freeze_all_but(model: nn.Module, params: list[nn.Parameter]) -> None:
    keep = {id(p) for p in params}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


def _safe(v: float) -> float:
    return -math.inf if v is None or not np.isfinite(v) else float(v)


def _save(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def fit(spec: StageSpec, model: nn.Module, ckpt_dir: Path, info: ddp.DistInfo, seed: int,
        progress: bool = True) -> list[dict]:
    """Train ``spec.params`` of ``model`` for ``spec.epochs`` epochs with Adam and a cosine schedule."""
    ckpt = ckpt_dir / f"{spec.name}.pt"
    opt = torch.optim.Adam(spec.params, lr=spec.lr, weight_decay=spec.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(spec.epochs, 1))
    start, best, best_state, bad, history = 0, -math.inf, None, 0, []
    if ckpt.exists():
        st = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(st["model"], strict=True)
        opt.load_state_dict(st["optim"])
        sched.load_state_dict(st["sched"])
        start, best, best_state, bad, history = (st["epoch"], st["best"], st["best_state"], st["bad"],
                                                 st["history"])
        for name, mod in spec.extra_modules.items():
            mod.load_state_dict(st["extra"][name], strict=True)
        log.info("resuming stage %s at epoch %d (best %.4f)", spec.name, start + 1, best)
    elif spec.score_initial:
        best = _safe(ddp.broadcast_float(spec.score(), info))
        best_state = copy.deepcopy(model.state_dict())
        history.append({"epoch": 0, "loss": None, "val_macro_auroc": best})
        log.info("%s: initial validation macro AUROC %.4f", spec.name, best)
    show = progress and info.is_main and sys.stderr.isatty()
    raw = [h["val_macro_auroc"] for h in history if h["epoch"] > 0]
    for epoch in range(start, spec.epochs):
        if bad >= spec.patience and epoch >= spec.min_epochs:
            break
        spec.train_mode()
        rng = np.random.default_rng(seed * 1000 + epoch)
        idx = ddp.shard(rng.permutation(spec.n_train), info)
        losses = []
        bar = tqdm(range(0, len(idx), spec.batch_size), desc=f"{spec.name} {epoch + 1}/{spec.epochs}",
                   disable=not show, leave=False)
        for i in bar:
            batch = idx[i:i + spec.batch_size]
            if len(batch) < 2:
                continue
            opt.zero_grad(set_to_none=True)
            loss = spec.batch_loss(batch)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses):.4f}")
        sched.step()
        ddp.broadcast_state(model, info)
        score = _safe(ddp.broadcast_float(spec.score(), info))
        raw.append(score)
        smoothed = float(np.mean(raw[-max(spec.smooth, 1):]))
        improved = smoothed > best
        if improved:
            best, best_state, bad = smoothed, copy.deepcopy(model.state_dict()), 0
        else:
            bad += 1
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)) if losses else None,
                        "val_macro_auroc": score, "val_smoothed": smoothed})
        log.info("%s epoch %d/%d: loss %.4f, validation macro AUROC %.4f%s", spec.name, epoch + 1,
                 spec.epochs, history[-1]["loss"] or float("nan"), score, " (best)" if improved else "")
        if info.is_main:
            _save(ckpt, {"epoch": epoch + 1, "model": model.state_dict(), "optim": opt.state_dict(),
                         "sched": sched.state_dict(), "best": best, "best_state": best_state, "bad": bad,
                         "history": history,
                         "extra": {k: m.state_dict() for k, m in spec.extra_modules.items()}})
        ddp.barrier(info)
    if best_state is not None:
        model.load_state_dict(best_state, strict=True)
    if spec.finish is not None:
        spec.finish()
    spec.history = history
    return history

