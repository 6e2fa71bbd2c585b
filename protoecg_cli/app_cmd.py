"""``protoecg app`` (the clinician review app) and ``protoecg ratings export``.

The app is a Streamlit script (``app/main.py``) started as a subprocess. The model run and the ratings
database travel to it through environment variables, so ``streamlit.testing`` and the real server
read them the same way.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from app.app_env import (  # noqa: F401  (re-exported for the app and tests)
    DATA_ENV, DB_ENV, DEFAULT_MAX_UPLOAD_MB, MAX_UPLOAD_ENV, MODEL_ENV, RESULTS_ENV, SURVIVAL_ENV,
)
from protoecg_cli.errors import CommandError


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``app`` and ``ratings`` to the ``protoecg`` parser."""
    p = sub.add_parser("app", help="start the clinician review app (Streamlit) on localhost",
                       description="Serve the review app for one model run. Binds to 127.0.0.1 unless "
                                   "--host says otherwise; ratings go to SQLite by default.")
    p.add_argument("--model", required=True, help="model run directory (a bundle)")
    p.add_argument("--db", default=None,
                   help="ratings database: SQLite file path or SQLAlchemy URL "
                        "(default: $PROTOECG_RATINGS_DB, else RUN/ratings.sqlite)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the app to the network)")
    p.add_argument("--phewas", "--results", dest="phewas", default=None,
                   help="directory written by `protoecg phewas` (default: RUN/phewas or RUN/../phewas)")
    p.add_argument("--survival", default=None,
                   help="directory written by `protoecg survival` (default: next to the PheWAS results)")
    p.add_argument("--data", default=None,
                   help="PTB-XL-layout data for the 'demo test set' source (default: the dataset the "
                        "model was trained on, when it is still there)")
    p.add_argument("--max-upload-mb", type=int, default=DEFAULT_MAX_UPLOAD_MB,
                   help=f"largest accepted upload in MB (default {DEFAULT_MAX_UPLOAD_MB})")
    p.set_defaults(func=run_app)

    r = sub.add_parser("ratings", help="clinician ratings: export",
                       description="Work with the ratings stored by the review app.")
    rsub = r.add_subparsers(dest="ratings_command", metavar="ACTION", required=True)
    e = rsub.add_parser("export", help="write ratings to a CSV file")
    e.add_argument("--db", required=True, help="SQLite file path or SQLAlchemy URL")
    e.add_argument("--out", required=True, help="CSV file to write")
    e.add_argument("--table", choices=("all", "prototypes", "cases"), default="all",
                   help="prototype ratings, case feedback, or both stacked with a 'kind' column "
                        "(default all)")
    e.set_defaults(func=run_export)


def app_script() -> Path:
    """Path of the Streamlit entry script shipped in the ``app`` package."""
    import app

    return Path(app.__file__).resolve().parent / "main.py"


def streamlit_command(host: str, port: int, max_upload_mb: int) -> list[str]:
    """The ``streamlit run`` command line (headless, no telemetry, no file watcher)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(app_script()),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.maxUploadSize", str(max_upload_mb),
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
        "--client.toolbarMode", "viewer",
    ]


def app_environment(model: str | os.PathLike[str], db: str | None, max_upload_mb: int,
                    phewas: str | None = None, survival: str | None = None,
                    data: str | None = None) -> dict[str, str]:
    """Environment for the app process: model run, ratings DB URL, upload limit, optional directories."""
    from protoecg.review.ratings import resolve_db_url

    run_dir = Path(model).expanduser().resolve()
    env = dict(os.environ)
    env[MODEL_ENV] = str(run_dir)
    env[DB_ENV] = resolve_db_url(db, default_dir=run_dir)
    env[MAX_UPLOAD_ENV] = str(max_upload_mb)
    for key, val in ((RESULTS_ENV, phewas), (SURVIVAL_ENV, survival), (DATA_ENV, data)):
        if val:
            env[key] = str(Path(val).expanduser().resolve())
    return env


def run_app(args: argparse.Namespace) -> int:
    run_dir = Path(args.model).expanduser()
    if not run_dir.is_dir():
        raise CommandError(f"model run {run_dir} does not exist (train one, or run `make demo`)")
    if not 1 <= args.port <= 65535:
        print(f"error: --port must be 1-65535, got {args.port}", file=sys.stderr)
        return 2
    if args.max_upload_mb < 1:
        print("error: --max-upload-mb must be at least 1", file=sys.stderr)
        return 2
    env = app_environment(run_dir, args.db, args.max_upload_mb, args.phewas, args.survival, args.data)
    shown = "localhost" if args.host in ("127.0.0.1", "localhost") else args.host
    print(f"protoecg review app: model {env[MODEL_ENV]}", flush=True)
    print(f"ratings database: {env[DB_ENV]}", flush=True)
    print(f"open http://{shown}:{args.port} in a browser (Ctrl+C stops the app)", flush=True)
    proc = subprocess.Popen(streamlit_command(args.host, args.port, args.max_upload_mb), env=env)
    # a SIGTERM to this process (a supervisor, `kill`) also stops the server instead of orphaning it
    signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        return 0


def run_export(args: argparse.Namespace) -> int:
    from protoecg.review.ratings import RatingsStore

    db = args.db
    if "://" not in db and not Path(db).expanduser().exists():
        raise CommandError(f"ratings database {db} does not exist")
    n = RatingsStore(db).export_csv(args.out, table=args.table)
    print(f"wrote {n} rows to {args.out}")
    return 0
