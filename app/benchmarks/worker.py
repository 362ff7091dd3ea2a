"""Execute queued benchmark runs, in a `ledger worker` process or a thread of the web app.

A worker survives database outages: every database error is logged and retried with capped
exponential backoff, never raised out of the loop. Each claim carries a fencing token (the run's
attempt number); heartbeats, progress and the final result are written only while that claim
still holds the run, so a worker whose run was requeued and taken by another stops executing it
and records nothing.
"""

import contextlib
import os
import random
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.benchmarks import flow, service
from app.benchmarks.isolation import RunKilled, RunLimits, execute_isolated
from app.benchmarks.metrics import observe_run_duration
from app.benchmarks.models import RunState
from app.core.config import get_settings
from app.sim import api as sim
from app.sim.errors import SpecError

log = structlog.get_logger(__name__)

# Rows of workers silent this long are deleted; until then they show as not alive.
FORGET_WORKERS_AFTER_S = 3600.0


class StopRun(Exception):
    """Raised inside a run's progress callback to stop it (cancel, shutdown or lost claim)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Backoff:
    """Capped exponential backoff with jitter, so workers do not retry in lockstep."""

    initial_s: float = 0.2
    maximum_s: float = 5.0
    failures: int = 0

    def next_delay(self) -> float:
        """Return how long to wait after one more failure."""
        self.failures += 1
        ceiling = min(self.maximum_s, self.initial_s * 2 ** (self.failures - 1))
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Forget past failures after a success."""
        self.failures = 0


