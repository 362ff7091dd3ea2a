"""Benchmark runs: queue, claim atomically, execute through the simulator, store as evidence."""

import datetime as dt
import hashlib
import os
import platform
import subprocess
import sys
from enum import StrEnum
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, delete, func, or_, text, update
from sqlmodel import Session, col, select

from app.benchmarks.models import (
    FINISHED_STATES,
    BenchmarkRun,
    BenchmarkRunCreate,
    BenchmarkWorker,
    RunState,
    spec_digest,
)
from app.core.bounds import DASHBOARD_ACTOR_SUFFIX, TOKEN_ACTOR_PREFIX
from app.core.bulkhead import Bulkhead
from app.core.config import PROJECT_ROOT, get_settings
from app.core.db import take_write_lock
from app.core.errors import ProblemError, check_filter, not_found
from app.core.http import keyset_page
from app.core.schema import utcnow
from app.sim import api as sim
from app.sim.consistency import UNITS
from app.sim.errors import SpecError
from app.status import snapshot
from app.status.history import bump_runs_version

SORTABLE = {"id": (col(BenchmarkRun.id), int, None)}


def scenarios() -> list[dict[str, Any]]:
    """Return the scenarios shipped in seed_data/workloads."""
    return sim.list_scenarios()


def scenario(scenario_id: str) -> dict[str, Any]:
    """Return one scenario with its spec, or raise 404."""
    if scenario_id not in {item["id"] for item in scenarios()}:
        raise not_found("scenario", scenario_id)
    return sim.load_scenario(scenario_id)


@lru_cache
def _commit() -> str:
    if os.environ.get("LEDGER_COMMIT"):
        return os.environ["LEDGER_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment_record() -> dict[str, Any]:
    """Describe the software that produced a result (MLPerf-style system description)."""
    import numpy

    return {
        "runner_version": sim.RUNNER_VERSION,
        "python": sys.version.split()[0],
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "commit": _commit(),
    }


def scenario_spec(found: dict[str, Any]) -> dict[str, Any]:
    """Return the spec a run of a scenario stores, with the claim comparisons it makes."""
    spec = dict(found["spec"])
    if found.get("compare"):
        spec["compare"] = found["compare"]
    return spec


def hardware_of(spec: dict[str, Any]) -> str:
    hardware = spec.get("hardware", "")
    if isinstance(hardware, dict):
        return str(hardware.get("base", "custom"))
    return str(hardware)


def spec_schema() -> dict[str, Any]:
    """Return the JSON Schema a custom spec must follow."""
    return sim.spec_schema()


def _check_spec(spec: dict[str, Any]) -> None:
    """Reject a custom spec that breaks the spec schema, naming the field."""
    try:
        sim.check_spec(spec)
    except SpecError as exc:
        field = f"spec.{exc.field}"
        raise ProblemError(422, "Invalid spec", f"{field}: {exc.message}", field=field) from exc


def _same_token(actor: str) -> list[str]:
    """The actors one token writes as: through the API and through the dashboard."""
    base = actor.removesuffix(DASHBOARD_ACTOR_SUFFIX)
    if not base.startswith(TOKEN_ACTOR_PREFIX):
        return [actor]
    return [base, base + DASHBOARD_ACTOR_SUFFIX]


class QuotaRefused(ProblemError):
    """A token's quota refuses a run (429), and how long the same answer is certain to hold."""

    def __init__(self, title: str, detail: str, *, retry_after: int, holds_for: float) -> None:
        super().__init__(429, title, detail, headers={"Retry-After": str(retry_after)})
        self.holds_for = holds_for


# A full queue may free a slot at any moment, so its refusal is not certain for long. Its
# Retry-After asks the client to wait this long, and each process answers the same client
# again from memory for just as long: a client that waits as told never sees a stale refusal,
# and one that hammers the queue costs a dictionary lookup, not a token check and two queries.
QUEUE_FULL_RETRY_SECONDS = 2


def check_quota(session: Session, actor: str) -> None:
    """Refuse (429 with Retry-After) a token over its rate or its share of the queue.

    Both are counted in the database, so every app process sees the same numbers.
    """
    settings = get_settings()
    actors = _same_token(actor)
    window_start = utcnow() - dt.timedelta(seconds=60)
    recent = session.exec(
        select(BenchmarkRun.created_at)
        .where(col(BenchmarkRun.actor).in_(actors), col(BenchmarkRun.created_at) >= window_start)
        .order_by(col(BenchmarkRun.created_at))
        .limit(settings.runs_per_minute_per_token)
    ).all()
    if len(recent) >= settings.runs_per_minute_per_token:
        oldest = recent[0]
        if oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=dt.UTC)
        # Until the oldest of them leaves the window, the count cannot fall.
        holds_for = (oldest - window_start).total_seconds()
        wait = max(1, int(holds_for) + 1)
        raise QuotaRefused(
            "Too many runs",
            f"This token submitted {len(recent)} runs in the last minute, the limit "
            f"(LEDGER_RUNS_PER_MINUTE_PER_TOKEN); retry in {wait} s.",
            retry_after=wait,
            holds_for=holds_for,
        )
    waiting = session.exec(
        select(func.count())
        .select_from(BenchmarkRun)
        .where(
            col(BenchmarkRun.actor).in_(actors),
            col(BenchmarkRun.state).in_((RunState.queued.value, RunState.running.value)),
        )
    ).one()
    if waiting >= settings.runs_queued_per_token:
        raise QuotaRefused(
            "Too many runs waiting",
            f"This token has {waiting} runs queued or running, the limit "
            "(LEDGER_RUNS_QUEUED_PER_TOKEN); retry when some have finished, or cancel some.",
            retry_after=QUEUE_FULL_RETRY_SECONDS,
            holds_for=QUEUE_FULL_RETRY_SECONDS,
        )


