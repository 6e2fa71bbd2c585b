"""Prototype quality report: purity, redundancy, distinct sources, fusion-weight use, nearest windows.

Computed once at finalisation from one pass of the model over the training ECGs (the projection scan
cannot be reused: it measured similarities to the prototypes *before* projection).

- **purity** (in the spirit of PIP-Net): of a prototype's ``k`` nearest training windows (the model's own
  similarity, max-pooled over windows, so one window per training ECG; the prototype's own source ECG
  excluded), the share whose ECG carries the prototype's class.
- **redundancy**: cosine between prototypes of one class (per prototype: the largest, to its nearest
  sibling; per class: the mean over pairs).
- **fusion weight**: the fused layer's weight from the prototype to its own class (logit per SD of the
  branch-normalised similarity), its share of that class's absolute weight, and whether it is non-zero
  (``|w| >= zero_tol``).
Prototypes that were not projected (class absent from training, or pruned duplicate) get no figures.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from .model.inference import run_model
from .model.network import ProtoECGNet
from .model.config import BRANCHES

QUALITY_COLUMNS = ["prototype_id", "branch", "class", "status", "source_ecg_id", "window_start_s",
                   "window_end_s", "purity", "redundancy_nn", "fusion_weight", "fusion_weight_share",
                   "fusion_nonzero"]
NEIGHBOUR_COLUMNS = ["prototype_id", "rank", "ecg_id", "labels", "has_class", "similarity",
                     "window_start_s", "window_end_s"]


@dataclass(frozen=True)
class QualityConfig:
    k: int = 10                 # nearest training windows for purity
    n_show: int = 3             # nearest windows kept (with their signals) for the gallery
    zero_tol: float = 1e-3      # |fusion weight| below this counts as zero


@dataclass
class QualityReport:
    table: pd.DataFrame                      # QUALITY_COLUMNS, one row per prototype (model order)
    neighbours: pd.DataFrame                 # NEIGHBOUR_COLUMNS, n_show rows per projected prototype
    signals: dict[str, np.ndarray]           # {branch: (P_b, n_show, 12, S_b) float16, NaN padded}
    summary: dict


def purity_topk(sims: np.ndarray, labels_of_class: np.ndarray, source: np.ndarray,
                k: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised purity. ``sims`` (N, P), ``labels_of_class`` (N, P) bool (ECG n carries prototype p's
    class), ``source`` (P,) source row to exclude (-1: none). Returns purity (P,) and the nearest rows
    (k', P) sorted by decreasing similarity (k' = min(k, N - 1))."""
    s = np.array(sims, dtype=np.float64, copy=True)
    cols = np.flatnonzero(source >= 0)
    s[source[cols], cols] = -np.inf
    kk = max(1, min(k, s.shape[0] - 1))
    part = np.argpartition(-s, kk - 1, axis=0)[:kk]                     # (k', P)
    order = np.argsort(-np.take_along_axis(s, part, 0), axis=0, kind="stable")
    idx = np.take_along_axis(part, order, 0)
    return np.take_along_axis(labels_of_class, idx, 0).mean(axis=0), idx


