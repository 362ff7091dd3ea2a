"""How the ledger's latency grows with its size, on two shapes and both databases.

Builds, per database (SQLite in a temporary folder, PostgreSQL on the shared server), the
seed and a grown ledger of about 20,000 claims and 20,000 evidence items, through
`ledger export` / `ledger import`:

- wide: the seed copied whole, with new slugs, many small hierarchies;
- deep: the seed's 13 capabilities only, the claims and evidence copied under them, most
  under the Dojo hierarchy, as a ledger that follows one programme for years would be.

Serves each with one Uvicorn worker on 127.0.0.1, times the same requests against both in
several rounds, and prints one table: per shape and database, the median of the rounds' p50
of each request, and the claims list's ratio to its time on the seed. Goals: status write and
evidence creation at most 100 ms, capability page and timeline at most 300 ms, claims list at
most 2x. A benchmark, not a timed test; the machine's load is printed with the table.

    .venv/bin/python perf/scale.py [--shape deep|wide|both] [--db sqlite|postgres|both]
        [--claims 20000] [--repeats 9] [--rounds 3] [--postgres URL]

`ledgers()` and `served()` are the reusable pieces (perf/as_of.py can build the same ledgers).
"""

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perf.api_bench import free_port, wait_up  # noqa: E402

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COPIED = ("events", "capabilities", "claims", "evidence", "status_changes")
REFERENCES = {  # column -> table whose ids it holds
    "event_id": "events",
    "capability_id": "capabilities",
    "parent_id": "capabilities",
    "claim_id": "claims",
    "restates_id": "claims",
}
DEEP_ROOT = "dojo-exapod"  # the hierarchy a deep ledger grows under
DEEP_SHARE = 0.75  # of the grown claims and evidence, under that hierarchy
SLUG = "dojo-interface-processor"  # the capability written and read
GOALS_MS = {"status write": 100, "evidence creation": 100, "capability page": 300,
            "timeline": 300}  # fmt: skip
CLAIMS_GOAL = 2.0


def ledger(url: str, *args: str) -> str:
    """Run the `ledger` command line against one database and return its output."""
    env = {**os.environ, "LEDGER_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def _copy(
    row: dict[str, Any], n: int, top: Mapping[str, int], kept: Mapping[str, set[int]]
) -> dict[str, Any]:
    """Copy one row as copy `n`: new id and slug; references into rows of copy `n` follow it.

    A reference to a row that copy `n` does not hold (`kept` names the ids each table's copy
    holds) stays on the original.
    """
    copy = dict(row)
    if "slug" in copy:
        copy["slug"] = f"{copy['slug'][:110]}-c{n}"
    for column, target in REFERENCES.items():
        value = copy.get(column)
        if value is not None and value in kept[target]:
            copy[column] = value + n * top[target]
    if "evidence_ids" in copy:
        copy["evidence_ids"] = [
            i + n * top["evidence"] if i in kept["evidence"] else i
            for i in row.get("evidence_ids") or []
        ]
    return copy


def grown(seed: dict[str, Any], copies: int) -> dict[str, Any]:
    """Return the seed plus `copies` copies of it with new ids and slugs (the wide shape)."""
    out = {key: list(value) if key in COPIED else value for key, value in seed.items()}
    top = {t: max((r["id"] for r in seed[t]), default=0) for t in COPIED}
    every = {t: {r["id"] for r in seed[t]} for t in COPIED}
    for n in range(1, copies + 1):
        for table in COPIED:
            for row in seed[table]:
                out[table].append(dict(_copy(row, n, top, every), id=row["id"] + n * top[table]))
    return out


def _subtree(capabilities: list[dict[str, Any]], root_slug: str) -> set[int]:
    ids = {c["id"] for c in capabilities if c["slug"] == root_slug}
    while True:
        more = {c["id"] for c in capabilities if c.get("parent_id") in ids} - ids
        if not more:
            return ids
        ids |= more


