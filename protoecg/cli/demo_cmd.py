"""``protoecg demo``: the whole pipeline on generated demo data (what ``make demo`` runs)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="generate the demo data and run the main job on it",
                       description="Generate synthetic PTB-XL data (the embedded demo) and summarise it. "
                                   "The demo data are generated ECGs, not patients.")
    p.add_argument("--data", default="demo_data", help="directory for the generated demo data")
    p.add_argument("--run", default="runs/demo", help="directory for the demo model run")
    p.add_argument("--n", type=int, default=4000, help="number of demo PTB-XL records")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    raise NotImplementedError("demo pipeline not wired yet")
