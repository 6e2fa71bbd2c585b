"""Prototype projection: replace each prototype by the most similar latent of a training ECG of its class.

Similarity and pooling are the model's own (cosine, max over windows), so after projection a prototype
*is* the latent window of a real ECG and its similarity to that window is 1. With ``unique=True`` the
prototypes of a branch are assigned greedily (most confident first) to distinct source ECGs. Prototypes
whose class has no positive training ECG cannot be projected; they keep their learned value and get
``source_ecg_id = -1`` in the table.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from data_access.leads import CANONICAL_LEADS

from .model.network import ProtoECGNet
from .model.config import BRANCHES

log = logging.getLogger(__name__)

TABLE_COLUMNS = ["prototype_id", "branch", "branch_index", "class", "source_ecg_id", "source_index", "window_index",
                 "window_start_s", "window_end_s", "leads", "projection_similarity"]


def _branch_scan(model: ProtoECGNet, branch: str, signals: np.ndarray, batch_size: int,
                 progress: bool) -> tuple[np.ndarray, np.ndarray]:
    """Pooled similarity (N, P) and best window (N, P) of every training ECG to every prototype."""
    br = model.branch(branch)
    sims, best = [], []
    for i in tqdm(range(0, len(signals), batch_size), desc=f"project {branch}", disable=not progress,
                  leave=False):
        out = br(torch.from_numpy(signals[i:i + batch_size]))
        sims.append(out["sims"].numpy())
        best.append(out["best"].numpy() if "best" in out else np.zeros_like(out["sims"].numpy(), dtype=np.int64))
    return np.concatenate(sims), np.concatenate(best)


def _assign(sims: np.ndarray, allowed: np.ndarray, unique: bool) -> np.ndarray:
    """Source ECG index per prototype (-1 when its class has no training ECG)."""
    masked = np.where(allowed, sims, -np.inf)
    src = np.full(sims.shape[1], -1, dtype=np.int64)
    if not unique:
        has = allowed.any(axis=0)
        src[has] = masked[:, has].argmax(axis=0)
        return src
    used = np.zeros(sims.shape[0], dtype=bool)
    for p in np.argsort(-masked.max(axis=0), kind="stable"):
        if not allowed[:, p].any():
            continue
        free = np.where(used, -np.inf, masked[:, p])
        if np.isfinite(free).any():
            src[p] = int(free.argmax())
        else:                                    # more prototypes than ECGs of the class: reuse the best
            src[p] = int(masked[:, p].argmax())
        used[src[p]] = True
    return src


def lead_shares(prototype: torch.Tensor) -> np.ndarray:
    """Share of a (C, L, w) prototype's squared norm held by each lead row: its per-lead cosine terms
    against its own source window (the match at projection)."""
    e = prototype.pow(2).sum(dim=(0, 2)).numpy()
    return e / max(float(e.sum()), 1e-12)


def _lead_names(shares: np.ndarray) -> str:
    """Leads whose share is above the uniform share 1/L, strongest first."""
    order = np.argsort(-shares)
    keep = [CANONICAL_LEADS[i] for i in order if shares[i] > 1.0 / len(shares)]
    return ",".join(keep)


@torch.no_grad()
def project_prototypes(model: ProtoECGNet, signals: np.ndarray, labels: np.ndarray, ecg_ids: np.ndarray,
                       unique: bool = False, batch_size: int = 256,
                       progress: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Project every prototype of ``model`` in place onto training latents.

    Returns the prototype table (columns :data:`TABLE_COLUMNS`, one row per prototype, ids
    ``{branch}-{code}-{k}``) and the per-lead shares (P_total, 12) of the projected prototypes (uniform
    for the rhythm branch, whose latent has no lead axis).
    """
    model.eval()
    cfg = model.cfg
    rows, shares_all = [], []
    for branch in BRANCHES:
        br = model.branch(branch)
        sims, best = _branch_scan(model, branch, signals, batch_size, progress)
        cls_global = model.class_index(branch)[br.proto_class].numpy()          # (P,) code index
        allowed = labels[:, cls_global].astype(bool)                              # (N, P)
        src = _assign(sims, allowed, unique)
        chosen = np.unique(src[src >= 0])
        latents = {}
        for i in range(0, len(chosen), batch_size):
            part = chosen[i:i + batch_size]
            z = br.latent(torch.from_numpy(signals[part]))
            latents.update({int(n): z[k] for k, n in enumerate(part)})
        codes_of = model.proto_codes(branch)
        counter: dict[str, int] = {}
        for p in range(br.n_prototypes):
            code = codes_of[p]
            k = counter.get(code, 0)
            counter[code] = k + 1
            n = int(src[p])
            row = {"prototype_id": f"{branch}-{code}-{k}", "branch": branch, "branch_index": p, "class": code,
                   "source_ecg_id": -1, "source_index": -1, "window_index": -1,
                   "window_start_s": np.nan, "window_end_s": np.nan, "leads": "",
                   "projection_similarity": np.nan}
            if n >= 0:
                w = int(best[n, p])
                z = latents[n]
                new = z if branch == "rhythm" else z[..., w:w + br.window]
                br.prototypes.data[p] = new
                if branch == "rhythm":
                    start, end = 0.0, cfg.n_samples / cfg.fs
                else:
                    start, end = br.window_seconds(w, cfg.n_samples, cfg.fs)
                row.update(source_ecg_id=int(ecg_ids[n]), source_index=n, window_index=w,
                           window_start_s=start, window_end_s=end,
                           projection_similarity=float(sims[n, p]))
            if branch == "rhythm":
                sh = np.full(cfg.n_leads, 1.0 / cfg.n_leads)
                row["leads"] = "all"
            else:
                sh = lead_shares(br.prototypes.data[p])
                row["leads"] = _lead_names(sh)
            shares_all.append(sh)
            rows.append(row)
        n_proj = int((src >= 0).sum())
        log.info("projected %d/%d %s prototypes onto %d distinct ECGs", n_proj, br.n_prototypes, branch,
                 len(chosen))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS), np.asarray(shares_all, dtype=np.float32)