def lock_token_quota(session: Session, actor: str) -> None:
    """Hold the token's quota lock until the transaction ends.

    PostgreSQL: an advisory lock per token. SQLite: the database's write lock.
    """
    digest = hashlib.sha256(_same_token(actor)[0].encode()).digest()
    take_write_lock(session, int.from_bytes(digest[:8], "big", signed=True))


# Submissions that may wait on a token's quota lock run on at most this many threads per
# process, so a burst of them leaves the shared thread pool and the connections to readers.
SUBMISSIONS = Bulkhead(slots=2)


def create_run(session: Session, request: BenchmarkRunCreate, *, actor: str) -> BenchmarkRun:
    """Queue a run of a scenario or a custom spec, within the token's quota."""
    # A token over its quota is refused at once, without waiting for any lock; then its
    # submissions are counted again and added one at a time, so a burst of concurrent requests
    # cannot all pass the count before any of them is added.
    check_quota(session, actor)
    session.rollback()  # end the read: SQLite takes its write lock next
    lock_token_quota(session, actor)
    check_quota(session, actor)
    run = new_run(request, actor=actor)
    session.add(run)
    bump_runs_version(session)
    session.commit()
    session.refresh(run)
    return run


def new_run(request: BenchmarkRunCreate, *, actor: str) -> BenchmarkRun:
    """Build a queued run of a scenario or a custom spec (not yet added to a session)."""
    if (request.scenario_id is None) == (request.spec is None):
        raise ProblemError(422, "Invalid run", "Give exactly one of scenario_id or spec.")
    capability_slugs: list[str] = []
    claim_slugs: list[str] = []
    if request.scenario_id is not None:
        found = scenario(request.scenario_id)
        spec = scenario_spec(found)
        title = request.title or found.get("title", request.scenario_id)
        capability_slugs = list(found.get("capabilities", []))
        claim_slugs = list(found.get("claims", []))
    else:
        spec = request.spec or {}
        title = request.title or str(spec.get("title") or spec.get("kind") or "custom run")
        _check_spec(spec)
    return BenchmarkRun(
        scenario_id=request.scenario_id,
        mode=request.mode,
        title=title[:300],
        spec=spec,
        spec_digest=spec_digest(request.mode, spec),
        hardware=hardware_of(spec)[:200],
        runner_version=sim.RUNNER_VERSION,
        seed=int(spec.get("seed", 0)) if isinstance(spec.get("seed", 0), int) else 0,
        capability_slugs=capability_slugs,
        claim_slugs=claim_slugs,
        actor=actor,
        progress_message="queued",
    )


def get_run(session: Session, run_id: int) -> BenchmarkRun:
    """Return a run or raise 404."""
    run = session.get(BenchmarkRun, run_id)
    if run is None:
        raise not_found("benchmark run", run_id)
    return run


