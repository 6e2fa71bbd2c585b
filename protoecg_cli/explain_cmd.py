"""``protoecg explain``, ``explain-eval`` and ``report``: explanations from the command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from protoecg.provenance import DEMO_DISCLAIMER


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands to the ``protoecg`` parser."""
    p = sub.add_parser(
        "explain", help="explain one ECG: predictions, prototype evidence, a counterfactual",
        description="Predict the 71 PTB-XL statements for one WFDB record and explain them: the prototypes "
                    "contributing most to each positive (or requested) label with the matched window and "
                    "leads, a counterfactual that flips one label, optional Captum attributions.")
    p.add_argument("--model", required=True, help="model bundle directory")
    p.add_argument("--record", required=True,
                   help="ECG file: WFDB record (with or without .hea), GE MUSE / Philips / HL7 aECG XML, DICOM "
                        "ECG waveform or EDF (the format is read from the content)")
    p.add_argument("--label", action="append", default=None,
                   help="explain this code (repeatable; default: every positive label). The first one "
                        "is also the counterfactual's label")
    p.add_argument("--direction", choices=("to_positive", "to_negative"), default=None,
                   help="counterfactual direction (default: flip the current decision)")
    p.add_argument("--no-counterfactual", action="store_true", help="skip the counterfactual search")
    p.add_argument("--donors", default=None,
                   help="PTB-XL-layout directory whose training folds form the counterfactual donor bank "
                        "(cached in the bundle; default: a cached bank, else the prototypes' source ECGs)")
    _cells_option(p)
    p.add_argument("--attributions", action="store_true",
                   help="add Integrated Gradients and Grad-CAM (in --html; JSON lists their summary)")
    p.add_argument("--json", action="store_true", help="print the explanation as JSON")
    p.add_argument("--html", default=None, metavar="OUT", help="also write a self-contained HTML report")
    p.add_argument("--pdf", default=None, metavar="OUT",
                   help="also write a one-page clinical PDF: true-scale ECG (25 mm/s, 10 mm/mV), predictions, "
                        "top prototype evidence, research-use disclaimer")
    p.set_defaults(func=run_explain)

    e = sub.add_parser(
        "explain-eval", help="evaluate counterfactuals over held-out ECGs",
        description="Counterfactual validity, time, fraction of the signal changed, leads changed and "
                    "plausibility (vs random substitutions of the same size) over a held-out PTB-XL fold.")
    e.add_argument("--model", required=True, help="model bundle directory")
    e.add_argument("--ptbxl", required=True, help="PTB-XL-layout directory (training folds = donor bank)")
    e.add_argument("--fold", type=int, default=10, help="held-out fold (default 10)")
    e.add_argument("--n", type=int, default=50, help="number of held-out ECGs (default 50; 0 = all)")
    e.add_argument("--seed", type=int, default=0, help="seed of the ECG subset and the random comparator")
    e.add_argument("--csv", default=None, help="write the per-case table to this CSV")
    _cells_option(e)
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.set_defaults(func=run_eval)

    r = sub.add_parser(
        "report", help="write one self-contained HTML explanation per record, an index and a summary",
        description="Batch reports: OUT/<record>.html (Plotly embedded, opens offline), OUT/index.html and "
                    "OUT/summary.csv. Resumable (finished records are skipped); bad records are listed "
                    "in the index with their reason.")
    r.add_argument("--model", required=True, help="model bundle directory")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--records", help="directory of ECG files (WFDB, MUSE/Philips/aECG XML, DICOM, EDF), or a "
                                       "text file listing their paths")
    src.add_argument("--ptbxl", help="PTB-XL-layout directory: report records of --fold")
    r.add_argument("--fold", type=int, default=10, help="with --ptbxl: the fold to report (default 10)")
    r.add_argument("--limit", type=int, default=None, help="report at most this many records")
    r.add_argument("--donors", default=None,
                   help="PTB-XL-layout directory whose training folds form the donor bank "
                        "(default: the --ptbxl directory, else the bundle's prototype sources)")
    r.add_argument("--out", required=True, help="output directory")
    r.add_argument("--no-attributions", action="store_true", help="skip Captum attributions")
    _cells_option(r)
    r.add_argument("--no-resume", action="store_true", help="redo records already finished")
    r.add_argument("--no-pdf", action="store_true", help="skip the one-page PDF beside each HTML page")
    r.set_defaults(func=run_report)


def _cells_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cf-cells", choices=("lead_group", "lead", "all"), default="lead_group",
                   help="counterfactual cells across leads: an anatomical lead group (default), a single lead "
                        "(smallest change), or all 12 leads (whole beats)")


def _load(model: str):
    import torch

    from protoecg.bundle import load_bundle
    torch.set_num_threads(2)
    return load_bundle(model)


def _explainer(bundle, ptbxl: str | None, cells: str = "lead_group"):
    """An Explainer whose donor bank comes from ``ptbxl``'s training folds (stored beside the bundle)."""
    import logging

    from protoecg.explain import CFConfig, Explainer
    from protoecg.explain.donors import bank_from_ptbxl, load_bank, save_bank

    ex = Explainer(bundle, cf_config=CFConfig(cells=cells))
    if ptbxl:
        bank = load_bank(bundle, fusion=ex.builder.fusion)
        if bank is None or bank.labels is None:
            bank = bank_from_ptbxl(bundle, ptbxl, fusion=ex.builder.fusion)
            try:
                save_bank(bank, bundle)
            except OSError as exc:   # a read-only bundle still works, just without the cache
                logging.getLogger(__name__).warning("could not store the donor bank: %s", exc)
        ex.use_bank(bank)
    return ex


