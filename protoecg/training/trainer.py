"""Run all training stages into a run directory and write the model bundle there.

The run directory is the bundle (see :mod:`protoecg.bundle`) plus ``checkpoints/`` and ``state.json``
(completed stages). Re-running the same command resumes: completed stages are skipped (their weights
are reloaded from ``checkpoints/after_<stage>.pt``) and an interrupted stage continues from its last epoch.
A different configuration in an existing run directory is refused.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from data_access.errors import ECGDataError
from data_access.ptbxl import PTBXLData, branch_of

from ..config import RunConfig, config_to_dict, load_config, save_config
from ..errors import ConfigError
from ..model import build_model
from ..model.network import ProtoECGNet
from ..projection import load_projection, project_prototypes, refresh_lead_shares, save_projection, uniqueness
from . import ddp
from .loop import fit
from .tied import TiedPrototypes
from .warmup import head_path, init_prototypes_from_data, load_head, warmup_stage
from .stages import SplitArrays, freeze_all_but, fusion_stage, joint_params, joint_stage, last_layer_stage

log = logging.getLogger(__name__)


class TrainingDataError(ECGDataError):
    """The dataset cannot train a model (e.g. a required fold is empty)."""


def fingerprint(data: PTBXLData, root: str | None = None) -> dict:
    """A content hash of the training split (ids, labels, signal bytes) plus counts."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(data.ecg_ids).tobytes())
    h.update(np.ascontiguousarray(data.labels).tobytes())
    h.update(np.ascontiguousarray(data.signals).tobytes())
    return {"sha256": h.hexdigest(), "n_records": int(len(data.ecg_ids)),
            "folds": sorted({int(f) for f in data.folds}), "fs": float(data.fs),
            "n_samples": int(data.signals.shape[-1]) if len(data.signals) else 0,
            "dataset": str(root) if root else None, "n_bad_records": len(data.bad_records)}


def _stages(cfg: RunConfig) -> list[str]:
    """Stage names in order. A fine-tuned run (``init_from``) starts from trained latents and prototypes,
    so it skips the warm-up and the data start of the prototypes."""
    if cfg.model.arch == "baseline":
        return ["joint"]
    first = []
    if not cfg.train.init_from:
        if cfg.train.warmup_epochs > 0:
            first.append("warmup")
        if cfg.train.proto_init == "data":
            first.append("proto_init")
    tied = ["tied"] if cfg.train.tied_epochs > 0 else []
    return first + ["joint", "projection"] + tied + ["last_layer", "fusion"]


def load_initial_weights(model: nn.Module, bundle_dir: str | Path) -> dict:
    """Copy a trained bundle's weights into ``model`` (strictly: same architecture, same 71 codes);
    returns what it was (path, demo flag, training data) for the new bundle's ``pretrained_from``."""
    from ..bundle import load_bundle

    bundle = load_bundle(bundle_dir)
    src = bundle.model
    if type(src) is not type(model):
        raise ConfigError(f"--init-from {bundle_dir}: it holds a {type(src).__name__}, this run trains a "
                          f"{type(model).__name__}")
    try:
        model.load_state_dict(src.state_dict(), strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"--init-from {bundle_dir}: its architecture differs from this run's preset "
                          f"({str(exc).splitlines()[0]})") from exc
    log.info("weights initialised from %s", bundle_dir)
    test = bundle.metrics.get("test") or {}
    return {"path": str(bundle_dir), "is_demo": bool(bundle.is_demo), "dataset": bundle.fingerprint.get("dataset"),
            "n_records": bundle.fingerprint.get("n_records"), "preset": bundle.config.preset,
            # its own held-out figure on its own data (generated ECGs for the demo), for the model card
            "test_macro_auroc": test.get("macro_auroc"), "test_folds": test.get("folds")}


def _check_run_dir(out: Path, cfg: RunConfig) -> None:
    cfg_path = out / "config.json"
    if cfg_path.exists():
        old = load_config(cfg_path)
        if config_to_dict(old) != config_to_dict(cfg):
            raise ConfigError(f"{out} holds a run with a different configuration; choose a new --out "
                              "or delete the directory")


