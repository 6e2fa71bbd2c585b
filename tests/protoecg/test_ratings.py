"""Ratings store: validation, idempotent submissions, WAL mode, CSV export, CLI export."""
from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from protoecg_cli import main as cli_main
from protoecg.review.ratings import (CaseFeedback, PrototypeRating, RatingError, RatingsStore,
                                     RatingsStoreError, resolve_db_url)


def _rating(**kw) -> PrototypeRating:
    base = dict(reviewer="Dr A", model_id="runs/x", prototype_id="morphology:IMI:3",
                branch="morphology", class_code="IMI", accurate=True, representativeness=4,
                clarity=5)
    base.update(kw)
    return PrototypeRating(**base)


def _feedback(**kw) -> CaseFeedback:
    base = dict(reviewer="Dr B", model_id="runs/x", record_id="00001_lr", record_source="ptbxl",
                agrees="partly", explanation_useful=3, label="NORM", missing_labels="IMI")
    base.update(kw)
    return CaseFeedback(**base)


def test_rating_roundtrip_and_wal(tmp_path):
    db = tmp_path / "r.sqlite"
    store = RatingsStore(db)
    r = _rating(accurate=False, suggested_class="ASMI", comment="Q waves, but anterior", bad=True)
    assert store.add_prototype_rating(r) is True
    df = store.prototype_ratings()
    assert len(df) == 1
    row = df.iloc[0]
    assert row.reviewer == "Dr A" and row.suggested_class == "ASMI" and not row.accurate
    assert row.bad and not row.best and row.representativeness == 4
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset().total_seconds() == 0
    assert abs((row.created_at - pd.Timestamp(r.created_at)).total_seconds()) < 1
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


def test_same_submission_is_stored_once(tmp_path):
    store = RatingsStore(tmp_path / "r.sqlite")
    r = _rating()
    assert store.add_prototype_rating(r) is True
    assert store.add_prototype_rating(r) is False  # a retry of the same submission
    assert store.add_prototype_rating(_rating()) is True  # a new submission with the same content
    assert len(store.prototype_ratings()) == 2
    f = _feedback()
    assert store.add_case_feedback(f) and not store.add_case_feedback(f)
    assert len(store.case_feedback(record_id="00001_lr")) == 1
    assert store.case_feedback(record_id="other").empty


@pytest.mark.parametrize("kw, field", [
    (dict(representativeness=0), "representativeness"),
    (dict(clarity=6), "clarity"),
    (dict(clarity=True), "clarity"),
    (dict(reviewer="  "), "reviewer"),
    (dict(accurate=True, suggested_class="IMI"), "suggested"),
    (dict(best=True, bad=True), "best"),
])
def test_invalid_ratings_are_refused(kw, field):
    with pytest.raises(RatingError, match=field):
        _rating(**kw)


def test_invalid_feedback_is_refused():
    with pytest.raises(RatingError, match="agrees"):
        _feedback(agrees="maybe")
    with pytest.raises(RatingError, match="explanation_useful"):
        _feedback(explanation_useful=9)


def test_database_constraint_backs_validation(tmp_path):
    """Rows bypassing the dataclass still meet the CHECK constraints."""
    db = tmp_path / "r.sqlite"
    RatingsStore(db)
    with sqlite3.connect(db) as con, pytest.raises(sqlite3.IntegrityError):
        con.execute("INSERT INTO prototype_ratings (submission_id, created_at, reviewer, model_id, "
                    "prototype_id, branch, class_code, accurate, representativeness, clarity, "
                    "comment, best, bad) VALUES ('x', '2026-01-01', 'r', 'm', 'p', 'b', 'c', 1, 7, 1,"
                    " '', 0, 0)")


def test_export_csv_all_and_single(tmp_path):
    store = RatingsStore(tmp_path / "r.sqlite")
    store.add_prototype_rating(_rating(comment='says "hi", then, a comma'))
    store.add_case_feedback(_feedback())
    n = store.export_csv(tmp_path / "all.csv")
    assert n == 2
    df = pd.read_csv(tmp_path / "all.csv")
    assert list(df["kind"]) == ["prototype_rating", "case_feedback"]
    assert df.loc[0, "comment"] == 'says "hi", then, a comma'
    ts = pd.to_datetime(df["created_at"])
    assert str(ts.dt.tz) == "UTC"
    assert store.export_csv(tmp_path / "p.csv", table="prototypes") == 1
    assert "record_id" not in pd.read_csv(tmp_path / "p.csv").columns
    with pytest.raises(RatingError):
        store.export_csv(tmp_path / "x.csv", table="nope")  # type: ignore[arg-type]


def test_export_empty_store_writes_header(tmp_path):
    store = RatingsStore(tmp_path / "r.sqlite")
    assert store.export_csv(tmp_path / "e.csv") == 0
    header = (tmp_path / "e.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "kind" and "prototype_id" in header and "record_id" in header


def test_cli_export(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    store = RatingsStore(f"sqlite:///{db}")  # a full SQLAlchemy URL works as well as a path
    for i in range(3):
        store.add_prototype_rating(_rating(prototype_id=f"rhythm:AFIB:{i}", branch="rhythm",
                                           class_code="AFIB"))
    out = tmp_path / "out" / "ratings.csv"
    assert cli_main(["ratings", "export", "--db", f"sqlite:///{db}", "--out", str(out)]) == 0
    assert "wrote 3 rows" in capsys.readouterr().out
    assert sorted(pd.read_csv(out)["prototype_id"]) == [f"rhythm:AFIB:{i}" for i in range(3)]
    assert cli_main(["ratings", "export", "--db", str(tmp_path / "missing.sqlite"),
                     "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_resolve_db_url(tmp_path, monkeypatch):
    monkeypatch.delenv("PROTOECG_RATINGS_DB", raising=False)
    assert resolve_db_url(None, default_dir=tmp_path) == f"sqlite:///{tmp_path / 'ratings.sqlite'}"
    assert resolve_db_url("postgresql://u:p@h/db") == "postgresql://u:p@h/db"
    monkeypatch.setenv("PROTOECG_RATINGS_DB", str(tmp_path / "env.sqlite"))
    assert resolve_db_url(None).endswith("env.sqlite")


def test_bad_url_is_a_clear_error():
    with pytest.raises(RatingsStoreError, match="database"):
        RatingsStore("nosuchdialect://x/y")
