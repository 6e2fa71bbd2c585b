"""Model bundle: one directory holding everything needed to use a trained model without the training data.

Stable API (other packages rely on it)::

    from protoecg.bundle import load_bundle
    b = load_bundle("runs/demo")          # -> Bundle
    b.model                               # torch module in eval mode (ProtoECGNet or BaselineNet)
    b.config                              # RunConfig (frozen dataclasses; b.config.model.fs ...)
    b.codes                               # tuple of the 71 codes (column order of every (N, 71) array)
    b.branch_of                           # {code: "rhythm" | "morphology" | "diffuse"}
    b.thresholds                          # np.ndarray (71,) decision thresholds tuned on validation (max F1)
    b.prototypes                          # DataFrame, one row per prototype, in model order:
        # prototype_id ("{branch}-{code}-{k}"), branch, branch_index (column in pred.sims[branch]),
        # class, source_ecg_id (-1: not projected), source_index, window_index (latent window start),
        # window_start_s, window_end_s (exact receptive field, seconds), leads ("V2,V3,..." leads above the
        # uniform share; "all" for rhythm), projection_similarity (prototype→source cosine before projection)
    b.lead_shares                         # (P_total, 12) per-lead share of each prototype (rows = table rows)
    b.prototype_signal(pid)               # (12, n) float32 snippet of the source ECG (the matched window)
    b.prototype_source(pid)               # (full (12, T) source ECG, start_s, end_s)
    b.quality                             # DataFrame (prototype_quality.csv) or None for older bundles:
        # prototype_id, branch, class, status, source_ecg_id, window, purity, redundancy_nn, fusion_weight,
        # fusion_weight_share, fusion_nonzero (see protoecg.prototype_quality); summary in metrics.json
    b.neighbours                          # DataFrame (prototype_neighbours.csv): nearest training windows
    b.neighbour_signal(pid, rank)         # (12, n) float32 window of the rank-th nearest training ECG
    b.metrics                             # dict (metrics.json: validation/test figures, history, timings)
    b.fingerprint                         # dict describing the training data (hash, counts, folds)
    b.is_demo                             # True when trained on generated (synthetic) data
    b.fs, b.n_samples, b.arch, b.git_commit
    pred = b.predict(signals)             # signals (N, 12, n_samples) or (12, n_samples), preprocessed mV
    pred.probs, pred.logits               # (N, 71) fused probabilities / logits
    pred.predicted                        # (N, 71) bool: probs >= thresholds
    pred.combined_logits                  # (N, 71) the branch classifiers' logits (each code from its branch)
    pred.sims                             # {branch: (N, P_b)} pooled similarities (max over windows)
    pred.maps                             # {"morphology"/"diffuse": (N, P_b, W_b)} similarity at every window
    pred.best_window                      # {"morphology"/"diffuse": (N, P_b)} argmax window index
    pred.lead_contrib                     # {"morphology"/"diffuse": (N, P_b, 12)} per-lead cosine terms at the
                                          #  best window (sum over leads = pred.sims)
    b.window_seconds(branch, w)           # latent window index → (start_s, end_s) in the input

For the baseline architecture ``prototypes`` is empty and the per-branch dicts are empty. Signals must be
preprocessed like training (``data_access.preprocess.highpass`` at ``b.fs``); wrong shapes raise
:class:`data_access.errors.LeadError` / :class:`~data_access.errors.RecordLengthError`, non-finite values
:class:`~data_access.errors.SignalQualityError`.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from data_access.signal_checks import check_model_input

from . import __version__
from .decision import is_positive, sigmoid
from .errors import BundleError
from .provenance import git_commit
from .model import build_model
from .model.fast import fast_model
from .model.inference import run_model
from .projection import read_prototype_table
from .config import RunConfig, config_to_dict, load_config

FORMAT_VERSION = 1
FILES = ("manifest.json", "config.json", "model.pt", "thresholds.json", "prototypes.csv",
         "prototype_sources.npz", "fingerprint.json", "metrics.json")


@dataclass
class Prediction:
    """Output of :meth:`Bundle.predict` (see the module docstring)."""

    probs: np.ndarray
    logits: np.ndarray
    predicted: np.ndarray
    combined_logits: np.ndarray | None = None
    sims: dict[str, np.ndarray] = field(default_factory=dict)
    maps: dict[str, np.ndarray] = field(default_factory=dict)
    best_window: dict[str, np.ndarray] = field(default_factory=dict)
    lead_contrib: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Bundle:
    path: Path
    model: nn.Module
    config: RunConfig
    codes: tuple[str, ...]
    branch_of: dict[str, str]
    thresholds: np.ndarray
    prototypes: pd.DataFrame
    lead_shares: np.ndarray
    metrics: dict
    fingerprint: dict
    manifest: dict
    source_signals: np.ndarray
    source_ids: np.ndarray
    quality: pd.DataFrame | None = None
    neighbours: pd.DataFrame | None = None
    neighbour_signals: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def is_demo(self) -> bool:
        """True when generated ECGs went into the model: trained on them, or pretrained on them and then
        fine-tuned (``pretrained_from``)."""
        return bool(self.manifest.get("is_demo", False))

    @property
    def crossval(self) -> dict | None:
        """The cross-validated figures of the recipe that made this model (``crossval.json``, written by
        ``protoecg crossval --attach``), or None. They describe the recipe on that dataset, not this one
        model's split."""
        p = self.path / "crossval.json" if self.path is not None else None
        return json.loads(p.read_text()) if p is not None and p.exists() else None

    @property
    def pretrained_from(self) -> dict | None:
        """For a fine-tuned bundle: the starting bundle's path, whether it was a demo model, its data."""
        return self.metrics.get("pretrained_from")

    @property
    def finetuned_from_demo(self) -> bool:
        """True for a model pretrained on generated ECGs and then fine-tuned on real ones."""
        pre = self.pretrained_from
        return bool(pre and pre.get("is_demo") and not self.manifest.get("trained_on_generated", False))

    @property
    def disclaimer(self) -> str | None:
        """The banner every output of this model carries (None for a model trained on real data only)."""
        from .provenance import DEMO_DISCLAIMER, DEMO_FINETUNED_DISCLAIMER

        if self.finetuned_from_demo:
            return DEMO_FINETUNED_DISCLAIMER.format(n=self.fingerprint.get("n_records", "a few"))
        return DEMO_DISCLAIMER if self.is_demo else None

    @property
    def fs(self) -> int:
        return int(self.config.model.fs)

    @property
    def n_samples(self) -> int:
        return int(self.config.model.n_samples)

    @property
    def arch(self) -> str:
        return self.config.model.arch

    @property
    def git_commit(self) -> str | None:
        return self.manifest.get("git_commit")

    def _check(self, signals: np.ndarray) -> np.ndarray:
        """``signals`` as a float32 (N, 12, n_samples) batch (data_access's one model-input check)."""
        return check_model_input(signals, self.n_samples, n_leads=self.config.model.n_leads, batched=True,
                                 fs=self.fs)

    def predict(self, signals: np.ndarray, batch_size: int = 128, with_leads: bool = True,
                progress: bool = False, fast: bool = False) -> Prediction:
        """Predictions for (N, 12, T) or (12, T) signals. ``fast``: the serving path (batch norm folded,
        chunked; outputs equal within 1e-5) and only probabilities, logits and similarities (no maps,
        best windows or lead shares) — what batch cohort inference needs."""
        x = self._check(signals)
        keys = ("logits", "combined_logits", "sims", "maps", "best", "lead_contrib")
        model = self.model
        if fast:
            keys = ("logits", "combined_logits", "sims")
            with_leads = False
            model = self.serving_model()
        out = run_model(model, x, batch_size=batch_size, with_leads=with_leads, keys=keys,
                        progress=progress)
        logits = out["logits"]
        probs = sigmoid(logits)
        return Prediction(probs=probs.astype(np.float32), logits=logits,
                          predicted=is_positive(probs, self.thresholds[None, :]),
                          combined_logits=out.get("combined_logits"), sims=out.get("sims", {}),
                          maps=out.get("maps", {}), best_window=out.get("best", {}),
                          lead_contrib=out.get("lead_contrib", {}))

    def serving_model(self) -> nn.Module:
        """The fast inference copy of the model (built once, on first use)."""
        fast = self.__dict__.get("_serving")
        if fast is None:
            fast = self.__dict__["_serving"] = fast_model(self.model)
        return fast

    def _row(self, pid: str) -> pd.Series:
        rows = self.prototypes[self.prototypes["prototype_id"] == pid]
        if rows.empty:
            raise KeyError(f"no prototype {pid!r} in this bundle")
        return rows.iloc[0]

    def prototype_source(self, pid: str) -> tuple[np.ndarray, float, float]:
        """The whole source ECG (12, T) of a prototype and its matched window [start_s, end_s)."""
        row = self._row(pid)
        if int(row["source_ecg_id"]) < 0:
            raise KeyError(f"prototype {pid!r} was not projected (no training ECG of class {row['class']})")
        k = int(np.flatnonzero(self.source_ids == int(row["source_ecg_id"]))[0])
        return self.source_signals[k], float(row["window_start_s"]), float(row["window_end_s"])

    def prototype_signal(self, pid: str) -> np.ndarray:
        """The matched window of the prototype's source ECG, (12, n) float32."""
        sig, start, end = self.prototype_source(pid)
        a, b = int(round(start * self.fs)), int(round(end * self.fs))
        return sig[:, a:b]

    def neighbour_signal(self, pid: str, rank: int) -> np.ndarray:
        """The window of the ``rank``-th (1-based) nearest training ECG of prototype ``pid``, (12, n)."""
        row = self._row(pid)
        arr = self.neighbour_signals.get(str(row["branch"]))
        if arr is None or not 1 <= rank <= arr.shape[1]:
            raise KeyError(f"no stored neighbour {rank} for prototype {pid!r}")
        sig = arr[int(row["branch_index"]), rank - 1].astype(np.float32)
        keep = np.isfinite(sig).all(axis=0)
        return sig[:, keep]

    def window_seconds(self, branch: str, window_index: int) -> tuple[float, float]:
        br = self.model.branch(branch)  # type: ignore[operator]
        if branch == "rhythm":
            return 0.0, self.n_samples / self.fs
        return br.window_seconds(int(window_index), self.n_samples, self.fs)


