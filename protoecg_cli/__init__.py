"""The ``protoecg`` command: one CLI with subcommands.

Each subcommand group lives in its own module exposing ``register(subparsers)``; the command
functions import their heavy dependencies lazily so ``protoecg --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

log = logging.getLogger("protoecg")
EXIT_ERROR = 2   # a library error (bad data, configuration, bundle...): message on stderr, no traceback

# Order = order in --help.
_COMMAND_MODULES = (
    "protoecg_cli.demo_cmd",
    "protoecg_cli.data_cmd",
    "protoecg_cli.model_cmd",
    "protoecg_cli.crossval_cmd",
    "protoecg_cli.explain_cmd",
    "protoecg_cli.app_cmd",
    "protoecg_cli.infer_cmd",
    "protoecg_cli.phewas_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="protoecg",
        description="Interpretable 12-lead ECG analysis: data, prototype network, explanations, "
                    "review app and phenotype analysis.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from protoecg.errors import ProtoECGError
    try:
        return int(args.func(args) or 0)
    except (ProtoECGError, FileNotFoundError) as exc:
        # every error the library raises on purpose: one line, no traceback (-v logs the traceback)
        log.debug("command failed", exc_info=True)
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