def deepened(seed: dict[str, Any], claims: int, evidence: int) -> dict[str, Any]:
    """Return the seed with claims and evidence copied under its own capabilities (deep shape).

    Copies of the whole seed's claims and evidence alternate with copies of the Dojo
    hierarchy's alone, so that about DEEP_SHARE of the grown ledger sits under that hierarchy.
    Each copy's status history comes along, as years of following one programme would add.
    """
    out = {key: list(value) if key in COPIED else value for key, value in seed.items()}
    grows = ("claims", "evidence", "status_changes")
    top = {t: max((r["id"] for r in seed[t]), default=0) for t in COPIED}
    dojo = _subtree(seed["capabilities"], DEEP_ROOT)
    wanted = {"claims": claims, "evidence": evidence}
    n = 0
    while any(len(out[t]) < wanted[t] for t in wanted):
        n += 1
        inside = {t: [r for r in seed[t] if r["capability_id"] in dojo] for t in grows}
        under = sum(1 for r in out["claims"] if r["capability_id"] in dojo)
        whole = under >= DEEP_SHARE * len(out["claims"])
        rows = {t: seed[t] if whole else inside[t] for t in grows}
        for t in wanted:  # stop each table at its size
            rows[t] = rows[t][: max(0, wanted[t] - len(out[t]))]
        kept = {t: {r["id"] for r in rows.get(t, [])} for t in COPIED}
        for table in grows:
            for row in rows[table]:
                out[table].append(dict(_copy(row, n, top, kept), id=row["id"] + n * top[table]))
    return out


def fresh_database(kind: str, folder: Path, name: str, postgres: str) -> str:
    """Create an empty database and return its URL."""
    if kind == "sqlite":
        return f"sqlite:///{folder / name}.db"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    database = f"ledger_scale_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(postgres).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return make_url(postgres).set(database=database).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    """Drop a database made by fresh_database (a SQLite file goes with its folder)."""
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


@dataclass
class Ledgers:
    """The databases built for one database kind: the seed and each grown shape, by label."""

    kind: str
    urls: dict[str, str]
    sizes: dict[str, dict[str, int]]


@contextlib.contextmanager
def ledgers(
    kind: str, shapes: tuple[str, ...], claims: int = 20_000, postgres: str = POSTGRES
) -> Iterator[Ledgers]:
    """Build the seeded database and one grown database per shape; drop them all after."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls: dict[str, str] = {}
        sizes: dict[str, dict[str, int]] = {}
        try:
            urls["seed"] = fresh_database(kind, folder, "seed", postgres)
            ledger(urls["seed"], "db", "upgrade")
            ledger(urls["seed"], "seed")
            dump = folder / "seed.json"
            ledger(urls["seed"], "export", "--output", str(dump))
            seed = json.loads(dump.read_text())
            sizes["seed"] = {t: len(seed[t]) for t in ("capabilities", "claims", "evidence")}
            for shape in shapes:
                if shape == "wide":
                    data = grown(seed, max(0, round(claims / len(seed["claims"])) - 1))
                else:
                    data = deepened(seed, claims, claims)
                urls[shape] = fresh_database(kind, folder, shape, postgres)
                (folder / f"{shape}.json").write_text(json.dumps(data, default=str))
                ledger(urls[shape], "db", "upgrade")
                ledger(urls[shape], "import", str(folder / f"{shape}.json"))
                sizes[shape] = {t: len(data[t]) for t in ("capabilities", "claims", "evidence")}
            yield Ledgers(kind, urls, sizes)
        finally:
            for url in urls.values():
                drop_database(url)


