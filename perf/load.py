"""Load and fault suite: a bounded mixed workload against `ledger serve --workers 2` on PostgreSQL.

    .venv/bin/python perf/load.py                      # 60 s, faults on
    .venv/bin/python perf/load.py --duration 20        # the short run CI does
    .venv/bin/python perf/load.py --no-faults --json report.json

Everything runs against a throwaway PostgreSQL cluster that the suite starts on its own port in
a temporary folder (see perf/throwaway_pg.py), so it can stop that server for a ~3 s outage; the
shared server is never touched. One `ledger worker` process executes the runs. All traffic goes
to 127.0.0.1.

Workload, per virtual user in a loop: reads (lists, details, pages), guarded status updates
(GET for the ETag, then POST with If-Match), evidence creation and run submissions.

Faults, at 25 %, 50 % and 75 % of the duration: SIGKILL the worker (and start another),
SIGKILL one Uvicorn worker process, and stop the database for 3 s.

Then a run-queue abuse phase (``--abuse-seconds``, 0 to skip): readers alone for that long
(the quiet phase), then the same readers while another token abuses the run queue: oversized
sweeps (lists of 1,024 values), comparison notes with a width of 20,000, heavy sweeps the
schema allows, and bursts of submissions, from a process of its own (a separate client, as an
attacker is). Both send through perf/raw_client.py, at about a tenth of httpx's CPU per request:
on two cores shared with the server, httpx's clients took the CPU the ratio is meant to leave
to the server. Reader latency during the abuse must stay within 2x of the quiet phase (p50),
with no 5xx anywhere.

Afterwards it checks:
- history rows = accepted status writes (one row per 200, none for a 412);
- no version skipped: per capability, versions moved = history rows added, and no two
  accepted writes from the same If-Match version;
- every run submitted finished exactly once (succeeded, one success logged, and its evidence
  recorded once: one item per predicted figure its scenario tests, none for a scenario that only
  assumes claimed figures or states findings, see app/benchmarks/evidence.py);
- each scenario is checked once: the first run of a scenario records its evidence, and every
  later run repeats it figure for figure, records none and cites that first run;
- export -> import -> export is byte-identical.
It prints throughput, p50 and p99 per route, the errors, and the invariants; exit status 1
when an invariant fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.sim.scenarios import load_scenario  # noqa: E402
from perf.raw_client import RawClient  # noqa: E402
from perf.throwaway_pg import ThrowawayPostgres, free_port  # noqa: E402

LEDGER = str(Path(sys.executable).with_name("ledger"))
ACTOR_TOKEN_NAME = "load-suite"
LEVELS = ["aspirational", "built", "tested", "benchmarked"]
CHEAP_SCENARIOS = ["cabinet-allreduce", "dip-hbm-gemm", "tile-gpt-scaling"]
READ_ROUTES = [
    "/api/v1/capabilities",
    "/api/v1/capabilities/{slug}",
    "/api/v1/claims?limit=50",
    "/api/v1/evidence?limit=50",
    "/api/v1/benchmark-runs?limit=20",
    "/capabilities/{slug}",
    "/",
]
ABUSE_TOKEN_NAME = "abuser"
CLIENT = "readers' client"
ABUSERS = "abusers' client"
LEDGER_WRITES = "ledger writes"
WORKERS_OWN = "workers' own"
OVERSIZED_SWEEP = {
    "mode": "sweep",
    "spec": {
        "kind": "llm-training",
        "hardware": "dojo-exapod",
        "model": {"layers": 96, "hidden": 12288, "heads": 96, "seq_len": 2048},
        "batch": {"global": 1536},
        "sweep": {
            "tp": list(range(1, 1025)),
            "cp": list(range(1, 1025)),
            "pp": list(range(1, 1025)),
        },
    },
}
WIDE_NOTE = {
    "spec": {
        "kind": "consistency",
        "compare": [{"claim": "d1-tdp-400-w", "field": "checks", "note": "{checks:20000}"}],
    }
}
HEAVY_SWEEP = {"scenario_id": "exapod-gpt3-175b", "mode": "sweep"}


def _evidence_per_run(scenario_id: str) -> int:
    """The evidence items one run of a bundled scenario records, once: one per predicted test.

    Only a predicted figure tested (==, <=, >=) becomes evidence; assumed inputs and findings
    (`info` rows) are shown from the run's result and record nothing (docs/CONTRACTS.md). A
    scenario that compares nothing at all records one item per capability it names.
    """
    scenario = load_scenario(scenario_id)
    rows = scenario.get("compare") or []
    if not rows:
        return len(scenario.get("capabilities") or [])
    return sum(
        1
        for row in rows
        if row.get("role", "predicted") == "predicted" and row.get("relation") != "info"
    )


@dataclass
class Stats:
    """Latencies and outcomes per route, and what the writes did."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )
    transport_errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # One line per 5xx or lost answer: when, which route, what came back (so a failure names it)
    failures: list[str] = field(default_factory=list)
    # (slug, If-Match version, version after) of every accepted status write
    accepted_status: list[tuple[str, int, int]] = field(default_factory=list)
    refused_status: int = 0
    # (monotonic time answered, seconds taken) of each answer in the abuse phase: per-second p50s
    timeline: list[tuple[float, float]] = field(default_factory=list)
    unknown_status: int = 0
    evidence_created: int = 0
    runs_submitted: list[int] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    # CPU seconds the web server and the run workers used during the phase, and the load
    # average at its end: on a shared machine, what the latencies were measured against
    cpu: dict[str, float] = field(default_factory=dict)


