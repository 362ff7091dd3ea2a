"""A sweep leaves readers alone: an anonymous page's ETag holds until the run's evidence lands.

Two Uvicorn workers serve the app; a separate `ledger worker` process executes a slowed sweep
that reports its progress several times. Every conditional GET, on a new connection each (so
both workers answer), is 304 for as long as the run has not finished; the first 200 comes only
once it has, and its new ETag then holds in both workers too.
"""

import os
import time
from pathlib import Path

import httpx
import pytest

from app.benchmarks.models import RunState
from tests.benchmarks.test_queue_faults import (
    SWEEP,
    _evidence_of,
    _queue,
    _run,
    _wait,
    _worker,
)
from tests.ops.helpers import live_app

PAGE = "/capabilities/dojo-exapod"


def _conditional_get(base: str, etag: str) -> httpx.Response:
    # A new connection each time: the kernel hands connections to either worker.
    return httpx.get(base + PAGE, headers={"If-None-Match": etag}, timeout=30)


@pytest.mark.slow
def test_an_anonymous_etag_holds_through_a_sweep_until_its_evidence_lands(
    db_url: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": db_url,
        "LEDGER_LOG_LEVEL": "WARNING",
        "LEDGER_INPROCESS_WORKER": "false",
    }
    with live_app(env, "/api/v1/capabilities", timeout=120, workers=2) as base:
        etag = httpx.get(base + PAGE, timeout=30).headers["etag"]
        for _ in range(10):  # both workers agree on it before anything runs
            assert _conditional_get(base, etag).status_code == 304
        run_id = _queue(db_url, spec=SWEEP, mode="sweep", capability="dojo-exapod")
        worker = _worker(db_url, tmp_path, "sweeper")
        try:
            held_while = set()  # the run's (state, progress) seen while the ETag held
            deadline = time.monotonic() + 300
            while True:
                answer = _conditional_get(base, etag)
                run = _run(db_url, run_id)  # read after the answer: it cannot be older
                if answer.status_code != 304:
                    break
                held_while.add((run.state, run.progress))
                assert time.monotonic() < deadline, "the run did not finish"
                time.sleep(0.05)
            assert answer.status_code == 200, answer.text
            assert run.state == "succeeded", (run.state, run.error)
            assert _evidence_of(db_url, run_id) > 0
            # It held while the run was claimed and wrote to its row: at least one write of the
            # run queue (a progress report, or the state change that ends it before its evidence
            # lands) between two 304s. How many the poll sees depends on the machine's speed.
            claimed = {(state, p) for state, p in held_while if state != RunState.queued}
            assert len(claimed) >= 2, held_while
        finally:
            worker.stop()
        new_etag = answer.headers["etag"]
        assert new_etag != etag
        _wait(lambda: _conditional_get(base, new_etag).status_code == 304, 10, "the new ETag")
        for _ in range(10):
            assert _conditional_get(base, new_etag).status_code == 304
