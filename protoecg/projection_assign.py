"""Which training ECG (and window) each prototype of a branch is projected onto.

Rule (default): prototypes are assigned greedily, most confident first, to the best (source ECG, window)
pair of their class that does not overlap (in input seconds) a window already given to another
prototype of the same class; a collision falls back to the next best window of the same ECG or the next
best ECG. ``unique=True`` is stricter: distinct source ECGs across the whole branch (falling back to the
class rule when the branch runs out of ECGs). A prototype with no free pair (its class has fewer
non-overlapping windows than prototypes) is *pruned*: not projected and flagged, never a repeat.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

PROJECTED, ABSENT, PRUNED = "projected", "absent_class", "pruned_duplicate"


@dataclass
class Assignment:
    """Per prototype: source index (-1: none), window index, similarity at that window, status."""

    source: np.ndarray
    window: np.ndarray
    similarity: np.ndarray
    status: list[str]
    n_avoided: int = 0          # prototypes whose own best match repeated a window already taken
    counts: dict = field(default_factory=dict)


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def assign(sims: np.ndarray, best: np.ndarray, allowed: np.ndarray, proto_class: np.ndarray,
           spans: list[tuple[float, float]], map_of: Callable[[int], np.ndarray] | None,
           unique: bool = False) -> Assignment:
    """Assign prototypes to (ECG, window) pairs.

    ``sims``/``best`` (N, P): pooled similarity and best window of every ECG to every prototype;
    ``allowed`` (N, P): the ECG carries the prototype's class; ``spans[w]``: input interval of window w;
    ``map_of(n)`` -> (P, W) similarity map of ECG ``n`` (None when a branch has a single window).
    """
    n_ecg, n_p = sims.shape
    masked = np.where(allowed, sims, -np.inf)
    res = Assignment(np.full(n_p, -1, np.int64), np.full(n_p, -1, np.int64), np.full(n_p, np.nan),
                     [ABSENT] * n_p)
    taken: dict[tuple[int, int], list[int]] = {}
    used: set[int] = set()
    cache: dict[int, np.ndarray] = {}

    def free_windows(c: int, n: int) -> list[int]:
        t = taken.get((c, n), [])
        return [w for w in range(len(spans)) if not any(_overlap(spans[w], spans[x]) for x in t)]

    def best_pair(p: int, order: np.ndarray, skip: set[int]) -> tuple[int, int, float] | None:
        c = int(proto_class[p])
        found: tuple[int, int, float] | None = None
        for n in order:
            n = int(n)
            if found is not None and masked[n, p] <= found[2]:
                break                                   # no later ECG can beat what is found
            if n in skip:
                continue
            if (c, n) not in taken:
                return n, int(best[n, p]), float(masked[n, p])
            if map_of is None:
                continue
            ok = free_windows(c, n)
            if not ok:
                continue
            if n not in cache:
                cache[n] = map_of(n)
            m = cache[n][p]
            w = ok[int(np.argmax(m[ok]))]
            if found is None or m[w] > found[2]:
                found = (n, w, float(m[w]))
        return found

    for p in np.argsort(-masked.max(axis=0), kind="stable"):
        p = int(p)
        k = int(allowed[:, p].sum())
        if k == 0:
            continue
        order = np.argsort(-masked[:, p], kind="stable")[:k]
        c, n0 = int(proto_class[p]), int(order[0])
        if (c, n0) in taken and int(best[n0, p]) not in free_windows(c, n0):
            res.n_avoided += 1
        pick = best_pair(p, order, used) if unique else None
        if pick is None:
            pick = best_pair(p, order, set())
        if pick is None:
            res.status[p] = PRUNED
            continue
        n, w, s = pick
        res.source[p], res.window[p], res.similarity[p], res.status[p] = n, w, s, PROJECTED
        taken.setdefault((c, n), []).append(w)
        used.add(n)
    res.counts = {"n_projected": int((res.source >= 0).sum()),
                  "n_distinct_sources": int(len(set(res.source[res.source >= 0].tolist()))),
                  "n_duplicates_avoided": int(res.n_avoided),
                  "n_pruned_duplicates": int(sum(s == PRUNED for s in res.status)),
                  "n_absent_class": int(sum(s == ABSENT for s in res.status))}
    return res
