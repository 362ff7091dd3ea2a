"""Issue 19 §1: a run executes in a child process within CPU-time and memory limits, a cancel
stops it, and a run that keeps failing the same way is failed for good.

The slow or greedy "simulator" is patched in this process; children are forked from it
(``isolation.START_METHOD = "fork"``) so they inherit the patch.
"""

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from app.benchmarks import service
from app.core.config import get_settings
from app.core.db import get_engine
from app.sim import api as sim
from tests.capabilities.test_capabilities import auth

SPEC = {"spec": {"kind": "consistency"}}


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from app.benchmarks import isolation

    monkeypatch.setattr(isolation, "START_METHOD", "fork")
    yield


def _worker() -> Any:
    from app.benchmarks.worker import Worker

    return Worker(get_engine(), name="isolation-test", heartbeat_s=0.5)


def _queue(client: TestClient, token: str) -> int:
    response = client.post("/api/v1/benchmark-runs", json=SPEC, headers=auth(token))
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _run(client: TestClient, run_id: int) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/benchmark-runs/{run_id}").json())


def _burn_cpu(_spec: Any) -> dict[str, Any]:
    end = time.monotonic() + 20  # the old, unlimited worker returned after this
    while time.monotonic() < end:
        sum(i * i for i in range(10_000))
    return {"kind": "consistency", "checks": []}


def _eat_memory(_spec: Any) -> dict[str, Any]:
    hoard = [bytearray(64 * 2**20) for _ in range(64)]  # 4 GB, far past the limit
    return {"kind": "consistency", "checks": [], "held": len(hoard)}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_run_over_its_cpu_time_is_killed_and_failed_with_the_reason(
    client: TestClient, write_token: str, forked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_RUN_CPU_SECONDS_EVALUATE", "1")
    get_settings.cache_clear()
    monkeypatch.setattr(sim, "evaluate", _burn_cpu)
    run_id = _queue(client, write_token)
    assert _worker().run_once()
    run = _run(client, run_id)
    assert run["state"] == "failed", run
    assert "CPU-time limit of 1 s" in run["error"]
    page = client.get(f"/runs/{run_id}", headers={"Accept": "text/html"})
    assert "CPU-time limit of 1 s" in page.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_run_over_its_memory_is_failed_with_the_reason(
    client: TestClient, write_token: str, forked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_RUN_MEMORY_MB_EVALUATE", "256")
    get_settings.cache_clear()
    monkeypatch.setattr(sim, "evaluate", _eat_memory)
    run_id = _queue(client, write_token)
    assert _worker().run_once()
    run = _run(client, run_id)
    assert run["state"] == "failed", run
    assert "memory limit of 256 MB" in run["error"]


def test_cancel_stops_an_evaluate_run(
    client: TestClient, write_token: str, forked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling an evaluate-mode run was ignored: it ended "succeeded"."""
    monkeypatch.setattr(sim, "evaluate", _burn_cpu)
    run_id = _queue(client, write_token)
    worker = _worker()
    thread = threading.Thread(target=worker.run_once, daemon=True)
    thread.start()
    for _ in range(200):
        if _run(client, run_id)["state"] == "running":
            break
        time.sleep(0.05)
    cancelled = client.post(f"/api/v1/benchmark-runs/{run_id}/cancel", headers=auth(write_token))
    assert cancelled.status_code == 200, cancelled.text
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert _run(client, run_id)["state"] == "cancelled"


def test_a_run_whose_worker_keeps_dying_is_failed_for_good(
    client: TestClient, write_token: str
) -> None:
    """A run that stopped its worker was requeued every 16 s, forever."""
    run_id = _queue(client, write_token)
    limit = get_settings().run_max_attempts
    with Session(get_engine()) as session:
        session.execute(
            text(
                "UPDATE benchmark_run SET state = 'running', attempts = :n, heartbeat_at = NULL "
                "WHERE id = :id"
            ),
            {"n": limit, "id": run_id},
        )
        session.commit()
        service.recover_stale(session, stale_after_s=1)
    run = _run(client, run_id)
    assert run["state"] == "failed", run
    assert f"{limit} attempts" in run["error"]


def test_a_run_whose_result_cannot_be_stored_fails_instead_of_retrying(
    client: TestClient, write_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.benchmarks import evidence as run_evidence

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise ValueError("evidence summary too long")

    monkeypatch.setattr(run_evidence, "record_as_evidence", refuse)
    run_id = _queue(client, write_token)
    assert _worker().run_once()
    run = _run(client, run_id)
    assert run["state"] == "failed", run
    assert "could not be stored" in run["error"]


def _report_priority(_spec: Any) -> dict[str, Any]:
    autogroup = Path("/proc/self/autogroup")
    return {
        "session": os.getsid(0),
        "nice": os.nice(0),
        "autogroup": autogroup.read_text() if autogroup.exists() else "",
    }


def test_a_run_yields_the_cpu_to_readers_in_a_session_of_its_own(
    forked: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nice ranks a process only within its session's autogroup: the child needs its own."""
    from app.benchmarks.isolation import CHILD_NICENESS, RunLimits, execute_isolated

    monkeypatch.setattr(sim, "evaluate", _report_priority)
    seen = execute_isolated(
        {}, "evaluate", RunLimits(30, 1024), progress=lambda *_: None, poll=lambda: None
    )
    assert seen["session"] != os.getsid(0)
    assert seen["nice"] >= os.nice(0) + CHILD_NICENESS or seen["nice"] == 19
    if seen["autogroup"]:  # a kernel with autogroups: the group is niced as well
        assert seen["autogroup"].rstrip().endswith(f"nice {CHILD_NICENESS}")


def test_a_childs_inputs_are_plain_values_that_import_nothing_of_the_web_stack() -> None:
    """A RunMode member made each child import SQLModel, SQLAlchemy and FastAPI to unpickle it."""
    import pickle

    from app.benchmarks.isolation import RunLimits, child_inputs
    from app.benchmarks.models import RunMode

    inputs = child_inputs({"kind": "gemm"}, RunMode.sweep, RunLimits(30, 1024), None)
    assert inputs[1] == "sweep" and type(inputs[1]) is str
    pickled = pickle.dumps(inputs)
    assert b"app.benchmarks.models" not in pickled and b"sqlalchemy" not in pickled
