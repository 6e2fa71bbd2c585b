"""Clinician ratings store: prototype ratings and case-level feedback in SQLite or any SQLAlchemy URL.

Why the details matter:

- Several reviewers may rate at the same time (several Streamlit sessions, or several app processes
  on one SQLite file). SQLite runs in WAL mode with a generous busy timeout, and every write retries
  on "database is locked", so no rating is lost.
- Every submission carries a client-generated UUID (``submission_id``) with a UNIQUE constraint: a
  retried or double-clicked submission is stored once, never twice.
- Timestamps are UTC; the reviewer's name is required.

The form fields follow the clinician rating form of the ProtoECGNet reference study: accurate yes/no
(with a suggested alternative class when "no"), representativeness 1-5, clarity 1-5, a free-text
comment, and "best"/"bad" flags.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from protoecg.errors import RatingError, RatingsStoreError  # noqa: F401  (defined there, public here)

if TYPE_CHECKING:  # pandas is imported only when reading (writers stay light)
    import pandas as pd

log = logging.getLogger(__name__)

DB_ENV_VAR = "PROTOECG_RATINGS_DB"
DEFAULT_DB_FILENAME = "ratings.sqlite"
_BUSY_TIMEOUT_MS = 30_000
_WRITE_RETRIES = 8


def new_submission_id() -> str:
    """A fresh client-side key for one form submission (keep it across retries of that submission)."""
    return uuid.uuid4().hex


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class PrototypeRating:
    """One clinician's rating of one prototype."""

    reviewer: str
    model_id: str
    prototype_id: str
    branch: str
    class_code: str
    accurate: bool
    representativeness: int
    clarity: int
    suggested_class: str | None = None
    comment: str = ""
    best: bool = False
    bad: bool = False
    submission_id: str = field(default_factory=new_submission_id)
    created_at: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        _require_text("reviewer", self.reviewer)
        _require_text("prototype_id", self.prototype_id)
        _require_text("submission_id", self.submission_id)
        for name in ("representativeness", "clarity"):
            _require_score(name, getattr(self, name))
        if self.accurate and self.suggested_class:
            raise RatingError("a suggested alternative class is only given when the prototype is "
                              "rated not accurate")
        if self.best and self.bad:
            raise RatingError("a prototype cannot be flagged both 'best' and 'bad'")


@dataclass(frozen=True)
class CaseFeedback:
    """One clinician's feedback on one case (a record and the model's explanation of it).

    ``agrees`` is the reviewer's verdict on the predicted labels: "yes", "partly" or "no".
    """

    reviewer: str
    model_id: str
    record_id: str
    record_source: str
    agrees: str
    explanation_useful: int
    label: str | None = None
    missing_labels: str = ""
    wrong_labels: str = ""
    comment: str = ""
    submission_id: str = field(default_factory=new_submission_id)
    created_at: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        _require_text("reviewer", self.reviewer)
        _require_text("record_id", self.record_id)
        _require_text("submission_id", self.submission_id)
        if self.agrees not in ("yes", "partly", "no"):
            raise RatingError(f"agrees must be 'yes', 'partly' or 'no', got {self.agrees!r}")
        _require_score("explanation_useful", self.explanation_useful)


def _require_score(name: str, value: object) -> None:
    """A 1-5 rating scale value: a whole number (not a bool) from 1 to 5."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise RatingError(f"{name} must be a whole number from 1 to 5, got {value!r}")


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise RatingError(f"{name} is required (got an empty value)")


_META = sa.MetaData()


def _submission_columns() -> list[sa.Column]:
    """Columns every submission table shares: who, when, which model, and the idempotency key."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("submission_id", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("model_id", sa.String(500), nullable=False),
    ]

