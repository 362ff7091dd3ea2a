"""How the ledger's latency grows with its size: the seed against the seed copied ~140 times.

Builds two SQLite databases (or PostgreSQL ones with --postgres URL): the seed, and the seed
copied with new slugs through `ledger export` / `ledger import` until it holds about 20,000
claims and 20,000 evidence items. Serves each with one Uvicorn worker on 127.0.0.1, times the
same requests against both, side by side, and prints p50 per request and the size ratio.
A benchmark, not a timed test.

    .venv/bin/python perf/scale.py [--copies 138] [--repeats 15] [--postgres URL]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perf.api_bench import free_port, wait_up  # noqa: E402

COPIED = ("events", "capabilities", "claims", "evidence", "status_changes")
REFERENCES = {  # column -> table whose ids it holds
    "event_id": "events",
    "capability_id": "capabilities",
    "parent_id": "capabilities",
    "claim_id": "claims",
    "restates_id": "claims",
}


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


def grown(seed: dict[str, Any], copies: int) -> dict[str, Any]:
    """Return the seed plus `copies` copies of it with new ids and slugs."""
    out = {key: list(value) if key in COPIED else value for key, value in seed.items()}
    top = {t: max((r["id"] for r in seed[t]), default=0) for t in COPIED}
    for n in range(1, copies + 1):
        for table in COPIED:
            for row in seed[table]:
                copy = dict(row, id=row["id"] + n * top[table])
                if "slug" in copy:
                    copy["slug"] = f"{copy['slug'][:110]}-c{n}"
                for column, target in REFERENCES.items():
                    if copy.get(column) is not None:
                        copy[column] = copy[column] + n * top[target]
                if table == "status_changes":
                    copy["evidence_ids"] = [
                        i + n * top["evidence"] for i in row.get("evidence_ids") or []
                    ]
                out[table].append(copy)
    return out


def fresh_database(kind: str, folder: Path, name: str, postgres: str | None) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / name}.db"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert postgres is not None
    database = f"ledger_scale_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(postgres).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    return make_url(postgres).set(database=database).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


class Server:
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
        self.process.terminate()
        self.process.wait(timeout=30)


def measure(server: Server, repeats: int) -> dict[str, float]:
    """Return the median seconds of each request kind."""
    times: dict[str, list[float]] = {}

    def record(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    slug = "dojo-interface-processor"
    for i in range(repeats):
        etag = server.call("GET", f"/api/v1/capabilities/{slug}")[1][0]
        body = {"status": "built", "reason": "Scale run"} if i % 2 == 0 else {
            "clear_override": True, "reason": "Scale run"}  # fmt: skip
        record("status write", server.call(
            "POST", f"/api/v1/capabilities/{slug}/status", body, **{"If-Match": etag})[0])  # fmt: skip
        record("claims list after a write", server.call("GET", "/api/v1/claims?limit=50")[0])
        record("claims list (cached)", server.call("GET", "/api/v1/claims?limit=50")[0])
        record("evidence creation", server.call("POST", "/api/v1/evidence", {
            "title": "Scale run item", "kind": "third_party_report", "origin": "reported",
            "grade": "S", "date": "2024-05-01", "stance": "supports", "level": "built",
            "capability": slug})[0])  # fmt: skip
        record("capability page", server.call("GET", f"/capabilities/{slug}")[0])
        record("timeline", server.call("GET", "/timeline")[0])
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=138)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--postgres", default=None, help="Admin URL; default: SQLite")
    args = parser.parse_args()
    kind = "postgres" if args.postgres else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        seed_url = fresh_database(kind, folder, "seed", args.postgres)
        big_url = fresh_database(kind, folder, "big", args.postgres)
        try:
            ledger(seed_url, "db", "upgrade")
            ledger(seed_url, "seed")
            dump = folder / "seed.json"
            ledger(seed_url, "export", "--output", str(dump))
            data = grown(json.loads(dump.read_text()), args.copies)
            (folder / "big.json").write_text(json.dumps(data, default=str))
            ledger(big_url, "db", "upgrade")
            ledger(big_url, "import", str(folder / "big.json"))
            sizes = {t: len(data[t]) for t in ("claims", "evidence", "capabilities")}
            print(
                f"{kind}: grown ledger {sizes}; seed {len(json.loads(dump.read_text())['claims'])} claims"
            )
            results = {}
            for label, url in (("seed", seed_url), ("grown", big_url)):
                server = Server(url)
                try:
                    results[label] = measure(server, args.repeats)
                finally:
                    server.stop()
            print(f"{'request':<28}{'seed p50 ms':>12}{'grown p50 ms':>14}{'ratio':>8}")
            for name, seed_time in results["seed"].items():
                big_time = results["grown"][name]
                print(f"{name:<28}{seed_time * 1000:>12.1f}{big_time * 1000:>14.1f}"
                      f"{big_time / seed_time:>8.1f}")  # fmt: skip
        finally:
            drop_database(seed_url)
            drop_database(big_url)


if __name__ == "__main__":
    main()