class Server:
    """One Uvicorn worker serving one database, with a write token."""

    def __init__(self, url: str) -> None:
        self.port = free_port()
        env = {**os.environ, "LEDGER_DATABASE_URL": url, "LEDGER_INPROCESS_WORKER": "false",
               "LEDGER_LOG_LEVEL": "WARNING"}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        self.base = f"http://127.0.0.1:{self.port}"
        wait_up(self.base + "/api/v1/status-levels", timeout=120)
        self.token = ledger(url, "token", "create", "scale", "--scope", "write").strip()

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[float, Any]:
        """Send one request; return the seconds it took and (ETag, body)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
                "Accept": "text/html" if not path.startswith("/api") else "application/json",
                **headers,
            },
        )
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as response:
            payload = response.read()
            etag = response.headers.get("ETag")
        elapsed = time.perf_counter() - start
        return elapsed, (etag, payload)

    def stop(self) -> None:
        """Stop the worker."""
        self.process.terminate()
        self.process.wait(timeout=30)


Measure = Callable[[Server, int], dict[str, float]]


def served(
    urls: Mapping[str, str], measure: Measure, repeats: int, rounds: int = 1
) -> dict[str, dict[str, float]]:
    """Serve each database in turn and return, per label, the median over rounds of `measure`."""
    results: dict[str, dict[str, float]] = {}
    for label, url in urls.items():
        server = Server(url)
        try:
            server.call("GET", "/")  # the snapshot, built at start-up
            found = [measure(server, repeats) for _ in range(rounds)]
        finally:
            server.stop()
        results[label] = {name: statistics.median(r[name] for r in found) for name in found[0]}
    return results


def measure(server: Server, repeats: int) -> dict[str, float]:
    """Return the median seconds of each request kind, each read just after a write."""
    times: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    for i in range(repeats):
        etag = server.call("GET", f"/api/v1/capabilities/{SLUG}")[1][0]
        body = {"status": "built", "reason": "Scale run"} if i % 2 == 0 else {
            "clear_override": True, "reason": "Scale run"}  # fmt: skip
        record("status write", server.call(
            "POST", f"/api/v1/capabilities/{SLUG}/status", body, **{"If-Match": etag})[0])  # fmt: skip
        record("claims list", server.call("GET", "/api/v1/claims?limit=50")[0])
        record("claims list (cached)", server.call("GET", "/api/v1/claims?limit=50")[0])
        record("evidence creation", server.call("POST", "/api/v1/evidence", {
            "title": "Scale run item", "kind": "third_party_report", "origin": "reported",
            "grade": "S", "date": "2024-05-01", "stance": "supports", "level": "built",
            "capability": SLUG})[0])  # fmt: skip
        record("capability page", server.call("GET", f"/capabilities/{SLUG}")[0])
        record("timeline", server.call("GET", "/timeline")[0])
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--shape", choices=("deep", "wide", "both"), default="both")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=POSTGRES, help="admin URL of the PostgreSQL server")
    args = parser.parse_args()
    shapes = ("deep", "wide") if args.shape == "both" else (args.shape,)
    kinds = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    columns = ("status write", "evidence creation", "capability page", "timeline",
               "claims list", "claims list (cached)")  # fmt: skip
    rows = []
    loads = [os.getloadavg()]
    for kind in kinds:
        with ledgers(kind, shapes, args.claims, args.postgres) as built:
            for shape in shapes:
                print(
                    f"{kind} {shape}: {built.sizes[shape]}; seed {built.sizes['seed']}", flush=True
                )
            results = served(built.urls, measure, args.repeats, args.rounds)
        loads.append(os.getloadavg())
        for label, found in results.items():
            ratio = found["claims list"] / results["seed"]["claims list"]
            rows.append((label, kind, [found[c] * 1000 for c in columns], ratio))
    print(
        f"\n{'shape':<6}{'db':<10}"
        + "".join(f"{c[:18]:>19}" for c in columns)
        + f"{'claims x seed':>15}"
    )
    for label, kind, values, ratio in rows:
        print(f"{label:<6}{kind:<10}" + "".join(f"{v:>19.1f}" for v in values) + f"{ratio:>15.2f}")
    print(f"p50 ms, median of {args.rounds} rounds of {args.repeats}; goals: "
          + ", ".join(f"{k} <= {v} ms" for k, v in GOALS_MS.items())
          + f", claims list <= {CLAIMS_GOAL}x seed")  # fmt: skip
    print("load average (1, 5, 15 min) at start and after each database: "
          + "; ".join(" ".join(f"{x:.2f}" for x in load) for load in loads))  # fmt: skip
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
