"""Several processes writing ratings to one SQLite file at once: every row present, none duplicated."""
from __future__ import annotations

import multiprocessing as mp

from protoecg.review.ratings import CaseFeedback, PrototypeRating, RatingsStore

N_PROCS = 4
N_EACH = 40


def _writer(db: str, worker: int, barrier) -> None:  # noqa: ANN001 - mp.Barrier
    store = RatingsStore(db)
    barrier.wait()  # start together so the writes really collide
    for i in range(N_EACH):
        sid = f"w{worker}-r{i}"
        r = PrototypeRating(reviewer=f"reviewer {worker}", model_id="m", prototype_id=f"p{i}",
                            branch="rhythm", class_code="AFIB", accurate=True,
                            representativeness=1 + i % 5, clarity=1 + worker % 5, submission_id=sid)
        store.add_prototype_rating(r)
        if i % 4 == 0:  # a client retrying the same submission (network hiccup, double click)
            store.add_prototype_rating(r)
        if i % 5 == 0:
            store.add_case_feedback(CaseFeedback(
                reviewer=f"reviewer {worker}", model_id="m", record_id=f"rec{i}",
                record_source="demo", agrees="yes", explanation_useful=4, submission_id=f"c{sid}"))
    store.dispose()


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(tmp_path):
    db = str(tmp_path / "shared.sqlite")
    ctx = mp.get_context("spawn")  # fresh interpreters, like separate app processes
    barrier = ctx.Barrier(N_PROCS)
    procs = [ctx.Process(target=_writer, args=(db, w, barrier)) for w in range(N_PROCS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * N_PROCS

    store = RatingsStore(db)
    df = store.prototype_ratings()
    expected = {f"w{w}-r{i}" for w in range(N_PROCS) for i in range(N_EACH)}
    assert len(df) == len(expected)
    assert set(df["submission_id"]) == expected
    assert not df["submission_id"].duplicated().any()
    cf = store.case_feedback()
    assert len(cf) == N_PROCS * len(range(0, N_EACH, 5))
    assert not cf["submission_id"].duplicated().any()
