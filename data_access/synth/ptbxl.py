"""Generate a demo dataset in the exact PTB-XL v1.0.3 on-disk layout: :func:`generate_ptbxl`.

Output (read unchanged by :func:`data_access.ptbxl.load_ptbxl`)::

    OUT/ptbxl_database.csv          PTB-XL's 28 columns; scp_codes as a dict literal with likelihoods
    OUT/scp_statements.csv          the official 71-statement table (copied from the package)
    OUT/records500/00000/00001_hr   16-bit WFDB, 12 leads (I ... AVR ... V6), mV, gain 1000, 500 Hz
    OUT/records100/00000/00001_lr   the same ECG decimated to 100 Hz (anti-aliasing low-pass at 40 Hz; or
                                    like PTB-XL's own files, -6 dB at 45 Hz: :mod:`.lowrate`)
    OUT/README_SYNTHETIC.txt        states that every ECG is generated
    OUT/synth_params.json           generator version, seed, n, configuration

Determinism: the cohort is drawn from ``seed``; each record's signal from its own stream
``default_rng([seed, ecg_id])`` and its patient's anatomy from ``default_rng([seed, 7, patient_id])``,
so the bytes do not depend on the number of worker processes or their scheduling.
"""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .cohort import RecordPlan, assign_folds, plan_cohort
from .ecg import SynthesisError
from .ptbxl_config import PTBXL_COLUMNS, PTBXL_LEAD_NAMES, SynthConfig, rel_path  # noqa: F401 (public names)

log = logging.getLogger(__name__)

GENERATOR_VERSION = "1.1"
@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Small matrix products are much slower with several BLAS threads on a busy 2-core machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn/neurokit2
        ctx: Any = nullcontext()
    else:
        ctx = threadpool_limits(1)
    with ctx:
        yield


def _mp_context() -> mp.context.BaseContext:
    """Fork (fast start) unless torch is loaded: its OpenMP threads make forking unsafe, so spawn then."""
    if os.name == "posix" and "torch" not in sys.modules:
        return mp.get_context("fork")
    return mp.get_context("spawn")


def _make_record(job: tuple[int, RecordPlan, dict[str, Any]]) -> dict[str, Any]:
    """Synthesise and write one record (runs in a worker); returns what the metadata row needs."""
    from ..preprocess import resample
    from .ecg import synthesize_ecg_with_info
    from .lowrate import ptbxl_decimate
    from .morphology import draw_anatomy
    from .wfdb_writer import write_record, write_record_wfdb

    ecg_id, plan, ctx = job
    seed = ctx["seed"]
    anat_age = plan.age - plan.day_offset / 365.25
    anatomy = draw_anatomy(np.random.default_rng([seed, 7, plan.patient_id]), anat_age, plan.sex)
    rng = np.random.default_rng([seed, ecg_id])
    sig, info = synthesize_ecg_with_info(plan.labels, rng, ctx["fs_high"], ctx["duration_s"], plan.age,
                                         plan.sex, anatomy=anatomy, noise=ctx["noise"],
                                         territories=dict(plan.territories))
    decimate = ptbxl_decimate if ctx["lowrate_filter"] == "ptbxl" else resample
    low = decimate(sig, ctx["fs_high"], ctx["fs_low"])
    write = write_record if ctx["writer"] == "fast" else write_record_wfdb
    root = Path(ctx["root"])
    write(root / rel_path(ecg_id, f"records{ctx['fs_high']}", "hr"), sig, ctx["fs_high"], PTBXL_LEAD_NAMES)
    write(root / rel_path(ecg_id, f"records{ctx['fs_low']}", "lr"), low, ctx["fs_low"], PTBXL_LEAD_NAMES)
    info["ecg_id"] = ecg_id
    return info


def _run_chunk(jobs: list[tuple[int, RecordPlan, dict[str, Any]]]) -> list[dict[str, Any]]:
    with _one_blas_thread():
        return [_make_record(j) for j in jobs]


def generate_ptbxl(out_dir: str | Path, n: int = 4000, seed: int = 0, progress: bool = False,
                   config: SynthConfig | None = None) -> Path:
    """Write a synthetic PTB-XL-layout dataset of ``n`` records to ``out_dir``; returns the directory.

    ``config`` overrides ``n`` and ``seed`` when given. Existing generated files in ``out_dir`` are
    overwritten; other files are left alone. The progress bar shows only on a terminal. Generation is
    fast (about a minute for 4,000 records on 2 cores), so it is not resumable: rerun it.
    """
    from tqdm.auto import tqdm

    from .metadata import build_database, write_readme

    cfg = config or SynthConfig(n=n, seed=seed)
    cfg.validate()
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise SynthesisError(f"output path {root} exists and is not a directory")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:   # e.g. a parent is a regular file
        raise SynthesisError(f"cannot create the output directory {root}: {exc.strerror}") from exc
    t0 = time.perf_counter()
    rng = np.random.default_rng([cfg.seed, 1])
    plans = plan_cohort(rng, cfg.n, cfg.prevalence)
    # Recording order: interleave patients by date, ecg_id = rank (as in PTB-XL).
    first_day = {p.patient_id: float(rng.uniform(0, 17 * 365.25)) for p in plans}
    when = np.array([first_day[p.patient_id] + p.day_offset for p in plans])
    order = np.argsort(when, kind="stable")
    plans = [plans[i] for i in order]
    when = when[order]
    folds = assign_folds(rng, np.array([p.patient_id for p in plans]), [p.labels for p in plans])
    ctx = {"seed": cfg.seed, "fs_high": cfg.fs_high, "fs_low": cfg.fs_low, "duration_s": cfg.duration_s,
           "noise": cfg.noise, "writer": cfg.writer, "root": str(root),
           "lowrate_filter": cfg.lowrate_filter}
    jobs = [(i + 1, p, ctx) for i, p in enumerate(plans)]
    chunk = 50
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    infos: list[dict[str, Any]] = []
    bar = tqdm(total=len(jobs), desc="synth PTB-XL", unit="rec", disable=None if progress else True)
    workers = max(1, min(cfg.workers, len(chunks), os.cpu_count() or 1))
    with bar:
        if workers == 1:
            for c in chunks:
                infos.extend(_run_chunk(c))
                bar.update(len(c))
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context()) as pool:
                for res in pool.map(_run_chunk, chunks):
                    infos.extend(res)
                    bar.update(len(res))
    db = build_database(plans, infos, folds, when, rng, cfg)
    db.to_csv(root / "ptbxl_database.csv", index=False)
    with resources.files("data_access").joinpath("resources/scp_statements.csv").open("rb") as src, \
            open(root / "scp_statements.csv", "wb") as dst:
        shutil.copyfileobj(src, dst)
    params = {"generator": "data_access.synth.ptbxl", "version": GENERATOR_VERSION, "seed": cfg.seed,
              "n": cfg.n, "config": _jsonable(asdict(cfg))}
    (root / "synth_params.json").write_text(json.dumps(params, indent=2, sort_keys=True) + "\n")
    write_readme(root, cfg, GENERATOR_VERSION)
    log.info("generated %d synthetic PTB-XL records in %s (%.1f s)", cfg.n, root, time.perf_counter() - t0)
    return root


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