def list_runs(
    session: Session,
    *,
    limit: int = 50,
    cursor: str | None = None,
    scenario_id: str | None = None,
    state: str | None = None,
    capability: str | None = None,
) -> tuple[list[BenchmarkRun], str | None]:
    """Return runs, newest first.

    A run bears on the capabilities of its scenario, so a capability filter reads only the
    runs of the scenarios that name it, by index (scenario_id, id), a page at a time. An
    unknown capability is refused, listing those that exist.
    """
    if capability:
        check_filter("capability", capability, snapshot.get(session).capability_slug.values())
    statement = select(BenchmarkRun)
    if scenario_id:
        statement = statement.where(BenchmarkRun.scenario_id == scenario_id)
    if state:
        statement = statement.where(BenchmarkRun.state == state)
    if capability:
        bearing = [s["id"] for s in scenarios() if capability in (s.get("capabilities") or [])]
        statement = statement.where(col(BenchmarkRun.scenario_id).in_(bearing))
    rows, next_cursor = keyset_page(
        session,
        statement,
        id_column=col(BenchmarkRun.id),
        sort="-id",
        sortable=SORTABLE,
        limit=limit,
        cursor=cursor,
    )
    runs = list(rows)
    if capability:  # the scenario's list when the run was made is what the run says
        runs = [r for r in runs if capability in (r.capability_slugs or [])]
    return runs, next_cursor


def runs_for_capability(session: Session, slug: str, limit: int = 20) -> list[BenchmarkRun]:
    """Return the latest runs bearing on a capability."""
    return list_runs(session, capability=slug, limit=limit)[0]