class Ledger:
    """The processes under test: the app (2 Uvicorn workers) and a `ledger worker`."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.port = free_port()
        self.env = {
            **os.environ,
            "LEDGER_DATABASE_URL": url,
            "LEDGER_INPROCESS_WORKER": "false",
            "LEDGER_LOG_JSON": "true",
            "LEDGER_LOG_LEVEL": "WARNING",
        }
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []

    def ledger(self, *args: str) -> str:
        out = subprocess.run(
            [LEDGER, *args], env=self.env, cwd=ROOT, capture_output=True, text=True, check=True
        )
        return out.stdout

    def start_server(self) -> None:
        log = (self.folder / "serve.log").open("ab")
        self.server = subprocess.Popen(
            [LEDGER, "serve", "--workers", "2", "--port", str(self.port)],
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def start_worker(self) -> None:
        number = len(self.workers)
        log = (self.folder / f"worker{number}.log").open("ab")
        env = {**self.env, "LEDGER_LOG_LEVEL": "INFO"}
        self.workers.append(
            subprocess.Popen(
                [LEDGER, "worker", "--poll", "0.2", "--heartbeat", "0.5", "--stale-after", "5"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=log,
            )
        )

    def app_processes(self) -> list[int]:
        """Return the pids of the Uvicorn worker processes (children of `ledger serve`)."""
        assert self.server is not None
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by the web server's tree, the run workers' trees, this load
        generator (the readers' client), and every process on the machine."""
        assert self.server is not None
        workers = [w.pid for w in self.workers if w.poll() is None]
        return {
            "web": _tree_cpu_seconds(self.server.pid),
            "runs": sum(map(_tree_cpu_seconds, workers)),
            # The workers' own processes, at normal priority (their runs' children are idle-class).
            WORKERS_OWN: sum(_tree_cpu_seconds(pid, descendants=False) for pid in workers),
            CLIENT: time.process_time(),
            "machine": _machine_busy_seconds(),
            # Each moves the ledger's version, so every cached ledger page is rendered again.
            LEDGER_WRITES: _scalar(self.url, "SELECT counter FROM data_version WHERE id = 1"),
        }

    def stop(self) -> None:
        for process in [*self.workers, self.server]:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*self.workers, self.server]:
            if process is None:
                continue
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def succeeded_logs(self) -> dict[int, int]:
        """Count `run.succeeded` log lines per run over every worker's log."""
        counts: dict[int, int] = defaultdict(int)
        for path in self.folder.glob("worker*.log"):
            for line in path.read_text(errors="replace").splitlines():
                try:
                    item = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(item, dict) and item.get("event") == "run.succeeded":
                    counts[int(item["run_id"])] += 1
        return counts


def _machine_busy_seconds() -> float:
    """CPU seconds every core has spent busy (not idle or waiting on I/O) since boot."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int, descendants: bool = True) -> float:
    """User and system CPU of a process, and of its reaped children and live descendants."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        tasks = Path(f"/proc/{pid}/task").glob("*/children")
        children = [child for task in tasks for child in task.read_text().split()]
    except OSError:
        return 0.0  # it has exited
    if not descendants:
        return sum(int(ticks) for ticks in stat[11:13]) / os.sysconf("SC_CLK_TCK")
    own = sum(int(ticks) for ticks in stat[11:15]) / os.sysconf("SC_CLK_TCK")
    return own + sum(_tree_cpu_seconds(int(child)) for child in children)


