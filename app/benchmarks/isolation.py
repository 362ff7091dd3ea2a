"""Execute one run in a child process with limits on CPU time and memory.

A run is the simulator on input a client chose, so it may take far more CPU or memory than
the worker can spare. Each run executes in a child process forked from a small server process
(``multiprocessing``'s forkserver, with the simulator preloaded), never in the web process's
own threads. The child sets its own limits before it starts (``resource.setrlimit``):

- ``RLIMIT_CPU``: ``LEDGER_RUN_CPU_SECONDS_EVALUATE`` / ``..._SWEEP`` seconds of CPU time;
  past it the kernel stops the child (SIGXCPU, then SIGKILL a few seconds later);
- ``RLIMIT_AS``: ``LEDGER_RUN_MEMORY_MB_EVALUATE`` / ``..._SWEEP`` MB of address space beyond
  what the child holds when it starts (the interpreter and numpy); past it allocations fail.

The child runs only on CPU time readers leave (``SCHED_IDLE``, and nice 10 in a session and
autogroup of its own), so readers of the web process come first.
The parent relays progress and polls (about once a second) whether to stop: a cancelled run,
a lost claim or a shutting-down worker kills the child at once. Over a limit, the run ends with
:class:`RunKilled` and the reason, which the worker stores as the run's error.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.core.config import Settings
from app.sim.errors import SpecError

# Results larger than this (as pickled by the pipe) are refused: a run may not store more.
MAX_RESULT_BYTES = 32 * 2**20
_POLL_S = 1.0
_PR_SET_PDEATHSIG = 1
CHILD_NICENESS = 10
_GRACE_S = 5  # between RLIMIT_CPU's soft limit (SIGXCPU) and its hard limit (SIGKILL)


class RunKilled(Exception):
    """The child went over a limit or died; ``reason`` says which, for the run's page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RunLimits:
    """The CPU time and memory one run may use."""

    cpu_seconds: int
    memory_mb: int

    @classmethod
    def for_mode(cls, mode: str, settings: Settings) -> RunLimits:
        """The limits of a run kind: a sweep searches, so it gets more than an evaluation."""
        if mode == "sweep":
            return cls(settings.run_cpu_seconds_sweep, settings.run_memory_mb_sweep)
        return cls(settings.run_cpu_seconds_evaluate, settings.run_memory_mb_evaluate)


# "forkserver": children are forked from a clean, single-threaded server process, never from
# the web process's threads. A test that patches the simulator adds its module to the preload.
START_METHOD = "forkserver"
FORKSERVER_PRELOAD: tuple[str, ...] = ("app.benchmarks.isolation", "app.sim.api", "app.sim.warm")
_context_lock = threading.Lock()


def _mp_context() -> Any:
    """The multiprocessing context; the forkserver preloads the simulator (started once)."""
    with _context_lock:
        ctx = multiprocessing.get_context(START_METHOD)
        if START_METHOD == "forkserver":
            ctx.set_forkserver_preload(list(FORKSERVER_PRELOAD))
        return ctx


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[0])
    return pages * resource.getpagesize()


def _die_with_parent() -> None:
    """Linux: the kernel kills this child when its parent dies (a SIGKILLed worker's run)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _yield_cpu() -> None:
    """Run this child only on CPU time the web process's readers leave, on any Linux set-up.

    - ``SCHED_IDLE``: a reader's thread that wakes up preempts the child at once. Nice alone
      only lowers the child's share: a waking reader may still wait for the child's time
      slice, at every database round trip of a request (measured: reader p50 x2 to x4).
    - Its own session, niced as an autogroup: with autogroups (Linux's default on many
      distributions), nice ranks a process only among its own session's processes.
    - Nice 10, where ``SCHED_IDLE`` is not available.
    Its CPU-time limit still counts only the time it gets.
    """
    os.setsid()
    with contextlib.suppress(OSError):
        Path("/proc/self/autogroup").write_text(f"{CHILD_NICENESS}\n")
    os.nice(CHILD_NICENESS)
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


def _child(conn: Connection, spec: dict[str, Any], mode: str, limits: RunLimits, dask: Any) -> None:
    """The child's body: set the limits, execute, send ("result" | "spec_error" | ...)."""
    _die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which kills us
    _yield_cpu()
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + _GRACE_S))
    ceiling = _address_space() + limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, ceiling))
    from app.sim import api as sim  # preloaded by the forkserver: no import cost here

    def progress(done: int, total: int) -> None:
        conn.send(("progress", done / max(total, 1), f"{done}/{total} layouts"))

    try:
        if mode == "sweep":
            result = sim.sweep(spec, scheduler=dask, progress=progress)
        else:
            result = sim.evaluate(spec)
        conn.send(("result", result))
    except SpecError as exc:
        conn.send(("spec_error", exc.field, exc.message))
    except MemoryError:
        conn.send(("killed", f"exceeded its memory limit of {limits.memory_mb} MB"))
    except Exception as exc:  # a model bug: reported as the run's error
        conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000]))
    finally:
        conn.close()


def child_inputs(
    spec: dict[str, Any], mode: str, limits: RunLimits, dask_scheduler: str | None
) -> tuple[dict[str, Any], str, RunLimits, str | None]:
    """The child's arguments, as plain values.

    The child unpickles them: a run's ``RunMode`` member would make it import the module that
    defines it, and with it SQLModel, SQLAlchemy and FastAPI (0.4 s of CPU per run).
    """
    return spec, str(mode), limits, dask_scheduler


def execute_isolated(
    spec: dict[str, Any],
    mode: str,
    limits: RunLimits,
    *,
    progress: Callable[[float, str], None],
    poll: Callable[[], None],
    dask_scheduler: str | None = None,
) -> dict[str, Any]:
    """Run ``spec`` in a child process within ``limits``; return its result.

    ``progress`` receives the child's progress; ``poll`` is called about once a second and
    raises to stop the run (the child is killed). Raises SpecError for a bad spec, RunKilled
    when the child went over a limit or died, RuntimeError for a crash inside the model.
    """
    ctx = _mp_context()
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(
        target=_child, args=(sender, *child_inputs(spec, mode, limits, dask_scheduler)), daemon=True
    )
    started = time.monotonic()
    child.start()
    sender.close()
    try:
        while True:
            if receiver.poll(_POLL_S):
                try:
                    message = receiver.recv()
                except EOFError:
                    break  # the child died without a word: see its exit code below
                except MemoryError:
                    raise RunKilled("its result was too large to keep") from None
                kind = message[0]
                if kind == "progress":
                    progress(message[1], message[2])
                    continue
                if kind == "result":
                    return dict(message[1])
                if kind == "spec_error":
                    raise SpecError(message[1], message[2])
                if kind == "killed":
                    raise RunKilled(message[1])
                raise RuntimeError(message[1])
            poll()
            if not child.is_alive() and not receiver.poll(0):
                break
        child.join(timeout=5)
        raise RunKilled(_death(child.exitcode, limits, time.monotonic() - started))
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join(timeout=5)
        with contextlib.suppress(ValueError):
            child.close()


def _death(exitcode: int | None, limits: RunLimits, elapsed: float) -> str:
    if exitcode in (-signal.SIGXCPU, -signal.SIGKILL):
        return (
            f"exceeded its CPU-time limit of {limits.cpu_seconds} s (killed after {elapsed:.0f} s)"
        )
    if exitcode is not None and exitcode < 0:
        return f"was killed by signal {signal.Signals(-exitcode).name} after {elapsed:.0f} s"
    return f"ended without a result (exit code {exitcode}); it may have run out of memory"