def latest_comparisons_for_claims(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Return, per claim slug, the newest succeeded runs' comparisons with that claim.

    One row per scenario and result field (the newest run's), so a claim shows each thing
    the simulations say about it: a test of a predicted figure, a finding beside it (the
    sustained throughput beside a peak), or that a scenario assumes it. Tests come first,
    then findings, then assumptions.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    seen: set[tuple[str, str, str]] = set()
    # Two scenarios can find a figure beside the same claim; their workloads tell them apart.
    workloads = {s["id"]: s.get("workload") for s in scenarios()}
    rows = session.exec(
        select(BenchmarkRun)
        .where(
            BenchmarkRun.state == RunState.succeeded.value,
            # A repetition shows what its original shows; the original is the one cited.
            col(BenchmarkRun.reproduces_run_id).is_(None),
        )
        .order_by(col(BenchmarkRun.id).desc())
        .limit(500)  # the newest runs hold the newest comparison for every claim in practice
    ).all()
    for run in rows:
        for comparison in comparisons(run.result or {}):
            slug = str(comparison.get("claim"))
            kind = comparison_kind(comparison)
            # An input is said once, however many scenarios take it.
            key = (
                (slug, "", kind)
                if kind == "assumed"
                else (slug, run.scenario_id or "", str(comparison.get("field")))
            )
            if key in seen:
                continue
            seen.add(key)
            found.setdefault(slug, []).append(
                {
                    **comparison,
                    "kind": kind,
                    "share": share_of_peak(comparison),
                    "run_id": run.id,
                    "run_title": run.title,
                    "workload": workloads.get(run.scenario_id or "") or run.title,
                }
            )
    order = {"test": 0, "finding": 1, "assumed": 2}
    for items in found.values():
        items.sort(key=lambda c: order[c["kind"]])
    return found


# Dimensions in which a finding is throughput sustained beside a claimed peak.
RATES = ("flop/s", "bytes/s")


def share_of_peak(comparison: dict[str, Any]) -> float | None:
    """The percentage of a claimed peak that a finding of sustained throughput reaches.

    None for anything else: a count of SoCs or the frame rate of an illustrative network is
    not a share of what the claim measured, and must not read like one.
    """
    claimed, simulated = comparison.get("claimed"), comparison.get("simulated")
    unit = UNITS.get(str(comparison.get("unit") or "").strip().lower().replace(" ", ""))
    if comparison_kind(comparison) != "finding" or unit is None or unit[0] not in RATES:
        return None
    if not isinstance(claimed, int | float) or not isinstance(simulated, int | float):
        return None
    return round(100 * simulated / claimed, 1) if claimed else None


def comparison_kind(comparison: dict[str, Any]) -> str:
    """Say what a comparison is: `assumed` (an input echoed), `finding` or `test`.

    Results from before comparisons said their role read `info` rows as findings.
    """
    if comparison.get("role") == "assumed" or comparison.get("verdict") == "assumed":
        return "assumed"
    if comparison.get("relation") == "info" or comparison.get("verdict") in ("info", "finding"):
        return "finding"
    return "test"


def comparisons(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the claim comparisons a simulator result carries.

    Each is {claim, claimed, simulated, unit, relation, verdict, role, assumption, note}; the
    verdict is consistent, contradicts, inconclusive (under the assumption), finding (a
    prediction shown beside the claim, such as sustained against peak) or assumed (the
    scenario takes the figure as an input).
    """
    return [c for c in result.get("comparisons") or [] if isinstance(c, dict) and c.get("claim")]


def cancel_run(session: Session, run_id: int, *, actor: str) -> BenchmarkRun:
    """Cancel a queued run now, or ask a running one to stop."""
    run = get_run(session, run_id)
    if run.state in FINISHED_STATES:
        raise ProblemError(409, "Already finished", f"Run {run_id} is {run.state}.")
    if run.state == RunState.queued:
        run.state = RunState.cancelled
        run.finished_at = utcnow()
        run.progress_message = f"cancelled by {actor}"
    run.cancel_requested = True
    session.add(run)
    bump_runs_version(session)
    session.commit()
    session.refresh(run)
    return run


def claim_next(session: Session, worker_id: str) -> BenchmarkRun | None:
    """Atomically take the oldest queued run; two workers never get the same one.

    The claim raises the run's `attempts`; that number is the holder's fencing token.
    """
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":
        picked = text(
            "SELECT id FROM benchmark_run WHERE state = 'queued' ORDER BY id "
            "FOR UPDATE SKIP LOCKED LIMIT 1"
        )
        row = session.execute(picked).first()
        if row is None:
            session.rollback()
            return None
        run_id = row[0]
    else:
        # SQLite serialises writers; the state check in the UPDATE makes the claim atomic.
        row = session.execute(
            text("SELECT id FROM benchmark_run WHERE state = 'queued' ORDER BY id LIMIT 1")
        ).first()
        if row is None:
            return None
        run_id = row[0]
    result = session.exec(
        update(BenchmarkRun)
        .where(and_(col(BenchmarkRun.id) == run_id, col(BenchmarkRun.state) == "queued"))
        .values(
            state="running",
            worker_id=worker_id,
            started_at=now,
            heartbeat_at=now,
            attempts=BenchmarkRun.attempts + 1,
            progress_message="started",
        )
    )
    bump_runs_version(session)
    session.commit()
    if result.rowcount != 1:
        return None
    return session.get(BenchmarkRun, run_id)


def held(run_id: int, attempt: int) -> Any:
    """The guard every holder's write carries: this run, this claim, still running."""
    return and_(
        col(BenchmarkRun.id) == run_id,
        col(BenchmarkRun.attempts) == attempt,
        col(BenchmarkRun.state) == RunState.running.value,
    )


def recover_stale(session: Session, *, stale_after_s: float) -> int:
    """Put back runs whose worker stopped sending heartbeats (killed or lost).

    A run whose claims all ended that way ``LEDGER_RUN_MAX_ATTEMPTS`` times is failed for good:
    it is what stops its workers, and would otherwise be retried forever.
    """
    cutoff = utcnow() - dt.timedelta(seconds=stale_after_s)
    limit = get_settings().run_max_attempts
    stale = and_(
        col(BenchmarkRun.state) == "running",
        or_(col(BenchmarkRun.heartbeat_at).is_(None), col(BenchmarkRun.heartbeat_at) < cutoff),
    )
    given_up = session.exec(
        update(BenchmarkRun)
        .where(and_(stale, col(BenchmarkRun.attempts) >= limit))
        .values(
            state=RunState.failed.value,
            worker_id=None,
            finished_at=utcnow(),
            progress_message="failed",
            error=f"Failed for good: its worker stopped responding on each of {limit} attempts.",
        )
    )
    result = session.exec(
        update(BenchmarkRun)
        .where(
            and_(
                col(BenchmarkRun.state) == "running",
                or_(
                    col(BenchmarkRun.heartbeat_at).is_(None),
                    col(BenchmarkRun.heartbeat_at) < cutoff,
                ),
            )
        )
        .values(
            state="queued",
            worker_id=None,
            progress=0.0,
            progress_message="requeued: its worker stopped responding",
        )
    )
    count = (result.rowcount or 0) + (given_up.rowcount or 0)
    if count:
        bump_runs_version(session)
    session.commit()
    return count


def hand_back(session: Session, run_id: int, attempt: int) -> bool:
    """Return a run this claim holds to the queue (graceful shutdown)."""
    result = session.exec(
        update(BenchmarkRun)
        .where(held(run_id, attempt))
        .values(
            state="queued",
            worker_id=None,
            progress=0.0,
            progress_message="handed back by a stopping worker",
        )
    )
    bump_runs_version(session)
    session.commit()
    return bool(result.rowcount)


class Holding(StrEnum):
    """What a holder learns when it reports: go on, stop (cancelled), or it lost the run."""

    held = "held"
    cancelled = "cancelled"
    lost = "lost"


def report_progress(
    session: Session, run_id: int, attempt: int, fraction: float, message: str
) -> Holding:
    """Record progress and a heartbeat, if this claim still holds the run."""
    result = session.exec(
        update(BenchmarkRun)
        .where(held(run_id, attempt))
        .values(
            progress=max(0.0, min(1.0, fraction)),
            progress_message=message[:300],
            heartbeat_at=utcnow(),
        )
    )
    if result.rowcount != 1:
        session.rollback()
        return Holding.lost
    bump_runs_version(session)
    session.commit()
    flag = session.execute(
        text("SELECT cancel_requested FROM benchmark_run WHERE id = :id"), {"id": run_id}
    ).scalar()
    return Holding.cancelled if flag else Holding.held


def heartbeat(session: Session, run_id: int, attempt: int) -> bool:
    """Tell the others this claim still holds the run; False when it does not any more."""
    result = session.exec(
        update(BenchmarkRun).where(held(run_id, attempt)).values(heartbeat_at=utcnow())
    )
    session.commit()
    return result.rowcount == 1


def outcome_of(session: Session, run_id: int, attempt: int) -> str | None:
    """Return the final state this claim recorded for the run, or None if it recorded none."""
    session.rollback()
    run = session.get(BenchmarkRun, run_id, populate_existing=True)
    if run is None or run.attempts != attempt or run.state not in FINISHED_STATES:
        return None
    return run.state


def touch_worker(
    session: Session,
    worker_id: str,
    *,
    kind: str,
    state: str,
    run_id: int | None = None,
    error: str | None = None,
) -> None:
    """Record that a worker is alive and what it is doing (its row is its own)."""
    now = utcnow()
    values: dict[str, Any] = {
        "kind": kind,
        "state": state,
        "run_id": run_id,
        "last_error": error[:300] if error else None,
        "last_seen_at": now,
    }
    updated = session.exec(
        update(BenchmarkWorker).where(col(BenchmarkWorker.worker_id) == worker_id).values(values)
    )
    if updated.rowcount == 0:
        session.add(BenchmarkWorker(worker_id=worker_id, started_at=now, **values))
    session.commit()


def forget_workers(session: Session, *, silent_for_s: float) -> int:
    """Delete the rows of workers not seen for a long time (stopped or gone for good)."""
    cutoff = utcnow() - dt.timedelta(seconds=silent_for_s)
    result = session.exec(delete(BenchmarkWorker).where(col(BenchmarkWorker.last_seen_at) < cutoff))
    session.commit()
    return result.rowcount or 0


# Runs of the bundled scenarios are queued by this actor; its runs record which runner
# version the bundled figures were last computed with.
BUNDLED_ACTOR = "bundled-scenarios"
_LIVE_STATES = (RunState.queued.value, RunState.running.value, RunState.succeeded.value)


def bundled_runner_version(session: Session) -> str | None:
    """Return the runner version of the latest bundled run, or None if none was ever queued."""
    return session.exec(
        select(BenchmarkRun.runner_version)
        .where(BenchmarkRun.actor == BUNDLED_ACTOR)
        .order_by(col(BenchmarkRun.id).desc())
        .limit(1)
    ).first()


def queue_bundled_scenarios(session: Session, *, again: bool = False) -> list[int]:
    """Queue a run of every bundled scenario the current runner has not run; return the ids.

    Idempotent: a scenario with a queued, running or succeeded bundled run at this runner
    version is skipped. `again` queues every scenario that is not already waiting in the queue.
    """
    _take_write_lock(session)
    states = (RunState.queued.value,) if again else _LIVE_STATES
    covered = set(
        session.exec(
            select(BenchmarkRun.scenario_id).where(
                BenchmarkRun.actor == BUNDLED_ACTOR,
                BenchmarkRun.runner_version == sim.RUNNER_VERSION,
                col(BenchmarkRun.state).in_(states),
            )
        ).all()
    )
    runs = [
        new_run(BenchmarkRunCreate(scenario_id=item["id"]), actor=BUNDLED_ACTOR)
        for item in scenarios()
        if item["id"] not in covered
    ]
    session.add_all(runs)
    bump_runs_version(session)
    session.flush()
    ids = [run.id for run in runs if run.id is not None]
    session.commit()  # one commit: the lock is held until every run is queued
    return ids


def requeue_bundled_if_runner_changed(session: Session) -> list[int]:
    """At start-up: queue the bundled scenarios again when the runner version has changed."""
    last = bundled_runner_version(session)
    if last is None or last == sim.RUNNER_VERSION:
        session.rollback()
        return []
    return queue_bundled_scenarios(session)


def _take_write_lock(session: Session) -> None:
    """Serialise concurrent queuers (several app processes start at once) before reading."""
    take_write_lock(session, _QUEUE_LOCK_KEY)


_QUEUE_LOCK_KEY = 0x62656E6368  # "bench"
