"""Realism bench: generated PTB-XL records against the real PTB-XL 300, distribution by distribution.

Generates ``--n`` records with ``synth-ptbxl`` (:func:`generate_ptbxl`, seed ``--seed``), reads them and
the real records through the same reader (100 Hz WFDB, no high-pass), and compares (see
:mod:`data_access.synth.realism`):

- per-lead power spectra: mean |log10 PSD| difference and Wasserstein-1 (Hz) of the mean unit-power
  Welch spectra (mean over the 12 leads);
- intervals measured by NeuroKit2 on both sets (heart rate, PR, QRS, QT, frontal axis): median [IQR] and
  Wasserstein-1 in robust z units of the real set;
- per-lead Q, R, S, T amplitudes: Wasserstein-1 (mV), mean over the 12 leads;
- MMD^2 (RBF, median heuristic) between the standardised feature vectors.

Every figure has a reference computed in the same run: the real set split at random into two halves A
and B; "real B vs A" is the floor that sampling noise alone gives, "generated vs real A" uses a
generated sample of the same size as B. ``--subset NORM`` repeats it on the NORM records of both sets;
``--by-label`` prints per-statement medians of the features, real vs generated.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_synth_realism.py [--n 300] [--seed 0]
        [--subset all NORM] [--by-label IMI ASMI LAFB ...] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REAL = ROOT / "data" / "ptbxl_real"
LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def compare(gen_x: np.ndarray, gen_f: np.ndarray, real_x: np.ndarray, real_f: np.ndarray,
            names: list[str], fs: float, rng: np.random.Generator) -> dict[str, dict[str, float]]:
    """{metric: {"floor": real B vs real A, "generated": generated vs real A}} for one pair of sets."""
    from data_access.synth.realism import (INTERVALS, mmd_features, mmd_rbf, psd_distance, psd_wasserstein,
                                           standardise, wasserstein_1d, welch_log_psd)

    perm = rng.permutation(len(real_x))
    a, b = perm[: len(perm) // 2], perm[len(perm) // 2:]
    g = rng.permutation(len(gen_x))[: len(b)]
    f, psd_a = welch_log_psd(real_x[a], fs)
    _, psd_b = welch_log_psd(real_x[b], fs)
    _, psd_g = welch_log_psd(gen_x[g], fs)
    out: dict[str, dict[str, float]] = {}
    out["psd |dlog10|"] = {"floor": float(psd_distance(psd_b, psd_a).mean()),
                           "generated": float(psd_distance(psd_g, psd_a).mean())}
    out["psd W1 (Hz)"] = {"floor": float(psd_wasserstein(f, psd_b, psd_a).mean()),
                          "generated": float(psd_wasserstein(f, psd_g, psd_a).mean())}
    za, zb, zg = standardise(real_f[a], real_f[b], gen_f[g])
    for k in INTERVALS:
        i = names.index(k)
        out[f"{k} W1 (z)"] = {"floor": wasserstein_1d(zb[:, i], za[:, i]),
                              "generated": wasserstein_1d(zg[:, i], za[:, i])}
    for wave in ("q", "r", "s", "t"):
        cols = [names.index(f"{wave}_{j}") for j in range(12)]
        out[f"{wave.upper()} amplitude W1 (mV)"] = {
            "floor": float(np.nanmean([wasserstein_1d(real_f[b][:, c], real_f[a][:, c]) for c in cols])),
            "generated": float(np.nanmean([wasserstein_1d(gen_f[g][:, c], real_f[a][:, c]) for c in cols]))}
    ma, mb, mg = (mmd_features(names, m) for m in (real_f[a], real_f[b], gen_f[g]))
    sa, sb, sg = standardise(ma, mb, mg)
    out["MMD^2 features"] = {"floor": mmd_rbf(sb, sa), "generated": mmd_rbf(sg, sa)}
    out["n (A / B / generated)"] = {"floor": float(len(a)), "generated": float(len(g))}
    return out


def describe(names: list[str], feats: np.ndarray, keys: list[str]) -> dict[str, str]:
    out = {}
    for k in keys:
        v = feats[:, names.index(k)]
        v = v[np.isfinite(v)]
        out[k] = "n/a" if not len(v) else f"{np.median(v):.2f} [{np.percentile(v, 25):.2f}, {np.percentile(v, 75):.2f}]"
    return out



BY_LABEL_KEYS = ["hr_bpm", "pr_ms", "qrs_ms", "qt_ms", "axis_deg", "q_1", "q_2", "q_5", "r_2", "r_5",
                 "r_6", "r_7", "r_8", "s_6", "s_7", "q_6", "q_7", "r_0", "s_1", "t_1", "t_7", "t_9", "t_10"]
NICE = {f"{w}_{i}": f"{w.upper()} {LEADS[i]}" for w in "qrst" for i in range(12)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the real-half split and subsampling")
    ap.add_argument("--real", type=Path, default=DEFAULT_REAL)
    ap.add_argument("--subset", nargs="+", default=["all", "NORM"])
    ap.add_argument("--by-label", nargs="*", default=[])
    ap.add_argument("--synth-dir", type=Path, default=None, help="use this generated dataset instead")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    from data_access.ptbxl import load_ptbxl
    from data_access.synth.ptbxl import SynthConfig, generate_ptbxl
    from data_access.synth.realism import INTERVALS, feature_matrix

    tmp = None
    t0 = time.perf_counter()
    if args.synth_dir is None:
        tmp = Path(tempfile.mkdtemp(prefix="bench_realism_"))
        synth_dir = tmp / "ptbxl"
        generate_ptbxl(synth_dir, config=SynthConfig(n=args.n, seed=args.seed, workers=1))
    else:
        synth_dir = args.synth_dir
    gen_s = time.perf_counter() - t0
    try:
        gen = load_ptbxl(synth_dir, fs=100, preprocess=False, cache_dir=False)
        real = load_ptbxl(args.real, fs=100, preprocess=False)
        t1 = time.perf_counter()
        names, gen_f = feature_matrix(gen.signals, 100.0)
        _, real_f = feature_matrix(real.signals, 100.0)
        meas_s = time.perf_counter() - t1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"real: {len(real.ecg_ids)} records from {args.real}; generated: {len(gen.ecg_ids)} "
          f"(seed {args.seed}, {gen_s:.1f} s); NeuroKit2 features of both in {meas_s:.0f} s; "
          f"split seed {args.split_seed}")
    result: dict = {"n_real": int(len(real.ecg_ids)), "n_generated": int(len(gen.ecg_ids)),
                    "seed": args.seed, "split_seed": args.split_seed, "subsets": {}, "by_label": {}}
    for sub in args.subset:
        if sub == "all":
            gm, rm = np.ones(len(gen.ecg_ids), bool), np.ones(len(real.ecg_ids), bool)
        else:
            j = real.codes.index(sub)
            gm, rm = gen.labels[:, j] == 1, real.labels[:, j] == 1
        if gm.sum() < 4 or rm.sum() < 8:
            print(f"\n[{sub}] too few records (generated {gm.sum()}, real {rm.sum()}); skipped")
            continue
        res = compare(gen.signals[gm], gen_f[gm], real.signals[rm], real_f[rm], names, 100.0,
                      np.random.default_rng(args.split_seed))
        res_desc = {"real": describe(names, real_f[rm], list(INTERVALS)),
                    "generated": describe(names, gen_f[gm], list(INTERVALS))}
        result["subsets"][sub] = {"metrics": res, "intervals": res_desc}
        print(f"\n[{sub}] generated {int(gm.sum())} vs real {int(rm.sum())} records")
        print(f"  {'metric':<26} {'real B vs A (floor)':>20} {'generated vs A':>15} {'ratio':>7}")
        for k, v in res.items():
            ratio = v["generated"] / v["floor"] if v["floor"] > 0 else float("nan")
            r = "" if k.startswith("n ") else f"{ratio:7.2f}"
            print(f"  {k:<26} {v['floor']:>20.4f} {v['generated']:>15.4f} {r:>7}")
        print(f"  {'median [IQR]':<26} {'real':>30} {'generated':>30}")
        for k in INTERVALS:
            print(f"  {k:<26} {res_desc['real'][k]:>30} {res_desc['generated'][k]:>30}")
    for code in args.by_label:
        j = real.codes.index(code)
        gm, rm = gen.labels[:, j] == 1, real.labels[:, j] == 1
        d = {"n_real": int(rm.sum()), "n_generated": int(gm.sum()),
             "real": describe(names, real_f[rm], BY_LABEL_KEYS),
             "generated": describe(names, gen_f[gm], BY_LABEL_KEYS)}
        result["by_label"][code] = d
        print(f"\n[{code}] real n={d['n_real']}, generated n={d['n_generated']}: median [IQR]")
        for k in BY_LABEL_KEYS:
            print(f"  {NICE.get(k, k):<10} {d['real'][k]:>28} {d['generated'][k]:>28}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