@dataclass
class Claim:
    """One claim of a run: the run, its fencing token, and what the holder has learned."""

    run_id: int
    attempt: int
    lost: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200] if str(exc) else ""


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
        kind: str = "process",
    ) -> None:
        self.engine = engine
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.kind = kind
        self.worker_id = name or f"{socket.gethostname()}:{os.getpid()}:{uuid_suffix()}"
        self.stopping = threading.Event()
        self.state = "starting"
        self.last_error: str | None = None
        self.current: Claim | None = None
        self._last_recovery = 0.0
        self._last_touch = 0.0

    def run_forever(self) -> None:
        """Work until stop() is called; database errors are retried, never raised."""
        log.info("worker.started", worker_id=self.worker_id)
        backoff = Backoff(maximum_s=max(1.0, self.heartbeat_s * 2))
        while not self.stopping.is_set():
            try:
                self._housekeeping()
                took = self.run_once()
            except SQLAlchemyError as exc:
                self._retry_later(backoff, "worker.database_unavailable", exc)
                continue
            except Exception as exc:  # a bug must not end the loop; it is logged and retried
                log.exception("worker.loop_error", worker_id=self.worker_id)
                self._retry_later(backoff, "worker.loop_error_retrying", exc)
                continue
            if backoff.failures:
                log.info("worker.recovered", worker_id=self.worker_id, after=backoff.failures)
            backoff.reset()
            self.state, self.last_error = "idle", None
            if not took:
                self.stopping.wait(self.poll_s)
        self._say_goodbye()
        log.info("worker.stopped", worker_id=self.worker_id)

    def stop(self) -> None:
        """Ask the loop to stop; a run in progress is handed back to the queue."""
        self.stopping.set()

    def _retry_later(self, backoff: Backoff, event: str, exc: BaseException) -> None:
        delay = backoff.next_delay()
        self.state, self.last_error = "retrying", f"{type(exc).__name__}: {_reason(exc)}"
        log.warning(event, worker_id=self.worker_id, error=self.last_error, retry_in=delay)
        self.stopping.wait(delay)

    def _housekeeping(self) -> None:
        """Say this worker is alive and requeue runs whose workers went silent."""
        now = time.monotonic()
        if now - self._last_touch > self.heartbeat_s:
            self._touch("idle")
        if now - self._last_recovery > self.heartbeat_s:
            with Session(self.engine) as session:
                recovered = service.recover_stale(session, stale_after_s=self.stale_after_s)
                if self._last_recovery == 0.0:
                    service.forget_workers(session, silent_for_s=FORGET_WORKERS_AFTER_S)
            if recovered:
                log.warning("worker.recovered_runs", count=recovered)
            self._last_recovery = now

    def _touch(self, state: str, run_id: int | None = None) -> None:
        with Session(self.engine) as session:
            service.touch_worker(
                session,
                self.worker_id,
                kind=self.kind,
                state=state,
                run_id=run_id,
                error=self.last_error,
            )
        self._last_touch = time.monotonic()

    def _say_goodbye(self) -> None:
        with contextlib.suppress(SQLAlchemyError):  # else the row ages out as not alive
            self._touch("stopped")

    def run_once(self) -> bool:
        """Execute one queued run if there is one; return whether one was taken."""
        with Session(self.engine) as session:
            run = service.claim_next(session, self.worker_id)
            if run is None:
                return False
            assert run.id is not None
            claim = Claim(run.id, run.attempts)
            spec, mode = dict(run.spec), run.mode
        self.current, self.state = claim, "running"
        log.info("run.started", run_id=claim.run_id, attempt=claim.attempt, worker=self.worker_id)
        started = time.monotonic()
        beat = threading.Thread(target=self._beat, args=(claim,), daemon=True)
        beat.start()
        try:
            state, result, error = self._outcome(claim, spec, mode)
        finally:
            claim.done.set()
            beat.join(timeout=self.heartbeat_s + 5)
            self.current = None
        if state is None:
            return True  # stopped: handed back, or lost to another claim
        try:
            recorded = self._record(claim, state, result, error)
        except Exception as exc:  # storing it failed (its evidence was refused): not retried
            log.exception("run.record_failed", run_id=claim.run_id)
            state, error = RunState.failed, f"Its result could not be stored: {_reason(exc)}"
            recorded = self._record(claim, state, None, error)
        seconds = round(time.monotonic() - started, 3)
        if recorded:
            observe_run_duration(seconds, state.value)
            log.info(f"run.{state.value}", run_id=claim.run_id, seconds=seconds)
        else:
            log.warning("run.lost", run_id=claim.run_id, attempt=claim.attempt)
        return True

    def _outcome(
        self, claim: Claim, spec: dict[str, Any], mode: str
    ) -> tuple[RunState | None, dict[str, Any] | None, str | None]:
        """Execute the run; return the state to record, or None when nothing is recorded."""
        try:
            return RunState.succeeded, self._execute(claim, spec, mode), None
        except StopRun as stop:
            if stop.reason == "cancelled":
                return RunState.cancelled, None, "cancelled"
            if stop.reason == "shutdown":
                self._hand_back(claim)
            log.info("run.stopped", run_id=claim.run_id, reason=stop.reason)
            return None, None, None
        except SpecError as exc:
            return RunState.failed, None, f"{exc.field}: {exc.message}"
        except RunKilled as killed:
            log.warning("run.killed", run_id=claim.run_id, reason=killed.reason)
            return RunState.failed, None, f"The run {killed.reason}."
        except Exception as exc:  # a model bug must not kill the worker; the run records it
            log.exception("run.crashed", run_id=claim.run_id)
            return RunState.failed, None, f"{type(exc).__name__}: {exc}"[:2000]

    def _hand_back(self, claim: Claim) -> None:
        try:
            with Session(self.engine) as session:
                service.hand_back(session, claim.run_id, claim.attempt)
        except SQLAlchemyError as exc:  # stale recovery puts it back later
            log.warning("run.hand_back_failed", run_id=claim.run_id, error=_reason(exc))

    def _record(
        self,
        claim: Claim,
        state: RunState,
        result: dict[str, Any] | None,
        error: str | None,
    ) -> bool:
        """Store the outcome, retrying through outages; False when the claim lost the run."""
        backoff = Backoff(maximum_s=max(1.0, self.heartbeat_s * 2))
        while True:
            try:
                with Session(self.engine) as session:
                    if flow.finish(
                        session,
                        claim.run_id,
                        claim.attempt,
                        state=state,
                        result=result,
                        error=error,
                    ):
                        return True
                    # The guard refused: either an earlier try committed without our hearing
                    # the answer, or another claim holds the run now.
                    return service.outcome_of(session, claim.run_id, claim.attempt) is not None
            except SQLAlchemyError as exc:
                delay = backoff.next_delay()
                log.warning("run.finish_retrying", run_id=claim.run_id, error=_reason(exc))
                if self.stopping.is_set() and backoff.failures > 5:
                    return False  # its heartbeat stops; stale recovery requeues it
                time.sleep(delay)

    def _beat(self, claim: Claim) -> None:
        """Send heartbeats until the run ends; on a lost claim, tell the executor to stop."""
        while not claim.done.wait(self.heartbeat_s):
            try:
                with Session(self.engine) as session:
                    held = service.heartbeat(session, claim.run_id, claim.attempt)
                    if held:
                        service.touch_worker(
                            session,
                            self.worker_id,
                            kind=self.kind,
                            state="running",
                            run_id=claim.run_id,
                        )
            except SQLAlchemyError as exc:  # transient: the next beat tries again
                log.warning("run.heartbeat_failed", run_id=claim.run_id, error=_reason(exc))
                continue
            if not held:
                log.warning("run.claim_lost", run_id=claim.run_id, attempt=claim.attempt)
                claim.lost.set()
                return

    def _execute(self, claim: Claim, spec: dict[str, Any], mode: str) -> dict[str, Any]:
        last_report = [0.0]

        def progress(fraction: float, message: str = "") -> None:
            if self.stopping.is_set():
                raise StopRun("shutdown")
            if claim.lost.is_set():
                raise StopRun("lost")
            now = time.monotonic()
            if now - last_report[0] < 0.2 and fraction < 1.0:
                return  # keep the database quiet during fast sweeps
            last_report[0] = now
            try:
                with Session(self.engine) as session:
                    holding = service.report_progress(
                        session, claim.run_id, claim.attempt, fraction, message
                    )
            except SQLAlchemyError as exc:  # progress is advisory; the heartbeat owns liveness
                log.warning("run.progress_failed", run_id=claim.run_id, error=_reason(exc))
                return
            if holding == service.Holding.lost:
                claim.lost.set()
                raise StopRun("lost")
            if holding == service.Holding.cancelled:
                raise StopRun("cancelled")

        progress(0.01, "evaluating")
        latest: tuple[float, str] = (0.01, "evaluating")

        def relay(fraction: float, message: str) -> None:
            nonlocal latest
            latest = (fraction, message)
            progress(fraction, message)

        result = execute_isolated(
            spec,
            mode,
            RunLimits.for_mode(mode, get_settings()),
            progress=relay,
            # About once a second: a cancel, a lost claim or a shutdown stops the child.
            poll=lambda: progress(*latest),
            dask_scheduler=get_settings().dask_scheduler or None,
        )
        if claim.lost.is_set():
            raise StopRun("lost")
        return result


