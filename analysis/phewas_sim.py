"""Simulated PheWAS inputs with planted associations (for tests, the benchmark and quick experiments).

The shapes mirror the real pipeline: a feature table indexed by ``study_id`` (prototype similarities
``sim_*`` and class probabilities ``prob_*``), a phenotype table (1 case / 0 control / NaN excluded), a
units table with age, sex, subject_id, and a ground truth of (signature, phecode) pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class SimulatedPheWAS:
    features: pd.DataFrame
    phenotypes: pd.DataFrame
    units: pd.DataFrame
    phecode_info: pd.DataFrame
    prototypes: pd.DataFrame
    ground_truth: pd.DataFrame


def simulate_phewas(n_units: int = 2000, n_classes: int = 6, protos_per_class: int = 3,
                    n_phecodes: int = 20, n_planted: int = 4, effect: float = 0.8, prevalence: float = 0.1,
                    exclude_frac: float = 0.05, seed: int = 0, dtype: type = np.float64) -> SimulatedPheWAS:
    """Units with latent class signals; phecode ``P{i}`` for i < n_planted depends on class ``C{i}``."""
    rng = np.random.default_rng(seed)
    ids = pd.Index(np.arange(10_000_000, 10_000_000 + n_units), name="study_id")
    age = rng.uniform(20, 90, n_units)
    sex = rng.integers(0, 2, n_units).astype(float)
    latent = rng.standard_normal((n_units, n_classes))
    cols, protos = {}, []
    for c in range(n_classes):
        cols[f"prob_C{c}"] = 1.0 / (1.0 + np.exp(-(2.0 * latent[:, c] - 1.0)))
        for k in range(protos_per_class):
            pid = c * protos_per_class + k
            noise = rng.standard_normal(n_units)
            w = 0.9 if k == 0 else 0.4  # the first prototype of a class tracks it closely
            cols[f"sim_{pid}"] = w * latent[:, c] + np.sqrt(1 - w * w) * noise
            protos.append({"prototype_id": pid, "branch": "morphology", "class": f"C{c}"})
    features = pd.DataFrame(cols, index=ids).astype(dtype)
    pheno, info, truth = {}, [], []
    base = np.log(prevalence / (1 - prevalence))
    for i in range(n_phecodes):
        code = f"{100 + i}.1"
        eta = base + 0.01 * (age - 55) + 0.2 * sex
        if i < n_planted:
            eta = eta + effect * latent[:, i % n_classes]
        y = (rng.uniform(size=n_units) < 1 / (1 + np.exp(-eta))).astype(float)
        y[rng.uniform(size=n_units) < exclude_frac] = np.nan
        pheno[code] = y
        info.append({"phecode": code, "description": f"simulated phenotype {i}",
                     "category": ["circulatory system", "endocrine/metabolic", "respiratory"][i % 3]})
        truth.append({"signature": f"C{i % n_classes}", "phecode": code, "planted": i < n_planted,
                      "effect": effect if i < n_planted else 0.0})
    units = pd.DataFrame({"subject_id": rng.integers(1, max(2, n_units // 2), n_units), "age": age,
                          "sex": sex}, index=ids)
    return SimulatedPheWAS(features=features, phenotypes=pd.DataFrame(pheno, index=ids), units=units,
                           phecode_info=pd.DataFrame(info), prototypes=pd.DataFrame(protos),
                           ground_truth=pd.DataFrame(truth))


def label_features(labels: pd.DataFrame, codes: tuple[str, ...] = ("AFIB", "CLBBB", "LVOLT", "IMI", "NORM", "SR",
                                                                   "STACH", "LVH"),
                   protos_per_class: int = 3, signal: float = 2.0, seed: int = 0
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stand-in feature table from the labels an ECG was synthesised with (``ecg_labels.csv``).

    For pipeline tests when no trained model is at hand: ``prob_<code>`` is a noisy logistic function of
    the label and each of a class's ``sim_`` prototypes tracks the label with decreasing fidelity (the
    last one is pure noise, so some prototypes of a class disagree). Returns (features indexed by
    study_id, prototype table with prototype_id, branch, class).
    """
    rng = np.random.default_rng(seed)
    lab = labels.set_index("study_id")["labels"].fillna("").astype(str).str.split()
    n = len(lab)
    cols, protos = {}, []
    for c_i, code in enumerate(codes):
        has = lab.map(lambda s, code=code: code in s).to_numpy(dtype=float)
        cols[f"prob_{code}"] = 1 / (1 + np.exp(-(signal * 2 * (has - 0.5) + rng.standard_normal(n))))
        for k in range(protos_per_class):
            pid = c_i * protos_per_class + k
            fidelity = max(0.0, 1.0 - k / max(protos_per_class - 1, 1))
            cols[f"sim_{pid}"] = fidelity * signal * has + rng.standard_normal(n)
            protos.append({"prototype_id": pid, "branch": "morphology", "class": code})
    feats = pd.DataFrame(cols, index=pd.Index(lab.index.astype("int64"), name="study_id"))
    return feats, pd.DataFrame(protos)
