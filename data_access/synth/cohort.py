"""The synthetic cohort: patients (age, sex, several records for some), their codes, and folds.

Co-occurrence follows clinical sense rather than independence:
- chronic findings (old MI, bundle-branch and fascicular blocks, LVH, low voltage) belong to the patient
  and recur in each of their records; rhythm and acute/repolarisation findings are drawn per record;
- degenerative findings (AFIB, MI, LVH, CLBBB, DIG) become more frequent with age;
- exactly one base rhythm (SR, SBRAD, STACH, SARRH, AFLT or AFIB; sinus arrhythmia more frequent when young); 1AVB only with sinus rhythm (not with AFIB);
- CLBBB excludes CRBBB, IRBBB, LAFB, LVH, MI and ST-T codes (its own ST-T changes are secondary); LVH excludes
  LVOLT; LAFB is more frequent with LVH; DIG is frequent with AFIB (rate control);
- acute ST elevation and T inversion follow an infarct's territory; at most one of STE_/STD_/DIG;
- NORM exactly when no abnormal code is present (it may accompany SR, SBRAD, STACH or SARRH).
Folds 1-10 are assigned per patient by greedy iterative stratification over the codes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHRONIC = ("IMI", "ASMI", "CLBBB", "CRBBB", "IRBBB", "LAFB", "LVH", "LVOLT")
AGE_DEPENDENT = frozenset({"AFIB", "AFLT", "IMI", "ASMI", "LVH", "CLBBB", "DIG", "1AVB"})

# Target record-level prevalences (before exclusions; see README table for the realised ones).
DEFAULT_PREVALENCE: dict[str, float] = {
    "AFIB": 0.08, "AFLT": 0.03, "SBRAD": 0.07, "STACH": 0.08, "SARRH": 0.05, "1AVB": 0.07, "PVC": 0.06,
    "IMI": 0.10, "ASMI": 0.08, "CLBBB": 0.05, "CRBBB": 0.05, "LAFB": 0.06, "LVH": 0.09, "LVOLT": 0.05,
    "STE_": 0.05, "STD_": 0.06, "INVT": 0.06, "DIG": 0.04, "EL": 0.04, "IRBBB": 0.05, "NDT": 0.07,
}


@dataclass(frozen=True)
class RecordPlan:
    """What one record will show; the signal is made from this plus the record's own random stream."""

    patient_id: int
    visit: int
    age: int
    sex: int
    labels: frozenset[str]
    territories: tuple[tuple[str, str], ...]
    day_offset: float


def _age_mult(age: float) -> float:
    """Relative risk of degenerative findings; ~1 on average over the PTB-XL-like age distribution."""
    return float(np.clip(0.25 + (age - 25) / 45, 0.25, 1.9))


def _records_per_patient(rng: np.random.Generator, n: int) -> list[int]:
    counts: list[int] = []
    total = 0
    while total < n:
        k = int(rng.choice([1, 2, 3, 4], p=[0.85, 0.1, 0.04, 0.01]))
        k = min(k, n - total)
        counts.append(k)
        total += k
    return counts


def _chronic(rng: np.random.Generator, prev: dict[str, float], age: float) -> set[str]:
    m = _age_mult(age)
    out = {c for c in CHRONIC if rng.random() < prev.get(c, 0.0) * (m if c in AGE_DEPENDENT else 1.0)}
    if "CLBBB" in out:
        out -= {"CRBBB", "LAFB", "LVH", "IMI", "ASMI"}
    if "CRBBB" in out or "CLBBB" in out:
        out.discard("IRBBB")
    if "LVH" in out:
        out.discard("LVOLT")
        if rng.random() < 0.2:
            out.add("LAFB")
    return out


