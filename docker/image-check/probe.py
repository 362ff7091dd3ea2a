"""HTTP checks of a running ledger container, for `make image-check` (docker/image-check.sh).

    probe.py wait BASE_URL --since EPOCH_SECONDS [--timeout S]
        wait until /readyz answers 200; print the seconds since EPOCH_SECONDS (the container's
        start), so the check reports how long the image took to migrate, seed and be ready.
    probe.py check BASE_URL --token TOKEN [--scenario ID] [--worker HOSTNAME] [--timeout S]
        /readyz, a page, an API write refused without a token and accepted with it (a run of a
        bundled scenario), and that run finishing as `succeeded` (executed by a worker on
        HOSTNAME, when given).
    probe.py createdb ADMIN_URL NAME    create database NAME; print the app's URL for it
    probe.py dropdb ADMIN_URL NAME      drop it (and its connections), if it exists
    probe.py free-port                  print a TCP port free on 127.0.0.1

Only 127.0.0.1 is probed: the containers share the host's network.
"""

import argparse
import socket
import sys
import time

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def fail(message: str) -> None:
    print(f"probe: FAIL: {message}", file=sys.stderr)
    raise SystemExit(1)


def wait_ready(base: str, since: float, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{base}/readyz", timeout=5)
            if response.status_code == 200:
                print(f"probe: /readyz 200 after {time.time() - since:.1f} s")
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    fail(f"/readyz did not answer 200 within {timeout:.0f} s (last: {last})")


def check(base: str, token: str, scenario: str, worker: str | None, timeout: float) -> None:
    with httpx.Client(base_url=base, timeout=30) as client:
        ready = client.get("/readyz")
        if ready.status_code != 200:
            fail(f"/readyz answered {ready.status_code}")
        print("probe: /readyz 200")

        page = client.get("/", headers={"Accept": "text/html"})
        if page.status_code != 200 or "text/html" not in page.headers.get("content-type", ""):
            fail(f"GET / answered {page.status_code} {page.headers.get('content-type')}")
        if "<title>" not in page.text or "/static/" not in page.text:
            fail("GET / is not the ledger's home page")
        asset = client.get("/static/vendor/htmx.min.js")
        if asset.status_code != 200 or len(asset.content) < 1000:
            fail(f"the vendored htmx answered {asset.status_code}, {len(asset.content)} bytes")
        print(f"probe: GET / 200 ({len(page.content)} bytes), vendored htmx served")

        body = {"scenario_id": scenario}
        anonymous = client.post("/api/v1/benchmark-runs", json=body)
        if anonymous.status_code != 401:
            fail(f"a write without a token answered {anonymous.status_code}, not 401")
        created = client.post(
            "/api/v1/benchmark-runs", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        if created.status_code != 202 or "location" not in created.headers:
            fail(f"the write with a token answered {created.status_code}: {created.text[:300]}")
        location = created.headers["location"]
        print(f"probe: POST /api/v1/benchmark-runs 401 without a token, 202 with it: {location}")

        deadline = time.monotonic() + timeout
        state = created.json()["state"]
        while state in {"queued", "running"} and time.monotonic() < deadline:
            time.sleep(1)
            state = client.get(location).json()["state"]
        run = client.get(location).json()
        if run["state"] != "succeeded":
            fail(f"run {location} ended {run['state']!r}: {run.get('error')}")
        if worker is not None and not str(run["worker_id"]).startswith(f"{worker}:"):
            fail(f"run {location} was executed by {run['worker_id']}, not by {worker}")
        print(f"probe: run of {scenario!r} succeeded, executed by {run['worker_id']}")


def admin_connection(admin_url: str) -> psycopg.Connection:
    url = make_url(admin_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def createdb(admin_url: str, name: str) -> None:
    with admin_connection(admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin_url).set(drivername="postgresql+psycopg", database=name)
    print(url.render_as_string(hide_password=False))


def dropdb(admin_url: str, name: str) -> None:
    with admin_connection(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def free_port() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    wait = sub.add_parser("wait")
    wait.add_argument("base")
    wait.add_argument("--since", type=float, required=True)
    wait.add_argument("--timeout", type=float, default=240)
    checks = sub.add_parser("check")
    checks.add_argument("base")
    checks.add_argument("--token", required=True)
    checks.add_argument("--scenario", default="dojo-node-gemm")
    checks.add_argument("--worker")
    checks.add_argument("--timeout", type=float, default=300)
    for command in ("createdb", "dropdb"):
        database = sub.add_parser(command)
        database.add_argument("admin_url")
        database.add_argument("name")
    sub.add_parser("free-port")
    args = parser.parse_args()
    if args.command == "createdb":
        createdb(args.admin_url, args.name)
    elif args.command == "dropdb":
        dropdb(args.admin_url, args.name)
    elif args.command == "free-port":
        free_port()
    elif not args.base.startswith("http://127.0.0.1:"):
        fail("probe only 127.0.0.1")
    elif args.command == "wait":
        wait_ready(args.base, args.since, args.timeout)
    else:
        check(args.base, args.token, args.scenario, args.worker, args.timeout)


if __name__ == "__main__":
    main()