def _lost(stats: Stats, key: str, started: float, exc: BaseException) -> None:
    """Record a request whose answer never came (a transport error or a timeout)."""
    stats.transport_errors[key] += 1
    stats.statuses[key][0] += 1
    stats.failures.append(
        f"{key}: lost after {time.perf_counter() - started:.1f} s ({type(exc).__name__}: {exc})"
    )


def _answered(
    stats: Stats, key: str, started: float, status: int, body: Callable[[], str]
) -> float:
    """Record an answer's latency and status (a 5xx with its body, read only then); return the
    latency."""
    took = time.perf_counter() - started
    stats.latencies[key].append(took)
    stats.statuses[key][status] += 1
    if status >= 500:
        stats.failures.append(f"{key}: {status} after {took:.1f} s: {body()[:300]!r}")
    return took


async def _timed(
    client: httpx.AsyncClient, stats: Stats, route: str, method: str, path: str, **kwargs: Any
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        _lost(stats, f"{method} {route}", started, exc)
        return None
    _answered(stats, f"{method} {route}", started, response.status_code, lambda: response.text)
    return response


async def _read(client: httpx.AsyncClient, stats: Stats, slugs: list[str]) -> None:
    route = random.choice(READ_ROUTES)
    await _timed(client, stats, route, "GET", route.replace("{slug}", random.choice(slugs)))


async def _status_update(client: httpx.AsyncClient, stats: Stats, slugs: list[str]) -> None:
    slug = random.choice(slugs[:4])  # a few hot capabilities: writers collide on purpose
    got = await _timed(
        client, stats, "/api/v1/capabilities/{slug}", "GET", f"/api/v1/capabilities/{slug}"
    )
    if got is None or got.status_code != 200:
        return
    before = int(got.json()["version"])
    body = {"status": random.choice(LEVELS), "reason_code": "override", "reason": "load suite"}
    response = await _timed(
        client,
        stats,
        "/api/v1/capabilities/{slug}/status",
        "POST",
        f"/api/v1/capabilities/{slug}/status",
        json=body,
        headers={"If-Match": got.headers["ETag"]},
    )
    if response is None or response.status_code >= 500:
        # The answer was lost (a killed process, an outage): the write may or may not have
        # committed, so it bounds the history from above but is no accepted write.
        stats.unknown_status += 1
    elif response.status_code == 200:
        stats.accepted_status.append((slug, before, int(response.json()["version"])))
    elif response.status_code == 412:
        stats.refused_status += 1


async def _evidence(client: httpx.AsyncClient, stats: Stats, slugs: list[str]) -> None:
    body = {
        "title": f"Load suite observation {random.getrandbits(40):x}",
        "kind": "third_party_report",
        "origin": "reported",
        "grade": "S",
        "date": "2023-01-15",
        "stance": "supports",
        "level": "aspirational",
        "capability": random.choice(slugs),
    }
    response = await _timed(
        client, stats, "/api/v1/evidence", "POST", "/api/v1/evidence", json=body
    )
    if response is not None and response.status_code == 201:
        stats.evidence_created += 1


async def _submit_run(client: httpx.AsyncClient, stats: Stats, _slugs: list[str]) -> None:
    body = {"scenario_id": random.choice(CHEAP_SCENARIOS)}
    response = await _timed(
        client, stats, "/api/v1/benchmark-runs", "POST", "/api/v1/benchmark-runs", json=body
    )
    if response is not None and response.status_code in (200, 201, 202):
        stats.runs_submitted.append(int(response.json()["id"]))


# (weight, operation): mostly reads, a steady stream of writes, a few runs.
OPERATIONS: list[tuple[int, Callable[..., Any]]] = [
    (60, _read),
    (20, _status_update),
    (15, _evidence),
    (5, _submit_run),
]


async def _user(base: str, token: str, stats: Stats, slugs: list[str], deadline: float) -> None:
    weights = [w for w, _ in OPERATIONS]
    operations = [op for _, op in OPERATIONS]
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=15.0) as client:
        while time.monotonic() < deadline:
            operation = random.choices(operations, weights)[0]
            await operation(client, stats, slugs)