def _state(out: Path) -> dict:
    p = out / "state.json"
    return json.loads(p.read_text()) if p.exists() else {"completed": [], "timings_s": {}}


def _check_data(data: PTBXLData, cfg: RunConfig) -> None:
    if len(data.signals) and data.signals.shape[-1] != cfg.model.n_samples:
        raise TrainingDataError(f"records have {data.signals.shape[-1]} samples; the model expects "
                                f"{cfg.model.n_samples}")
    if int(data.fs) != cfg.model.fs:
        raise TrainingDataError(f"data are at {data.fs:g} Hz; the model expects {cfg.model.fs} Hz")
    for name, folds in (("training", cfg.train_folds), ("validation", cfg.val_folds)):
        if not np.isin(data.folds, folds).any():
            raise TrainingDataError(f"no {name} ECGs: folds {list(folds)} are empty in this dataset")


def train(data: PTBXLData, cfg: RunConfig, out: str | Path, *, is_demo: bool = False,
          dataset: str | None = None, progress: bool = True, n_boot: int = 200) -> Path:
    """Train every stage of ``cfg`` on ``data`` (its folds split it) and write the bundle into ``out``."""
    from .finalise import finalise

    out = Path(out)
    _check_data(data, cfg)
    torch.set_num_threads(max(1, cfg.train.threads))
    torch.manual_seed(cfg.train.seed)
    np.random.seed(cfg.train.seed)
    info = ddp.setup(torch.device("cpu"))
    try:
        ckpt_dir = out / "checkpoints"
        if info.is_main:
            ckpt_dir.mkdir(parents=True, exist_ok=True)
            _check_run_dir(out, cfg)
            save_config(cfg, out / "config.json")
        ddp.barrier(info)
        tr, va = data.split(cfg.train_folds), data.split(cfg.val_folds)
        arrays = SplitArrays(tr.signals, tr.labels, tr.ecg_ids, va.signals, va.labels)
        model = build_model(cfg.model, tuple(data.codes), branch_of())
        state = _state(out)
        done = [s for s in _stages(cfg) if s in state["completed"]]
        if cfg.train.init_from and not done:
            state["pretrained_from"] = load_initial_weights(model, cfg.train.init_from)
        if done:
            st = torch.load(ckpt_dir / f"after_{done[-1]}.pt", map_location="cpu", weights_only=True)
            model.load_state_dict(st, strict=True)
            log.info("resuming after completed stage(s): %s", ", ".join(done))
        for stage in _stages(cfg):
            if stage in state["completed"]:
                continue
            t0 = time.perf_counter()
            _run_stage(stage, model, arrays, cfg, ckpt_dir, info, progress, state)
            state["timings_s"][stage] = state["timings_s"].get(stage, 0.0) + time.perf_counter() - t0
            state["completed"].append(stage)
            if info.is_main:
                torch.save(model.state_dict(), ckpt_dir / f"after_{stage}.pt")
                (out / "state.json").write_text(json.dumps(state, indent=2))
            ddp.barrier(info)
        if info.is_main:
            finalise(model, data, cfg, out, state, fingerprint(tr, dataset), is_demo, n_boot)
        ddp.barrier(info)
    finally:
        ddp.cleanup(info)
    return out