def save_bundle(path: str | Path, model: nn.Module, config: RunConfig, thresholds: np.ndarray,
                prototypes: pd.DataFrame, lead_shares: np.ndarray, source_signals: np.ndarray,
                source_ids: np.ndarray, metrics: dict, fingerprint: dict, is_demo: bool,
                trained_on_generated: bool | None = None, quality=None) -> Path:
    """Write a bundle directory (see module docstring); returns its path."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    codes = tuple(model.codes)
    manifest = {"format_version": FORMAT_VERSION, "protoecg_version": __version__, "arch": config.model.arch,
                "preset": config.preset, "is_demo": bool(is_demo),
                "trained_on_generated": bool(is_demo if trained_on_generated is None else trained_on_generated),
                "fs": config.model.fs,
                "n_samples": config.model.n_samples, "codes": list(codes), "branch_of": model.branch_of,
                "git_commit": git_commit(),
                "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    torch.save(model.state_dict(), path / "model.pt")
    (path / "config.json").write_text(json.dumps(config_to_dict(config), indent=2))
    (path / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (path / "thresholds.json").write_text(json.dumps(dict(zip(codes, map(float, thresholds))), indent=2))
    prototypes.to_csv(path / "prototypes.csv", index=False)
    np.savez_compressed(path / "prototype_sources.npz", signals=source_signals.astype(np.float32),
                        ecg_ids=np.asarray(source_ids, dtype=np.int64),
                        lead_shares=np.asarray(lead_shares, dtype=np.float32))
    (path / "fingerprint.json").write_text(json.dumps(fingerprint, indent=2))
    if quality is not None:          # protoecg.prototype_quality.QualityReport
        quality.table.to_csv(path / "prototype_quality.csv", index=False)
        quality.neighbours.to_csv(path / "prototype_neighbours.csv", index=False)
        np.savez_compressed(path / "prototype_neighbours.npz", **quality.signals)
        metrics = {**metrics, "prototype_quality": quality.summary}
    (path / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float))
    return path


def load_bundle(path: str | Path, device: str | torch.device = "cpu") -> Bundle:
    """Load a bundle; weights with ``weights_only=True`` and ``strict=True``."""
    path = Path(path)
    missing = [f for f in FILES if not (path / f).exists()]
    if missing:
        raise BundleError(f"{path} is not a complete model bundle (missing {', '.join(missing)}); "
                          "train one with `protoecg train`")
    manifest = json.loads((path / "manifest.json").read_text())
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {manifest.get('format_version')} is not supported "
                          f"(this version reads {FORMAT_VERSION})")
    config = load_config(path / "config.json")
    codes = tuple(manifest["codes"])
    branch_of = dict(manifest["branch_of"])
    model = build_model(config.model, codes, branch_of)
    state = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.to(device).eval()
    thr = json.loads((path / "thresholds.json").read_text())
    thresholds = np.array([thr[c] for c in codes], dtype=np.float64)
    table = read_prototype_table(path / "prototypes.csv")
    with np.load(path / "prototype_sources.npz", allow_pickle=False) as z:
        sources, source_ids, shares = z["signals"], z["ecg_ids"], z["lead_shares"]
    quality = neighbours = None
    nb_signals: dict[str, np.ndarray] = {}
    if (path / "prototype_quality.csv").exists():       # optional: bundles before the quality report lack it
        quality = pd.read_csv(path / "prototype_quality.csv", dtype={"prototype_id": str, "class": str})
        neighbours = pd.read_csv(path / "prototype_neighbours.csv", keep_default_na=False,
                                 dtype={"prototype_id": str, "labels": str})
        with np.load(path / "prototype_neighbours.npz", allow_pickle=False) as z:
            nb_signals = {k: z[k] for k in z.files}
    return Bundle(path=path, model=model, config=config, codes=codes, branch_of=branch_of,
                  thresholds=thresholds, prototypes=table, lead_shares=shares,
                  metrics=json.loads((path / "metrics.json").read_text()),
                  fingerprint=json.loads((path / "fingerprint.json").read_text()), manifest=manifest,
                  source_signals=sources, source_ids=source_ids, quality=quality, neighbours=neighbours,
                  neighbour_signals=nb_signals)