PROTOTYPE_RATINGS = sa.Table(
    "prototype_ratings", _META,
    *_submission_columns(),
    sa.Column("prototype_id", sa.String(100), nullable=False),
    sa.Column("branch", sa.String(32), nullable=False),
    sa.Column("class_code", sa.String(32), nullable=False),
    sa.Column("accurate", sa.Boolean, nullable=False),
    sa.Column("suggested_class", sa.String(32), nullable=True),
    sa.Column("representativeness", sa.Integer, nullable=False),
    sa.Column("clarity", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.Column("best", sa.Boolean, nullable=False, default=False),
    sa.Column("bad", sa.Boolean, nullable=False, default=False),
    sa.CheckConstraint("representativeness BETWEEN 1 AND 5", name="ck_representativeness"),
    sa.CheckConstraint("clarity BETWEEN 1 AND 5", name="ck_clarity"),
)

CASE_FEEDBACK = sa.Table(
    "case_feedback", _META,
    *_submission_columns(),
    sa.Column("record_id", sa.String(300), nullable=False),
    sa.Column("record_source", sa.String(32), nullable=False),
    sa.Column("label", sa.String(32), nullable=True),
    sa.Column("agrees", sa.String(8), nullable=False),
    sa.Column("missing_labels", sa.Text, nullable=False, default=""),
    sa.Column("wrong_labels", sa.Text, nullable=False, default=""),
    sa.Column("explanation_useful", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False, default=""),
    sa.CheckConstraint("explanation_useful BETWEEN 1 AND 5", name="ck_explanation_useful"),
)

Table = Literal["prototypes", "cases", "all"]


def resolve_db_url(db: str | os.PathLike[str] | None = None,
                   default_dir: str | os.PathLike[str] | None = None) -> str:
    """Turn a CLI/app ``--db`` value into an SQLAlchemy URL.

    ``None`` → ``$PROTOECG_RATINGS_DB`` if set, else ``<default_dir or cwd>/ratings.sqlite``.
    A value containing ``://`` is taken as an SQLAlchemy URL; anything else is a SQLite file path.
    """
    if db is None or str(db) == "":
        db = os.environ.get(DB_ENV_VAR) or Path(default_dir or Path.cwd()) / DEFAULT_DB_FILENAME
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _on_sqlite_connect(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI connection
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
    finally:
        cur.close()


def _is_locked(exc: OperationalError) -> bool:
    msg = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "locked" in msg or "busy" in msg


class RatingsStore:
    """Read and write clinician ratings. Safe to share between threads; safe across processes."""

    def __init__(self, url: str | os.PathLike[str] | None = None) -> None:
        self.url = resolve_db_url(url)
        try:
            sa_url = sa.engine.make_url(self.url)
        except sa.exc.ArgumentError as exc:
            raise RatingsStoreError(f"not a valid database URL or path: {url!r} ({exc})") from exc
        self._is_sqlite = sa_url.get_backend_name() == "sqlite"
        if self._is_sqlite and sa_url.database and sa_url.database != ":memory:":
            Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(sa_url, future=True, pool_pre_ping=True)
        except Exception as exc:  # missing driver, bad options
            raise RatingsStoreError(f"cannot open ratings database {self.display_url}: {exc}") from exc
        if self._is_sqlite:
            sa.event.listen(self.engine, "connect", _on_sqlite_connect)
        self._create_tables()

    @property
    def display_url(self) -> str:
        """The URL with any password hidden (for messages and the page)."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    def _create_tables(self) -> None:
        # Several processes may create the tables at once: a "table exists" race is harmless.
        for attempt in range(_WRITE_RETRIES):
            try:
                _META.create_all(self.engine, checkfirst=True)
                return
            except OperationalError as exc:
                if "already exists" in str(exc).lower():
                    continue
                if _is_locked(exc) and attempt < _WRITE_RETRIES - 1:
                    time.sleep(0.05 * (attempt + 1))
                    continue
                raise RatingsStoreError(
                    f"cannot create the ratings tables in {self.display_url}: {exc.orig}") from exc

    def _insert(self, table: sa.Table, row: dict) -> bool:
        for attempt in range(_WRITE_RETRIES):
            try:
                with self.engine.begin() as conn:
                    conn.execute(table.insert().values(**row))
                return True
            except IntegrityError as exc:
                if self._exists(table, row["submission_id"]):
                    log.info("submission %s already stored; not stored twice", row["submission_id"])
                    return False
                raise RatingError(f"the database refused this {table.name} row: {exc.orig}") from exc
            except OperationalError as exc:
                if _is_locked(exc) and attempt < _WRITE_RETRIES - 1:
                    time.sleep(0.05 * (2 ** attempt))
                    continue
                raise RatingsStoreError(
                    f"could not save to {self.display_url}: {exc.orig}") from exc
        raise RatingsStoreError(f"could not save to {self.display_url}: database stayed locked")

    def _exists(self, table: sa.Table, submission_id: str) -> bool:
        with self.engine.connect() as conn:
            q = sa.select(sa.func.count()).select_from(table).where(
                table.c.submission_id == submission_id)
            return bool(conn.execute(q).scalar_one())

    def add_prototype_rating(self, rating: PrototypeRating) -> bool:
        """Store a prototype rating; False when this ``submission_id`` was already stored."""
        return self._insert(PROTOTYPE_RATINGS, asdict(rating))

    def add_case_feedback(self, feedback: CaseFeedback) -> bool:
        """Store case-level feedback; False when this ``submission_id`` was already stored."""
        return self._insert(CASE_FEEDBACK, asdict(feedback))

    def _read(self, table: sa.Table, where: dict[str, str] | None = None) -> pd.DataFrame:
        import pandas as pd

        q = sa.select(table).order_by(table.c.id)
        for col, val in (where or {}).items():
            q = q.where(table.c[col] == val)
        with self.engine.connect() as conn:
            df = pd.DataFrame(conn.execute(q).mappings().all(), columns=[c.name for c in table.c])
        if not df.empty:
            ts = pd.to_datetime(df["created_at"])
            df["created_at"] = ts.dt.tz_localize("UTC") if ts.dt.tz is None else ts.dt.tz_convert("UTC")
        return df

    def prototype_ratings(self, **where: str) -> pd.DataFrame:
        """All prototype ratings (optionally filtered by equality, e.g. ``prototype_id="P3"``)."""
        return self._read(PROTOTYPE_RATINGS, where)

    def case_feedback(self, **where: str) -> pd.DataFrame:
        """All case-level feedback (optionally filtered by equality, e.g. ``record_id="00001_lr"``)."""
        return self._read(CASE_FEEDBACK, where)

    def to_frame(self, table: Table = "all") -> pd.DataFrame:
        """One table, or both stacked with a ``kind`` column ("prototype_rating"/"case_feedback")."""
        import pandas as pd

        if table == "prototypes":
            return self.prototype_ratings()
        if table == "cases":
            return self.case_feedback()
        if table != "all":
            raise RatingError(f"table must be 'prototypes', 'cases' or 'all', got {table!r}")
        p = self.prototype_ratings().assign(kind="prototype_rating")
        c = self.case_feedback().assign(kind="case_feedback")
        frames = [f for f in (p, c) if not f.empty]
        if not frames:
            rest = [col for col in dict.fromkeys([*p.columns, *c.columns]) if col != "kind"]
            return pd.DataFrame(columns=["kind", *rest])
        df = pd.concat(frames, ignore_index=True, sort=False)
        return df[["kind"] + [col for col in df.columns if col != "kind"]]

    def _export_frame(self, table: Table) -> pd.DataFrame:
        import pandas as pd

        df = self.to_frame(table)
        if "created_at" in df and not df.empty:
            df["created_at"] = pd.to_datetime(df["created_at"], utc=True).map(lambda t: t.isoformat())
        return df

    def csv_text(self, table: Table = "all") -> str:
        """The CSV export as text (what the app's download button serves)."""
        return self._export_frame(table).to_csv(index=False)

    def export_csv(self, out: str | os.PathLike[str], table: Table = "all") -> int:
        """Write ratings to a CSV file (UTC ISO-8601 timestamps); returns the number of rows."""
        df = self._export_frame(table)
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        log.info("exported %d rows to %s", len(df), out)
        return len(df)

    def dispose(self) -> None:
        """Close pooled connections (call before forking or at shutdown)."""
        self.engine.dispose()