def uniqueness(table: pd.DataFrame) -> dict:
    """Distinct source ECGs among projected prototypes, overall and per branch."""
    proj = table[table["source_ecg_id"] >= 0]
    out = {"n_prototypes": int(len(table)), "n_projected": int(len(proj)),
           "n_distinct_sources": int(proj["source_ecg_id"].nunique())}
    out["per_branch"] = {b: {"n_projected": int((g["source_ecg_id"] >= 0).sum()),
                             "n_distinct_sources": int(g.loc[g["source_ecg_id"] >= 0, "source_ecg_id"].nunique())}
                         for b, g in table.groupby("branch", sort=False)}
    return out


PROTOTYPES_FILE = "prototypes.csv"
LEAD_SHARES_FILE = "lead_shares.npy"


def read_prototype_table(path: str | Path) -> pd.DataFrame:
    """A prototype table written by :func:`save_projection` or a bundle (``prototypes.csv``).

    Text columns stay text (``leads`` such as ``"V2,V3"``, ids); the window and similarity columns are
    numbers, NaN where a prototype was not projected.
    """
    table = pd.read_csv(path, keep_default_na=False,
                        dtype={"leads": str, "prototype_id": str, "class": str, "branch": str})
    for col in ("window_start_s", "window_end_s", "projection_similarity"):
        if col in table:
            table[col] = pd.to_numeric(table[col].replace("", np.nan))
    return table


def save_projection(directory: str | Path, table: pd.DataFrame, shares: np.ndarray) -> None:
    """Write a projection (the table and the per-lead shares) into ``directory`` (a checkpoint folder)."""
    directory = Path(directory)
    table.to_csv(directory / PROTOTYPES_FILE, index=False)
    np.save(directory / LEAD_SHARES_FILE, shares)


def load_projection(directory: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """The (table, shares) that :func:`save_projection` wrote into ``directory``."""
    directory = Path(directory)
    return read_prototype_table(directory / PROTOTYPES_FILE), np.load(directory / LEAD_SHARES_FILE)