async def _faults(
    ledger: Ledger, cluster: ThrowawayPostgres, stats: Stats, duration: float
) -> None:
    start = time.monotonic()

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, start + duration * fraction - time.monotonic()))

    await at(0.25)
    victim = ledger.workers[-1]
    victim.send_signal(signal.SIGKILL)
    stats.faults.append(f"{time.monotonic() - start:5.1f}s SIGKILL ledger worker {victim.pid}")
    await asyncio.sleep(1.0)
    ledger.start_worker()
    stats.faults.append(f"{time.monotonic() - start:5.1f}s started another ledger worker")
    await at(0.5)
    app_pids = ledger.app_processes()
    if app_pids:
        os.kill(app_pids[0], signal.SIGKILL)
        stats.faults.append(f"{time.monotonic() - start:5.1f}s SIGKILL app process {app_pids[0]}")
    await at(0.75)
    stats.faults.append(f"{time.monotonic() - start:5.1f}s database stopped for 3 s")
    await asyncio.to_thread(cluster.outage, 3.0)
    stats.faults.append(f"{time.monotonic() - start:5.1f}s database back")


async def _drive(
    ledger: Ledger, cluster: ThrowawayPostgres, token: str, slugs: list[str], args: Any
) -> tuple[Stats, float]:
    stats = Stats()
    base = f"http://127.0.0.1:{ledger.port}"
    started = time.monotonic()
    deadline = started + args.duration
    tasks = [_user(base, token, stats, slugs, deadline) for _ in range(args.users)]
    if args.faults:
        tasks.append(_faults(ledger, cluster, stats, args.duration))
    await asyncio.gather(*tasks)
    return stats, time.monotonic() - started


