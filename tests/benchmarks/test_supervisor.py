"""The web app's worker thread is restarted when it dies, and given up on when it keeps dying."""

import threading
import time

from app.benchmarks.worker import Supervisor


class DyingWorker:
    """Dies at once the first `deaths` times it runs, then works until stopped."""

    made = 0

    def __init__(self, deaths: int) -> None:
        DyingWorker.made += 1
        self.number = DyingWorker.made
        self.deaths = deaths
        self.worker_id = f"dying-{self.number}"
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        if self.number <= self.deaths:
            raise RuntimeError("worker thread died")
        self.stopping.wait()

    def stop(self) -> None:
        self.stopping.set()


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_a_dead_worker_thread_is_restarted() -> None:
    DyingWorker.made = 0
    supervisor = Supervisor(lambda: DyingWorker(deaths=2), check_s=0.05)
    supervisor.start()
    try:
        assert _wait_for(lambda: DyingWorker.made == 3 and supervisor.status == "alive")
        assert len(supervisor.restarts) == 2 and not supervisor.gave_up
    finally:
        supervisor.stop()


def test_a_worker_thread_that_keeps_dying_is_reported_dead() -> None:
    DyingWorker.made = 0
    supervisor = Supervisor(lambda: DyingWorker(deaths=100), check_s=0.05, max_restarts=3)
    supervisor.start()
    try:
        assert _wait_for(lambda: supervisor.status == "dead")
        assert DyingWorker.made == 4  # the first thread and three restarts
    finally:
        supervisor.stop()