def run_explain(args: argparse.Namespace) -> int:
    from data_access.formats import read_any
    from protoecg.reports import render_record_html, write_clinical_pdf

    bundle = _load(args.model)
    ex = _explainer(bundle, args.donors, args.cf_cells)
    rec = read_any(args.record)
    expl = ex.explain(rec, labels=args.label, counterfactual=not args.no_counterfactual,
                      attributions=args.attributions, direction=args.direction)
    if args.html:
        out = Path(args.html)
        out.parent.mkdir(parents=True, exist_ok=True)
        pdf_href = (Path(args.pdf).name if Path(args.pdf).parent.resolve() == out.parent.resolve() else
                    Path(args.pdf).resolve().as_uri()) if args.pdf else None
        out.write_text(render_record_html(expl, pdf_href=pdf_href), encoding="utf-8")
    if args.pdf:
        write_clinical_pdf(expl, args.pdf, signal=rec.signal, fs=rec.fs, record_meta=rec.metadata)
    if args.json:
        print(json.dumps(expl.to_json(), indent=2))
        return 0
    if expl.is_demo:
        print(f"NOTE: {expl.banner or DEMO_DISCLAIMER}.")
    print(f"record {expl.record_id}: positive {', '.join(expl.positive_labels) or '(none)'}")
    for label, items in expl.evidence.items():
        print(f"  {label}:")
        for e in items:
            print(f"    {e.prototype_id:<24} {e.branch:<10} sim {e.similarity:.3f} contrib {e.contribution:+.3f} "
                  f"window {e.window_s[0]:.2f}-{e.window_s[1]:.2f} s leads {','.join(e.leads) or 'all'} "
                  f"source ECG {e.source_ecg_id}")
    cf = expl.counterfactual
    if cf:
        print(f"  counterfactual {cf.label} {cf.direction}: valid={cf.valid} leads={','.join(cf.leads_changed)} "
              f"changed {cf.fraction_changed:.1%} of the signal ({cf.seconds_changed:.1f} s), "
              f"{cf.model_calls} model calls, {cf.seconds:.2f} s")
    if rec.derived_leads:
        print(f"  leads {', '.join(rec.derived_leads)} were derived from I and II (the file did not carry them)")
    if args.html:
        print(f"  HTML: {args.html}")
    if args.pdf:
        print(f"  PDF: {args.pdf}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from protoecg.explain.evaluate import evaluate_counterfactuals, held_out

    bundle = _load(args.model)
    ex = _explainer(bundle, args.ptbxl, args.cf_cells)
    x, ids = held_out(bundle, args.ptbxl, args.fold, args.n or None, args.seed)
    df, summary = evaluate_counterfactuals(ex, x, ids, seed=args.seed)
    if args.csv:
        df.to_csv(args.csv, index=False)
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
        return 0
    if bundle.is_demo:
        print(f"NOTE: {bundle.disclaimer or DEMO_DISCLAIMER}.")
    s = summary
    print(f"{s.n_cases} counterfactual searches on {s.n_ecgs} ECGs of fold {args.fold} (donors: {s.donor_bank}); "
          f"{s.skipped_no_donor} (ECG, direction) case(s) had no label with a donor on the target side")
    print(f"  validity {s.validity:.1%} (to negative {_pct(s.validity_to_negative)}, to positive "
          f"{_pct(s.validity_to_positive)}); published prototype-guided: 81%")
    print(f"  time per search: median {s.median_seconds:.2f} s, p95 {s.p95_seconds:.2f} s "
          f"(set-up {s.setup_seconds:.1f} s once)")
    print(f"  changed (valid ones): median {s.median_fraction_changed:.1%} of the signal "
          f"(published prototype-guided: 78%), {s.median_leads_changed:.0f} leads, {s.median_seconds_changed:.1f} s")
    print(f"  plausibility (latent distance to nearest training ECG, lower = more typical): counterfactual "
          f"{s.median_plausibility:.3f}, original {s.median_plausibility_original:.3f}, random cells of the "
          f"same size {s.median_plausibility_random:.3f} (random validity {s.random_validity:.1%})")
    print(f"  same donor, random cell order until the label flips: median {s.median_fraction_random_flip:.1%} "
          f"changed, plausibility {s.median_plausibility_random_flip:.3f}")
    return 0


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.1%}"


def run_report(args: argparse.Namespace) -> int:
    from protoecg.reports import find_records, write_reports

    bundle = _load(args.model)
    ex = _explainer(bundle, args.donors or args.ptbxl, args.cf_cells)
    refs: dict[str, tuple[str, ...]] = {}
    if args.ptbxl:
        from data_access.ptbxl import read_metadata
        meta = read_metadata(args.ptbxl)
        meta = meta[meta["strat_fold"] == args.fold]
        col = "filename_lr" if int(bundle.fs) == 100 else "filename_hr"
        records = [Path(args.ptbxl) / f for f in meta[col]]
        refs = {Path(f).name: tuple(d) for f, d in zip(meta[col], meta["scp"])}
    else:
        records = find_records(args.records)
    if args.limit:
        records = records[: args.limit]

    def explain(path: Path):
        return ex.explain(path, counterfactual=True, attributions=not args.no_attributions,
                          reference_labels=refs.get(path.name, ()))

    run = write_reports(records, explain, args.out, resume=not args.no_resume,
                        progress=sys.stderr.isatty(), title=f"protoecg explanations — {Path(args.model).name}",
                        pdf=not args.no_pdf)
    print(f"{len(run.written)} report(s) written, {len(run.skipped)} already done, {len(run.bad)} bad record(s); "
          f"index: {run.index_path}")
    for b in run.bad:
        print(f"  bad: {b['record']}: {b['reason']}")
    return 0