def _wait_ready(base: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"the app at {base} did not become ready")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _scalar(url: str, sql: str, **params: Any) -> Any:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def _rows(url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


@dataclass
class Baseline:
    """What the database held before the load."""

    history_overrides: int
    last_history_id: int
    versions: dict[int, int]


def _versions(url: str) -> dict[int, int]:
    return {int(i): int(v) for i, v in _rows(url, "SELECT id, version FROM capability")}


def _baseline(url: str) -> Baseline:
    return Baseline(
        history_overrides=_scalar(
            url,
            "SELECT COUNT(*) FROM status_change WHERE reason_code = 'override' AND actor LIKE :a",
            a=f"%{ACTOR_TOKEN_NAME}%",
        ),
        last_history_id=_scalar(url, "SELECT COALESCE(MAX(id), 0) FROM status_change"),
        versions=_versions(url),
    )


def _check_invariants(
    ledger: Ledger, cluster: ThrowawayPostgres, stats: Stats, start: Baseline
) -> dict[str, tuple[bool, str]]:
    url = ledger.url
    checks: dict[str, tuple[bool, str]] = {}

    history = _scalar(
        url,
        "SELECT COUNT(*) FROM status_change WHERE reason_code = 'override' AND actor LIKE :actor",
        actor=f"%{ACTOR_TOKEN_NAME}%",
    )
    accepted = len(stats.accepted_status)
    added = history - start.history_overrides
    checks["history rows = accepted writes"] = (
        accepted <= added <= accepted + stats.unknown_status,
        f"{added} override history rows for {accepted} accepted status writes "
        f"({stats.refused_status} refused with 412, {stats.unknown_status} whose answer was lost "
        "to a fault and may have committed)",
    )

    # Each write that changes a capability bumps its version by exactly one and writes one
    # history row for it, so versions moved = history rows added, per capability.
    after = _versions(url)
    added_rows = dict(
        _rows(
            url,
            "SELECT capability_id, COUNT(*) FROM status_change WHERE id > :last "
            "GROUP BY capability_id",
            last=start.last_history_id,
        )
    )
    skipped = {
        cap: (after[cap] - start.versions.get(cap, 0), added_rows.get(cap, 0))
        for cap in after
        if after[cap] - start.versions.get(cap, 0) != added_rows.get(cap, 0)
    }
    same_base: dict[tuple[str, int], int] = defaultdict(int)
    for slug, before, _after in stats.accepted_status:
        same_base[(slug, before)] += 1
    doubled = {key: n for key, n in same_base.items() if n > 1}
    examples = ", ".join(
        f"capability {cap}: version +{moved} for {rows} history rows"
        for cap, (moved, rows) in list(skipped.items())[:3]
    )
    checks["no version skipped"] = (
        not skipped and not doubled,
        f"{len(skipped)} capabilities whose version moved by other than their history rows"
        f"{' (' + examples + ')' if examples else ''}; {sum(doubled.values())} accepted writes "
        f"shared an If-Match version with another winner ({len(doubled)} versions)",
    )

    ids = stats.runs_submitted
    deadline = time.monotonic() + 180
    unfinished: list[Any] = ids
    while ids and time.monotonic() < deadline:
        unfinished = _rows(
            url,
            "SELECT id, state FROM benchmark_run WHERE id = ANY(:ids) AND state <> 'succeeded'",
            ids=ids,
        )
        if not unfinished:
            break
        time.sleep(1.0)
    evidence = dict(
        _rows(
            url,
            "SELECT benchmark_run_id, COUNT(*) FROM evidence WHERE benchmark_run_id = ANY(:ids) "
            "GROUP BY benchmark_run_id",
            ids=ids,
        )
    )
    attempts = dict(
        _rows(url, "SELECT id, attempts FROM benchmark_run WHERE id = ANY(:ids)", ids=ids)
    )
    scenario_of: dict[int, str] = {}
    repeats: dict[int, int] = {}  # run -> the original run whose check it repeated
    for run_id, scenario_id, original in _rows(
        url,
        "SELECT id, scenario_id, reproduces_run_id FROM benchmark_run WHERE id = ANY(:ids)",
        ids=ids,
    ):
        scenario_of[run_id] = scenario_id
        if original is not None:
            repeats[run_id] = original
    expected_evidence = {sid: _evidence_per_run(sid) for sid in set(scenario_of.values())}
    # A run records its scenario's items once; a run repeating an original records none.
    wrong_evidence = [
        i
        for i in ids
        if evidence.get(i, 0) != (0 if i in repeats else expected_evidence[scenario_of[i]])
    ]
    originals: dict[str, list[int]] = defaultdict(list)
    for i in ids:
        if i not in repeats:
            originals[scenario_of[i]].append(i)
    # Every scenario is checked once: one original, and every repeat cites it.
    checked_twice = [sid for sid, found in originals.items() if len(found) > 1]
    miscited = [
        i for i, original in repeats.items() if originals[scenario_of[i]] not in ([], [original])
    ]
    logged = ledger.succeeded_logs()
    twice = [i for i in ids if logged.get(i, 0) > 1]
    never = [i for i in ids if logged.get(i, 0) == 0]
    retried = sum(1 for i in ids if attempts.get(i, 1) > 1)
    # A SIGKILL can land between a run's commit and its log line: with faults, a run that
    # finished in the database (state, evidence) but left no log line is not a second run.
    killed_worker = any("worker" in fault for fault in stats.faults)
    checks["every run finished exactly once"] = (
        not unfinished
        and not wrong_evidence
        and not twice
        and (not never or (killed_worker and len(never) <= 1)),
        f"{len(ids)} runs: {len(unfinished) if ids else 0} unfinished, "
        f"{len(wrong_evidence)} with missing or duplicate evidence, {len(twice)} logged as "
        f"succeeded twice, {len(never)} never logged; {retried} were taken again after a fault",
    )
    checks["each scenario checked once"] = (
        not checked_twice and not miscited,
        f"{len(ids) - len(repeats)} runs recorded a check, {len(repeats)} repeated one "
        f"({len(originals)} scenarios); {len(checked_twice)} scenarios recorded twice, "
        f"{len(miscited)} repeats cite another run than their scenario's original",
    )

    folder = ledger.folder
    first, second = folder / "export-1.json", folder / "export-2.json"
    ledger.ledger("export", "-o", str(first))
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE ledger_copy"))
    copy = Ledger(cluster.url("ledger_copy"), folder)
    copy.ledger("db", "upgrade")
    copy.ledger("import", str(first))
    copy.ledger("export", "-o", str(second))
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE ledger_copy WITH (FORCE)"))
    admin.dispose()
    identical = first.read_bytes() == second.read_bytes()
    checks["export -> import -> export identical"] = (
        identical,
        f"{first.stat().st_size:,} bytes, " + ("identical" if identical else "DIFFERENT"),
    )
    return checks


def _report(stats: Stats, elapsed: float, checks: dict[str, tuple[bool, str]]) -> dict[str, Any]:
    routes = []
    total = 0
    for route in sorted(set(stats.statuses)):
        latencies = stats.latencies.get(route, [])
        codes = dict(sorted(stats.statuses[route].items()))
        count = sum(codes.values())
        total += count
        errors = sum(n for code, n in codes.items() if code == 0 or code >= 500)
        routes.append(
            {
                "route": route,
                "requests": count,
                "per_s": round(count / elapsed, 1),
                "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
                "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
                "errors": errors,
                "statuses": {str(code or "transport"): n for code, n in codes.items()},
            }
        )
    return {
        "seconds": round(elapsed, 1),
        "requests": total,
        "per_s": round(total / elapsed, 1),
        "routes": routes,
        "faults": stats.faults,
        "invariants": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()},
    }


