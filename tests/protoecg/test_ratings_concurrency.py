"""Several processes writing ratings to one SQLite file at once: every row present, none duplicated.

The writers are separate Python interpreters (like several app servers on one database file); they
wait for a start signal so their writes really collide.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time

from protoecg.review.ratings import RatingsStore

N_PROCS = 4
N_EACH = 40

WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from protoecg.review.ratings import CaseFeedback, PrototypeRating, RatingsStore
    db, worker, go, n_each = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    store = RatingsStore(db)
    while not go.exists():
        time.sleep(0.005)
    for i in range(n_each):
        sid = f"w{worker}-r{i}"
        r = PrototypeRating(reviewer=f"reviewer {worker}", model_id="m", prototype_id=f"p{i}",
                            branch="rhythm", class_code="AFIB", accurate=True,
                            representativeness=1 + i % 5, clarity=1 + worker % 5, submission_id=sid)
        store.add_prototype_rating(r)
        if i % 4 == 0:  # a client retrying the same submission (network hiccup, double click)
            store.add_prototype_rating(r)
        if i % 5 == 0:
            store.add_case_feedback(CaseFeedback(
                reviewer=f"reviewer {worker}", model_id="m", record_id=f"rec{i}", record_source="demo",
                agrees="yes", explanation_useful=4, submission_id=f"c{sid}"))
""")


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(tmp_path):
    db = str(tmp_path / "shared.sqlite")
    # no tables yet: the writers also race to create them
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db, str(w), str(go), str(N_EACH)],
                              stderr=subprocess.PIPE, text=True) for w in range(N_PROCS)]
    time.sleep(0.5)
    go.touch()
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * N_PROCS, errs

    store = RatingsStore(db)
    df = store.prototype_ratings()
    expected = {f"w{w}-r{i}" for w in range(N_PROCS) for i in range(N_EACH)}
    assert len(df) == len(expected)
    assert set(df["submission_id"]) == expected
    assert not df["submission_id"].duplicated().any()
    cf = store.case_feedback()
    assert len(cf) == N_PROCS * len(range(0, N_EACH, 5))
    assert not cf["submission_id"].duplicated().any()
