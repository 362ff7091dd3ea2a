"""Execute queued benchmark runs, in a `ledger worker` process or a thread of the web app."""

import os
import signal
import socket
import threading
import time
import uuid
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.benchmarks import service
from app.benchmarks.models import RunState
from app.core.config import get_settings
from app.sim import api as sim
from app.sim.errors import SpecError

log = structlog.get_logger(__name__)


class StopRun(Exception):
    """Raised inside a run's progress callback to stop it (cancel or shutdown)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Worker:
    """Poll the queue, claim one run at a time, execute it and store the outcome."""

    def __init__(
        self,
        engine: Engine,
        *,
        poll_s: float = 0.5,
        heartbeat_s: float = 2.0,
        stale_after_s: float = 15.0,
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.worker_id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stopping = threading.Event()

    def run_forever(self) -> None:
        """Work until stop() is called."""
        log.info("worker.started", worker_id=self.worker_id)
        last_recovery = 0.0
        while not self.stopping.is_set():
            if time.monotonic() - last_recovery > self.heartbeat_s:
                with Session(self.engine) as session:
                    recovered = service.recover_stale(session, stale_after_s=self.stale_after_s)
                if recovered:
                    log.warning("worker.recovered_runs", count=recovered)
                last_recovery = time.monotonic()
            if not self.run_once():
                self.stopping.wait(self.poll_s)
        log.info("worker.stopped", worker_id=self.worker_id)

    def stop(self) -> None:
        """Ask the loop to stop; a run in progress is handed back to the queue."""
        self.stopping.set()

    def run_once(self) -> bool:
        """Execute one queued run if there is one; return whether one was taken."""
        with Session(self.engine) as session:
            run = service.claim_next(session, self.worker_id)
            if run is None:
                return False
            run_id, spec, mode = run.id, dict(run.spec), run.mode
        assert run_id is not None
        log.info("run.started", run_id=run_id, worker_id=self.worker_id)
        started = time.monotonic()
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(run_id, beat_stop), daemon=True)
        beat.start()
        try:
            result = self._execute(run_id, spec, mode)
        except StopRun as stop:
            beat_stop.set()
            with Session(self.engine) as session:
                if stop.reason == "shutdown":
                    service.hand_back(session, run_id, self.worker_id)
                else:
                    service.finish(
                        session, run_id, self.worker_id, state=RunState.cancelled, error="cancelled"
                    )
            log.info("run.stopped", run_id=run_id, reason=stop.reason)
            return True
        except SpecError as exc:
            self._fail(run_id, beat_stop, f"{exc.field}: {exc.message}")
            return True
        except Exception as exc:  # a model bug must not kill the worker; the run records it
            log.exception("run.crashed", run_id=run_id)
            self._fail(run_id, beat_stop, f"{type(exc).__name__}: {exc}")
            return True
        beat_stop.set()
        with Session(self.engine) as session:
            service.finish(session, run_id, self.worker_id, state=RunState.succeeded, result=result)
        _observe_duration(time.monotonic() - started)
        log.info("run.succeeded", run_id=run_id, seconds=round(time.monotonic() - started, 3))
        return True

    def _fail(self, run_id: int, beat_stop: threading.Event, message: str) -> None:
        beat_stop.set()
        with Session(self.engine) as session:
            service.finish(session, run_id, self.worker_id, state=RunState.failed, error=message)

    def _beat(self, run_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.heartbeat_s):
            with Session(self.engine) as session:
                service.heartbeat(session, run_id, self.worker_id)

    def _execute(self, run_id: int, spec: dict[str, Any], mode: str) -> dict[str, Any]:
        last_report = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            if self.stopping.is_set():
                raise StopRun("shutdown")
            now = time.monotonic()
            if now - last_report[0] < 0.2 and fraction < 1.0:
                return  # keep the database quiet during fast sweeps
            last_report[0] = now
            with Session(self.engine) as session:
                keep_going = service.report_progress(
                    session, run_id, self.worker_id, fraction, message
                )
            if not keep_going:
                raise StopRun("cancelled")

        progress(0.01, "evaluating")
        result = execute_spec(spec, mode, progress)
        progress(1.0, "storing result")
        return result


def execute_spec(spec: dict[str, Any], mode: str, progress: Any) -> dict[str, Any]:
    """Evaluate one spec, or sweep its layouts, reporting progress."""
    if mode == "sweep":
        return sim.sweep(
            spec,
            scheduler=get_settings().dask_scheduler or None,  # unset: vectorised in this process
            progress=lambda done, total: progress(done / max(total, 1), f"{done}/{total} layouts"),
        )
    return sim.evaluate(spec)


def _observe_duration(seconds: float) -> None:
    try:
        from app.ops.metrics import observe_run_duration
    except ImportError:
        return
    observe_run_duration(seconds)


def run_until_signalled(worker: Worker) -> None:
    """Run a worker in the foreground; SIGTERM/SIGINT stop it gracefully."""

    def _stop(signum: int, _frame: object) -> None:
        log.info("worker.signal", signal=signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run_forever()