def _record_codes(rng: np.random.Generator, prev: dict[str, float], age: float,
                  chronic: set[str]) -> set[str]:
    m = _age_mult(age)
    labels = set(chronic)
    p_af = prev.get("AFIB", 0.0) * m
    p_fl = prev.get("AFLT", 0.0) * m
    young = 1.6 - 0.6 * min(m, 1.6)      # tachycardia and sinus arrhythmia are commoner when young
    cuts = np.cumsum([p_af, p_fl, prev.get("SBRAD", 0.0), prev.get("STACH", 0.0) * young,
                      prev.get("SARRH", 0.0) * young])
    names = ("AFIB", "AFLT", "SBRAD", "STACH", "SARRH")
    u = rng.random()
    rhythm = next((r for r, c in zip(names, cuts) if u < c), "SR")
    labels.add(rhythm)
    if rhythm in ("SR", "SBRAD") and rng.random() < prev.get("1AVB", 0.0) * m / 0.85:
        labels.add("1AVB")
    if rng.random() < prev.get("PVC", 0.0):
        labels.add("PVC")
    p_dig = 0.3 if rhythm in ("AFIB", "AFLT") else max(prev.get("DIG", 0.0) * m - 0.3 * p_af, 0.0) / (1 - p_af)
    if rng.random() < p_dig:
        labels.add("DIG")
    elif rng.random() < prev.get("EL", 0.0):
        labels.add("EL")
    mi = labels & {"IMI", "ASMI"}
    if "CLBBB" not in labels:
        if "DIG" not in labels:
            u = rng.random()
            p_ste = prev.get("STE_", 0.0) * (3.0 if mi else 0.75)
            if u < p_ste:
                labels.add("STE_")
            elif u < p_ste + prev.get("STD_", 0.0):
                labels.add("STD_")
        if rng.random() < prev.get("INVT", 0.0) * (2.5 if mi else 0.8):
            labels.add("INVT")
        elif rng.random() < prev.get("NDT", 0.0):
            labels.add("NDT")
    abnormal = labels - {"SR", "SBRAD", "STACH", "SARRH"}
    if not abnormal:
        labels.add("NORM")
    return labels


def plan_cohort(rng: np.random.Generator, n: int, prevalence: dict[str, float] | None = None) -> list[RecordPlan]:
    """Plans for ``n`` records (patients in order; shuffled into recording order by the caller)."""
    prev = dict(DEFAULT_PREVALENCE if prevalence is None else prevalence)
    plans: list[RecordPlan] = []
    counts = _records_per_patient(rng, n)
    pids = rng.choice(np.arange(1, 20 * len(counts) + 1), size=len(counts), replace=False)
    from .ecg import choose_territories

    for pid, k in zip(pids, counts):
        age0 = float(np.clip(rng.normal(61, 17), 18, 95))
        sex = int(rng.random() < 0.48)
        chronic = _chronic(rng, prev, age0)
        day = 0.0
        for visit in range(k):
            age = min(age0 + day / 365.25, 95)
            labels = _record_codes(rng, prev, age, chronic)
            ter = choose_territories(labels, rng)
            plans.append(RecordPlan(int(pid), visit, int(age), sex, frozenset(labels),
                                    tuple(sorted(ter.items())), day))
            day += float(rng.uniform(1, 900))
    return plans


def assign_folds(rng: np.random.Generator, patient_ids: np.ndarray, label_sets: list[frozenset[str]],
                 n_folds: int = 10) -> np.ndarray:
    """Fold 1..n_folds per record: all records of a patient in one fold, codes balanced across folds.

    Greedy iterative stratification: patients are taken rarest code first and each goes to the fold
    that is furthest below its share for the patient's codes and for the number of records.
    """
    codes = sorted({c for s in label_sets for c in s})
    cidx = {c: i for i, c in enumerate(codes)}
    uniq, inv = np.unique(patient_ids, return_inverse=True)
    pat_y = np.zeros((len(uniq), len(codes)))
    for r, s in enumerate(label_sets):
        for c in s:
            pat_y[inv[r], cidx[c]] += 1
    pat_n = np.bincount(inv, minlength=len(uniq)).astype(float)
    totals = pat_y.sum(axis=0)
    share = np.maximum(totals / n_folds, 1e-9)
    rarity = np.where(pat_y > 0, totals[None], np.inf).min(axis=1)
    order = np.lexsort((rng.random(len(uniq)), rarity))
    fill = np.zeros((n_folds, len(codes)))
    fill_n = np.zeros(n_folds)
    share_n = len(patient_ids) / n_folds
    pat_fold = np.zeros(len(uniq), dtype=int)
    for p in order:
        has = pat_y[p] > 0
        score = (fill[:, has] / share[has]).sum(axis=1) + fill_n / share_n
        best = np.flatnonzero(score <= score.min() + 1e-12)
        f = int(best[int(rng.integers(len(best)))])
        pat_fold[p] = f
        fill[f] += pat_y[p]
        fill_n[f] += pat_n[p]
    return pat_fold[inv] + 1