def _run_stage(stage: str, model: nn.Module, arrays: SplitArrays, cfg: RunConfig, ckpt_dir: Path,
               info: ddp.DistInfo, progress: bool, state: dict) -> None:
    log.info("stage %s", stage)
    if stage == "warmup":
        assert isinstance(model, ProtoECGNet)
        spec = warmup_stage(model, arrays, cfg)
        state.setdefault("history", {})[stage] = fit(spec, model, ckpt_dir, info, cfg.train.seed, progress)
        ddp.broadcast_state(model, info)
        if info.is_main:
            torch.save(spec.extra_modules["warmup_head"].state_dict(), head_path(ckpt_dir))
    elif stage == "proto_init":
        assert isinstance(model, ProtoECGNet)
        state["proto_init"] = init_prototypes_from_data(model, arrays.x_train, arrays.y_train, cfg.train.seed,
                                                        cfg.train.eval_batch_size)
        ddp.broadcast_state(model, info)
    elif stage == "joint":
        forward = _joint_forward(model, cfg, info)
        head = load_head(model, ckpt_dir) if isinstance(model, ProtoECGNet) else None
        spec = joint_stage(model, forward, arrays, cfg, aux_head=head)
        state.setdefault("history", {})[stage] = fit(spec, model, ckpt_dir, info, cfg.train.seed, progress)
        ddp.broadcast_state(model, info)
    elif stage == "projection":
        assert isinstance(model, ProtoECGNet)
        table, shares = project_prototypes(model, arrays.x_train, arrays.y_train, arrays.ids_train,
                                           unique=cfg.train.unique_projection,
                                           batch_size=cfg.train.eval_batch_size, progress=progress)
        if info.is_main:
            save_projection(ckpt_dir, table, shares)
        state["projection"] = uniqueness(table)
        state["projection_avoided"] = table.attrs.get("n_duplicates_avoided", {})
    elif stage == "tied":
        assert isinstance(model, ProtoECGNet)
        _run_tied(model, arrays, cfg, ckpt_dir, info, progress, state)
    elif stage == "last_layer":
        assert isinstance(model, ProtoECGNet)
        spec = last_layer_stage(model, arrays, cfg)
        state.setdefault("history", {})[stage] = fit(spec, model, ckpt_dir, info, cfg.train.seed, progress)
    elif stage == "fusion":
        assert isinstance(model, ProtoECGNet)
        spec = fusion_stage(model, arrays, cfg)
        state.setdefault("history", {})[stage] = fit(spec, model, ckpt_dir, info, cfg.train.seed, progress)
    else:  # pragma: no cover
        raise ConfigError(f"unknown stage {stage}")


def _joint_forward(model: nn.Module, cfg: RunConfig, info: ddp.DistInfo, with_prototypes: bool = True) -> nn.Module:
    """The module the joint (or tied) stage calls: the DDP wrapper under torchrun, else ``model``. DDP hooks
    the parameters that require grad at wrap time, so the stage's parameters are frozen-in first."""
    if not info.enabled:
        return model
    freeze_all_but(model, joint_params(model, cfg.train.joint_last_layer, with_prototypes=with_prototypes))
    return nn.parallel.DistributedDataParallel(model)


def _run_tied(model: ProtoECGNet, arrays: SplitArrays, cfg: RunConfig, ckpt_dir: Path, info: ddp.DistInfo,
              progress: bool, state: dict) -> None:
    """The ``tied`` stage: the joint objective for ``tied_epochs`` with every projected prototype recomputed
    from its source window at each step (:mod:`protoecg.training.tied`)."""
    table, _ = load_projection(ckpt_dir)
    tied = TiedPrototypes(model, arrays.x_train, table, cfg.train.tied_sources_per_step, cfg.train.seed)
    tcfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, joint_epochs=cfg.train.tied_epochs,
                                                              lr=cfg.train.tied_lr))
    forward = _joint_forward(model, cfg, info, with_prototypes=False)
    spec = joint_stage(model, forward, arrays, tcfg, aux_head=load_head(model, ckpt_dir),
                       prototypes_fn=tied.compute)
    spec.name, spec.score_initial = "tied", True     # epoch 0 = the projected network: kept unless beaten
    val_score = spec.score

    def score() -> float:          # score (and keep as "best") the prototypes the step's network defines
        tied.write()
        return val_score()

    spec.score, spec.finish = score, tied.write
    state.setdefault("history", {})["tied"] = fit(spec, model, ckpt_dir, info, cfg.train.seed, progress)
    ddp.broadcast_state(model, info)
    table, shares = refresh_lead_shares(model, table)
    if info.is_main:
        save_projection(ckpt_dir, table, shares)
    state["tied"] = {"n_tied": tied.n_tied}
    log.info("tied stage: %d prototypes followed their source windows", tied.n_tied)