def _print(report: dict[str, Any]) -> None:
    print(f"\n{report['requests']} requests in {report['seconds']} s: {report['per_s']} req/s\n")
    print(
        f"{'route':<44} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}  statuses"
    )
    for row in report["routes"]:
        print(
            f"{row['route']:<44} {row['requests']:>6} {row['per_s']:>7} {row['p50_ms']:>8} "
            f"{row['p99_ms']:>8} {row['errors']:>6}  {row['statuses']}"
        )
    if report.get("abuse"):
        print(f"\nrun-queue abuse ({report['abuse']['seconds_per_phase']} s per phase):")
        print(
            f"{'phase':<44} {'req':>6} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'5xx':>6}  statuses"
        )
        for row in report["abuse"]["rows"]:
            print(
                f"{row['phase']:<44} {row['requests']:>6} {row['per_s']:>7} {row['p50_ms']:>8} "
                f"{row['p99_ms']:>8} {row['5xx']:>6}  {row['statuses']}"
            )
        for phase, values in report["abuse"]["per_second_p50_ms"].items():
            print(f"reader p50 per second, {phase}: {' '.join(str(v) for v in values)}")
        print(f"\n{'reader route':<44} {'quiet p50':>10} {'abuse p50':>10} {'ratio':>6}")
        for row in report["abuse"]["readers"]:
            quiet, loud = row["quiet_p50_ms"], row["loud_p50_ms"]
            ratio = f"{loud / quiet:.2f}x" if quiet else "-"
            print(f"{row['route']:<44} {quiet:>10} {loud:>10} {ratio:>6}")
        for row in report["abuse"]["rows"][:2]:
            used = row["cpu"]
            per_request = 1000 * used.get("web", 0.0) / max(row["requests"], 1)
            print(
                # During the abuse the web server's CPU includes the abusers' requests too.
                f"{row['phase']}: web server {used.get('web')} CPU s ({per_request:.1f} ms per "
                f"reader request, all requests' CPU), run workers {used.get('runs')} CPU s "
                f"({used.get(WORKERS_OWN)} in the workers' own processes), "
                f"readers' client {used.get(CLIENT)} CPU s, abusers' client "
                f"{used.get(ABUSERS, 0.0)} CPU s, whole machine "
                f"{used.get('machine')} of {os.cpu_count()} x {report['abuse']['seconds_per_phase']}"
                f" CPU s, load average {used.get('load average')}, "
                f"{used.get(LEDGER_WRITES, 0):.0f} ledger writes"
            )
    if report["faults"]:
        print("\nfaults:")
        for line in report["faults"]:
            print(f"  {line}")
    print("\ninvariants:")
    for name, result in report["invariants"].items():
        print(f"  {'PASS' if result['ok'] else 'FAIL'}  {name}: {result['detail']}")


async def _raw_timed(
    client: RawClient, stats: Stats, route: str, method: str, path: str, body: Any = None
) -> None:
    """Send one request through the lean client; record it as `_timed` does, and when."""
    started = time.perf_counter()
    try:
        status, answer = await asyncio.wait_for(client.request(method, path, body), 15.0)
    except (TimeoutError, OSError, ValueError) as exc:
        _lost(stats, f"{method} {route}", started, exc)
        return
    took = _answered(
        stats, f"{method} {route}", started, status, lambda: answer.decode(errors="replace")
    )
    stats.timeline.append((time.monotonic(), took))


async def _readers(port: int, token: str, stats: Stats, slugs: list[str], deadline: float) -> None:
    """Read in a loop, through the lean client: the phase measures the server, not the client."""
    client = RawClient(port, {"Authorization": f"Bearer {token}"})
    try:
        while time.monotonic() < deadline:
            route = random.choice(READ_ROUTES)
            path = route.replace("{slug}", random.choice(slugs))
            await _raw_timed(client, stats, route, "GET", path)
    finally:
        await client.close()


async def _abuser(port: int, token: str, stats: Stats, deadline: float) -> None:
    """Everything a client may try on the run queue, over and over, from one token."""
    client = RawClient(port, {"Authorization": f"Bearer {token}"})
    path = "/api/v1/benchmark-runs"
    try:
        while time.monotonic() < deadline:
            await _raw_timed(client, stats, "oversized sweep", "POST", path, OVERSIZED_SWEEP)
            await _raw_timed(client, stats, "note width 20,000", "POST", path, WIDE_NOTE)
            await _raw_timed(client, stats, "heavy sweep", "POST", path, HEAVY_SWEEP)
            burst = {"scenario_id": "dip-hbm-gemm"}
            await asyncio.gather(
                *[_raw_timed(client, stats, "burst", "POST", path, burst) for _ in range(20)]
            )
            await asyncio.sleep(0.2)
    finally:
        await client.close()