def _redundancy(protos: torch.Tensor, cls: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per prototype: max cosine to another projected prototype of its class (NaN if none)."""
    v = torch.nn.functional.normalize(protos.detach().flatten(1).double(), dim=1).numpy()
    cos = v @ v.T
    same = (cls[:, None] == cls[None, :]) & ok[:, None] & ok[None, :]
    np.fill_diagonal(same, False)
    out = np.where(same, cos, -np.inf).max(axis=1)
    return np.where(np.isfinite(out), out, np.nan)


def _mean(x) -> float | None:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def _summary(t: pd.DataFrame, proto_vecs: dict[str, np.ndarray]) -> dict:
    proj = t[t["status"] == "projected"]

    def figures(g: pd.DataFrame) -> dict:
        pg = g[g["status"] == "projected"]
        return {"n_prototypes": int(len(g)), "n_projected": int(len(pg)),
                "n_distinct_sources": int(pg["source_ecg_id"].nunique()),
                "purity": _mean(pg["purity"]), "redundancy_nn": _mean(pg["redundancy_nn"]),
                "share_nonzero_fusion": _mean(pg["fusion_nonzero"].astype(float)) if len(pg) else None}

    per_class = {}
    for (b, c), g in t.groupby(["branch", "class"], sort=False):
        d = figures(g)
        pg = g[g["status"] == "projected"]
        if len(pg) >= 2:          # mean pairwise cosine of the class's projected prototypes
            v = proto_vecs[b][pg.index.to_numpy()]
            cos = v @ v.T
            d["redundancy"] = float(cos[np.triu_indices(len(v), 1)].mean())
        else:
            d["redundancy"] = None
        d["branch"] = b
        d["absent_from_training"] = bool((g["status"] == "absent_class").all())
        per_class[c] = d
    out = figures(t)
    out["per_branch"] = {b: figures(g) for b, g in t.groupby("branch", sort=False)}
    out["per_class"] = per_class
    out["n_classes_absent"] = int(sum(v["absent_from_training"] for v in per_class.values()))
    out["redundancy"] = _mean([v["redundancy"] for v in per_class.values() if v["redundancy"] is not None])
    out["n_purity_neighbours"] = None
    del proj
    return out


@torch.no_grad()
def prototype_quality(model: ProtoECGNet, table: pd.DataFrame, signals: np.ndarray, labels: np.ndarray,
                      ecg_ids: np.ndarray, cfg: QualityConfig = QualityConfig(),
                      batch_size: int = 256) -> QualityReport:
    """The quality report of a projected model on its training set (``table`` = projection table; its
    ``source_index`` rows index ``signals``)."""
    m = model.cfg
    out = run_model(model, signals, batch_size=batch_size, keys=("sims", "best"))
    codes = list(model.codes)
    status = (table["status"] if "status" in table else
              pd.Series(np.where(table["source_ecg_id"] >= 0, "projected", "absent_class"))).to_numpy()
    n = len(signals)
    purity = np.full(len(table), np.nan)
    red = np.full(len(table), np.nan)
    fw, fshare = np.full(len(table), np.nan), np.full(len(table), np.nan)
    W = model.fusion.weight.detach().numpy()
    nb_rows, sig_out, vecs = [], {}, {}
    col, row0 = 0, 0
    label_str = [",".join(codes[j] for j in np.flatnonzero(labels[i])) for i in range(n)]
    for b in BRANCHES:
        br = model.branch(b)
        P = br.n_prototypes
        rows = np.arange(row0, row0 + P)
        sub = table.iloc[rows]
        cls = model.class_index(b)[br.proto_class].numpy()
        ok = status[rows] == "projected"
        src = np.where(ok, sub["source_index"].to_numpy(int), -1)
        has = labels[:, cls].astype(bool)
        pur, idx = purity_topk(out["sims"][b], has, src, cfg.k)
        purity[rows] = np.where(ok, pur, np.nan)
        red[rows] = _redundancy(br.prototypes, cls, ok)
        v = torch.nn.functional.normalize(br.prototypes.detach().flatten(1).double(), dim=1).numpy()
        vecs[b] = np.zeros((len(table), v.shape[1]))
        vecs[b][rows] = v
        own = W[cls, col + np.arange(P)]
        fw[rows] = own
        fshare[rows] = np.abs(own) / np.maximum(np.abs(W[cls]).sum(axis=1), 1e-12)
        n_show = min(cfg.n_show, idx.shape[0])
        seg = m.n_samples if b != "morphology" else max(
            int(round((e - s) * m.fs)) for s, e in (br.window_seconds(w, m.n_samples, m.fs)
                                                    for w in range(br.n_windows(m.n_samples))))
        arr = np.full((P, n_show, m.n_leads, seg), np.nan, np.float16)
        for p in np.flatnonzero(ok):
            for r in range(n_show):
                i = int(idx[r, p])
                if b == "morphology":
                    s, e = br.window_seconds(int(out["best"][b][i, p]), m.n_samples, m.fs)
                else:
                    s, e = 0.0, m.n_samples / m.fs
                a, z = int(round(s * m.fs)), int(round(e * m.fs))
                arr[p, r, :, :z - a] = signals[i, :, a:z]
                nb_rows.append({"prototype_id": sub.iloc[p]["prototype_id"], "rank": r + 1,
                                "ecg_id": int(ecg_ids[i]), "labels": label_str[i], "has_class": bool(has[i, p]),
                                "similarity": float(out["sims"][b][i, p]), "window_start_s": s,
                                "window_end_s": e})
        sig_out[b] = arr
        col += P
        row0 += P
    q = table[["prototype_id", "branch", "class", "source_ecg_id", "window_start_s", "window_end_s"]].copy()
    q.insert(3, "status", status)
    q["purity"], q["redundancy_nn"] = purity, red
    q["fusion_weight"], q["fusion_weight_share"] = fw, fshare
    q["fusion_nonzero"] = np.abs(fw) >= cfg.zero_tol
    q = q[QUALITY_COLUMNS]
    summary = _summary(q, vecs)
    summary["n_purity_neighbours"] = int(min(cfg.k, max(n - 1, 1)))
    summary["zero_tol"] = cfg.zero_tol
    return QualityReport(q, pd.DataFrame(nb_rows, columns=NEIGHBOUR_COLUMNS), sig_out, summary)