def uuid_suffix() -> str:
    """Return a short random suffix that tells two workers of one process apart."""
    return f"{random.getrandbits(24):06x}"


def execute_spec(spec: dict[str, Any], mode: str, progress: Any) -> dict[str, Any]:
    """Evaluate one spec, or sweep its layouts, reporting progress."""
    if mode == "sweep":
        return sim.sweep(
            spec,
            scheduler=get_settings().dask_scheduler or None,  # unset: vectorised in this process
            progress=lambda done, total: progress(done / max(total, 1), f"{done}/{total} layouts"),
        )
    return sim.evaluate(spec)


class Supervisor:
    """Keep the web app's worker thread running: restart it when it dies, within limits.

    `status` is "alive", "restarting" (dead, a restart is due) or "dead" (it died more than
    `max_restarts` times within `window_s`, so it is not restarted; `/readyz` answers 503).
    """

    def __init__(
        self,
        make_worker: Any,
        *,
        check_s: float = 1.0,
        max_restarts: int = 5,
        window_s: float = 60.0,
    ) -> None:
        self.make_worker = make_worker
        self.check_s = check_s
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.worker: Worker = make_worker()
        self.thread: threading.Thread | None = None
        self.restarts: list[float] = []
        self.gave_up = False
        self.stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="ledger-worker-supervisor")
        self._watcher.daemon = True

    @property
    def status(self) -> str:
        """Return "alive", "restarting" or "dead"."""
        if self.thread is not None and self.thread.is_alive():
            return "alive"
        return "dead" if self.gave_up else "restarting"

    def start(self) -> None:
        """Start the worker thread and the watcher."""
        self._spawn()
        self._watcher.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the watcher and the worker (the run in hand goes back to the queue)."""
        self.stopping.set()
        self.worker.stop()
        if self.thread is not None:
            self.thread.join(timeout=timeout)
        self._watcher.join(timeout=timeout)

    def _spawn(self) -> None:
        self.thread = threading.Thread(
            target=self.worker.run_forever, name="ledger-worker", daemon=True
        )
        self.thread.start()

    def _watch(self) -> None:
        while not self.stopping.wait(self.check_s):
            if self.gave_up or self.thread is None or self.thread.is_alive():
                continue
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < self.window_s]
            if len(self.restarts) >= self.max_restarts:
                self.gave_up = True
                log.error("worker.supervisor_gave_up", restarts=len(self.restarts))
                continue
            self.restarts.append(now)
            log.error("worker.thread_died_restarting", worker_id=self.worker.worker_id)
            self.worker = self.make_worker()
            self._spawn()


def run_until_signalled(worker: Worker) -> None:
    """Run a worker in the foreground; SIGTERM/SIGINT stop it gracefully."""

    def _stop(signum: int, _frame: object) -> None:
        log.info("worker.signal", signal=signum)
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run_forever()