def _abusers_elsewhere(port: int, token: str, start_at: float, seconds: float) -> dict[str, Any]:
    """Run two abusers in this (separate) process from `start_at` (epoch seconds); return Stats.

    The attacker is another client: in the readers' process, its bursts would queue the readers'
    requests in the load generator's own event loop, and the ratio would measure the client.
    """
    stats = Stats()

    async def both() -> None:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            _abuser(port, token, stats, deadline), _abuser(port, token, stats, deadline)
        )

    started = time.process_time()
    asyncio.run(both())
    return {
        "cpu": round(time.process_time() - started, 2),
        "latencies": dict(stats.latencies),
        "statuses": {route: dict(codes) for route, codes in stats.statuses.items()},
        "failures": stats.failures,
    }


def _cpu_used(cpu: Callable[[], dict[str, float]], before: dict[str, float]) -> dict[str, float]:
    return {
        **{name: round(used - before[name], 2) for name, used in cpu().items()},
        "load average": os.getloadavg()[0],
    }


async def _abuse(
    base: str,
    token: str,
    abuse_token: str,
    slugs: list[str],
    seconds: float,
    users: int,
    cpu: Callable[[], dict[str, float]],
) -> tuple[Stats, Stats, Stats]:
    quiet, loud, abuse = Stats(), Stats(), Stats()
    port = int(base.rsplit(":", 1)[1])
    deadline = time.monotonic() + seconds
    before = cpu()
    await asyncio.gather(*[_readers(port, token, quiet, slugs, deadline) for _ in range(users)])
    quiet.cpu = _cpu_used(cpu, before)
    # A session of its own: with autogroups, a process in the readers' session would take its
    # CPU share from the readers' client, and the ratio would measure the load generator.
    with ProcessPoolExecutor(max_workers=1, initializer=os.setsid) as pool:
        start_at = time.time() + 5.0  # time for the abusers' process to start and import
        abusers = pool.submit(_abusers_elsewhere, port, abuse_token, start_at, seconds)
        await asyncio.sleep(max(0.0, start_at - time.time()))
        deadline = time.monotonic() + seconds
        before = cpu()
        await asyncio.gather(*[_readers(port, token, loud, slugs, deadline) for _ in range(users)])
        loud.cpu = _cpu_used(cpu, before)
        found = abusers.result()
        loud.cpu[ABUSERS] = found["cpu"]
    abuse.latencies.update(found["latencies"])
    for route, codes in found["statuses"].items():
        abuse.statuses[route].update({int(code): n for code, n in codes.items()})
    abuse.failures.extend(found["failures"])
    return quiet, loud, abuse


