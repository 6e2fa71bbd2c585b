"""Prototype projection: replace each prototype by the most similar latent of a training ECG of its class.

Similarity and pooling are the model's own (cosine, max over windows), so after projection a prototype
*is* the latent window of a real ECG and its similarity to that window is 1. By default no two prototypes
of one class get the same source ECG with overlapping windows (see :mod:`protoecg.projection_assign`);
``unique=True`` asks for distinct source ECGs across the branch. Prototypes whose class has no positive
training ECG (``status = "absent_class"``) or no free window left (``"pruned_duplicate"``) are not
projected; they keep their learned value and get ``source_ecg_id = -1`` in the table.
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
from .projection_assign import assign

log = logging.getLogger(__name__)

TABLE_COLUMNS = ["prototype_id", "branch", "branch_index", "class", "source_ecg_id", "source_index", "window_index",
                 "window_start_s", "window_end_s", "leads", "projection_similarity", "status"]


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
    avoided: dict[str, int] = {}
    for branch in BRANCHES:
        br = model.branch(branch)
        sims, best = _branch_scan(model, branch, signals, batch_size, progress)
        cls_global = model.class_index(branch)[br.proto_class].numpy()          # (P,) code index
        allowed = labels[:, cls_global].astype(bool)                              # (N, P)
        spans = ([(0.0, cfg.n_samples / cfg.fs)] if branch == "rhythm" else
                 [br.window_seconds(w, cfg.n_samples, cfg.fs) for w in range(br.n_windows(cfg.n_samples))])

        def map_of(n: int, br=br) -> np.ndarray:
            return br(torch.from_numpy(signals[n:n + 1]))["map"][0].numpy()

        a = assign(sims, best, allowed, br.proto_class.numpy(), spans,
                   map_of if len(spans) > 1 else None, unique=unique)
        src = a.source
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
                   "projection_similarity": np.nan, "status": a.status[p]}
            if n >= 0:
                w = int(a.window[p])
                z = latents[n]
                new = z if branch == "rhythm" else z[..., w:w + br.window]
                br.prototypes.data[p] = new
                if branch == "rhythm":
                    start, end = 0.0, cfg.n_samples / cfg.fs
                else:
                    start, end = br.window_seconds(w, cfg.n_samples, cfg.fs)
                row.update(source_ecg_id=int(ecg_ids[n]), source_index=n, window_index=w,
                           window_start_s=start, window_end_s=end,
                           projection_similarity=float(a.similarity[p]))
            if branch == "rhythm":
                sh = np.full(cfg.n_leads, 1.0 / cfg.n_leads)
                row["leads"] = "all"
            else:
                sh = lead_shares(br.prototypes.data[p])
                row["leads"] = _lead_names(sh)
            shares_all.append(sh)
            rows.append(row)
        n_proj = int((src >= 0).sum())
        log.info("projected %d/%d %s prototypes onto %d distinct ECGs (%d repeats of a class's ECG+window "
                 "avoided, %d pruned: no free window of their class, %d of classes absent from training)",
                 n_proj, br.n_prototypes, branch, len(chosen), a.counts["n_duplicates_avoided"],
                 a.counts["n_pruned_duplicates"], a.counts["n_absent_class"])
        avoided[branch] = a.counts["n_duplicates_avoided"]
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table.attrs["n_duplicates_avoided"] = avoided
    return table, np.asarray(shares_all, dtype=np.float32)


@torch.no_grad()
def refresh_lead_shares(model: ProtoECGNet, table: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Recompute the ``leads`` column and the per-lead shares from the model's current prototypes (after
    the ``tied`` stage moved them with their source windows' latents). Rows keep their order."""
    table = table.copy()
    shares = []
    for i, row in table.iterrows():
        if row["branch"] == "rhythm":
            shares.append(np.full(model.cfg.n_leads, 1.0 / model.cfg.n_leads))
            continue
        sh = lead_shares(model.branch(row["branch"]).prototypes.data[int(row["branch_index"])])
        table.at[i, "leads"] = _lead_names(sh)
        shares.append(sh)
    return table, np.asarray(shares, dtype=np.float32)


def repeated_windows(table: pd.DataFrame) -> int:
    """Prototypes that share class and source ECG with an earlier prototype and overlap its window."""
    proj = table[table["source_ecg_id"] >= 0]
    n = 0
    for _, g in proj.groupby(["branch", "class", "source_ecg_id"]):
        iv = sorted(zip(g["window_start_s"], g["window_end_s"]))
        n += sum(1 for i in range(1, len(iv)) if iv[i][0] < max(e for _, e in iv[:i]))
    return n


def uniqueness(table: pd.DataFrame, avoided: dict[str, int] | None = None) -> dict:
    """Distinct source ECGs among projected prototypes, repeats and pruned duplicates, overall and per
    branch (``avoided``: per branch, prototypes whose own best match repeated a taken window)."""
    status = table["status"] if "status" in table else pd.Series(
        np.where(table["source_ecg_id"] >= 0, "projected", "absent_class"), index=table.index)
    avoided = avoided if avoided is not None else table.attrs.get("n_duplicates_avoided", {})

    def part(g: pd.DataFrame) -> dict:
        st_ = status.loc[g.index]
        proj = g[g["source_ecg_id"] >= 0]
        return {"n_prototypes": int(len(g)), "n_projected": int(len(proj)),
                "n_distinct_sources": int(proj["source_ecg_id"].nunique()),
                "n_repeated_windows": repeated_windows(g),
                "n_pruned_duplicates": int((st_ == "pruned_duplicate").sum()),
                "n_absent_class": int((st_ == "absent_class").sum())}

    out = part(table)
    out["per_branch"] = {b: part(g) for b, g in table.groupby("branch", sort=False)}
    if avoided:
        out["n_duplicates_avoided"] = int(sum(avoided.values()))
        for b, v in avoided.items():
            if b in out["per_branch"]:
                out["per_branch"][b]["n_duplicates_avoided"] = int(v)
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
    for col in ("branch_index", "source_ecg_id", "source_index", "window_index"):
        if col in table:
            table[col] = pd.to_numeric(table[col]).astype(int)
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