def _phase_row(name: str, stats: Stats, seconds: float) -> dict[str, Any]:
    latencies = [x for values in stats.latencies.values() for x in values]
    codes: dict[int, int] = defaultdict(int)
    for per_route in stats.statuses.values():
        for code, n in per_route.items():
            codes[code] += n
    return {
        "phase": name,
        "requests": sum(codes.values()),
        "per_s": round(sum(codes.values()) / seconds, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "5xx": sum(n for code, n in codes.items() if code == 0 or code >= 500),
        "statuses": {str(code or "transport"): n for code, n in sorted(codes.items())},
        "cpu": stats.cpu,
    }


def _abuse_report(
    quiet: Stats, loud: Stats, abuse: Stats, seconds: float
) -> tuple[dict[str, Any], dict[str, tuple[bool, str]]]:
    rows = [
        _phase_row("readers, quiet", quiet, seconds),
        _phase_row("readers, during abuse", loud, seconds),
    ]
    for route in sorted(abuse.statuses):
        one = Stats()
        one.latencies[route] = abuse.latencies.get(route, [])
        one.statuses[route] = abuse.statuses[route]
        rows.append(_phase_row(f"abuse: {route}", one, seconds))
    quiet_p50, loud_p50 = rows[0]["p50_ms"], rows[1]["p50_ms"]
    # Per reader route, quiet against loud: which read the abuse slows, not only by how much.
    per_route = [
        {
            "route": route,
            "quiet_p50_ms": round(_percentile(quiet.latencies[route], 0.50) * 1000, 1),
            "loud_p50_ms": round(_percentile(loud.latencies.get(route, []), 0.50) * 1000, 1),
        }
        for route in sorted(quiet.latencies)
    ]
    errors = sum(row["5xx"] for row in rows)
    failures = [*quiet.failures, *loud.failures, *abuse.failures]
    checks = {
        "readers within 2x during queue abuse": (
            loud_p50 <= 2 * quiet_p50,
            f"reader p50 {loud_p50} ms during the abuse, {quiet_p50} ms quiet "
            f"({loud_p50 / quiet_p50 if quiet_p50 else float('nan'):.2f}x); p99 "
            f"{rows[1]['p99_ms']} ms against {rows[0]['p99_ms']} ms",
        ),
        "no 5xx during queue abuse": (
            errors == 0,
            f"{errors} answers were 5xx or lost" + "".join(f"; {line}" for line in failures[:5]),
        ),
    }
    seconds_p50 = {
        name: _per_second_p50(stats.timeline) for name, stats in (("quiet", quiet), ("abuse", loud))
    }
    return {
        "seconds_per_phase": seconds,
        "rows": rows,
        "readers": per_route,
        "per_second_p50_ms": seconds_p50,
    }, checks


def _per_second_p50(timeline: list[tuple[float, float]]) -> list[float]:
    """Reader p50 (ms) in each second of a phase: a stall shows as a few slow seconds."""
    if not timeline:
        return []
    first = min(at for at, _ in timeline)
    seconds: dict[int, list[float]] = defaultdict(list)
    for at, latency in timeline:
        seconds[int(at - first)].append(latency)
    return [round(_percentile(seconds[i], 0.5) * 1000, 1) for i in sorted(seconds)]


def run(duration: float, users: int, faults: bool, abuse_seconds: float = 10.0) -> dict[str, Any]:
    """Run the suite; return the report (see the module docstring)."""
    args = argparse.Namespace(duration=duration, users=users, faults=faults)
    cluster = ThrowawayPostgres().create()
    folder = Path(tempfile.mkdtemp(prefix="ledger-load-"))
    ledger: Ledger | None = None
    try:
        admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE ledger_load"))
        admin.dispose()
        ledger = Ledger(cluster.url("ledger_load"), folder)
        ledger.ledger("db", "upgrade")
        _seed(ledger.url)
        token = ledger.ledger("token", "create", ACTOR_TOKEN_NAME, "--scope", "write").strip()
        slugs = [row[0] for row in _rows(ledger.url, "SELECT slug FROM capability ORDER BY id")]
        start = _baseline(ledger.url)
        ledger.start_server()
        ledger.start_worker()
        _wait_ready(f"http://127.0.0.1:{ledger.port}")
        # A thread of its own: the caller (a test runner, say) may already run an event loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            drive = pool.submit(asyncio.run, _drive(ledger, cluster, token, slugs, args))
            stats, elapsed = drive.result()
        checks = _check_invariants(ledger, cluster, stats, start)
        report = _report(stats, elapsed, checks)
        if abuse_seconds > 0:
            abuse_token = ledger.ledger(
                "token", "create", ABUSE_TOKEN_NAME, "--scope", "write"
            ).strip()
            base = f"http://127.0.0.1:{ledger.port}"
            with ThreadPoolExecutor(max_workers=1) as pool:
                phases = pool.submit(
                    asyncio.run,
                    _abuse(
                        base, token, abuse_token, slugs, abuse_seconds, users, ledger.cpu_seconds
                    ),
                ).result()
            report["abuse"], more = _abuse_report(*phases, abuse_seconds)
            report["invariants"].update(
                {name: {"ok": ok, "detail": detail} for name, (ok, detail) in more.items()}
            )
        return report
    finally:
        if ledger is not None:
            ledger.stop()
        cluster.destroy()


def _seed(url: str) -> None:
    """Load the seed data without queuing the bundled scenarios (the load submits its own)."""
    from sqlmodel import Session

    from app.core.db import make_engine
    from app.seed.service import seed

    engine = make_engine(url)
    with Session(engine) as session:
        seed(session, ROOT / "seed_data")
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of load (60).")
    parser.add_argument("--users", type=int, default=8, help="Concurrent virtual users (8).")
    parser.add_argument(
        "--faults", action=argparse.BooleanOptionalAction, default=True, help="Inject faults."
    )
    parser.add_argument(
        "--abuse-seconds",
        type=float,
        default=10.0,
        help="Seconds of each run-queue abuse phase, quiet and loud (10; 0 skips it).",
    )
    parser.add_argument("--json", type=Path, help="Also write the report here.")
    args = parser.parse_args()
    report = run(args.duration, args.users, args.faults, args.abuse_seconds)
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if all(r["ok"] for r in report["invariants"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
