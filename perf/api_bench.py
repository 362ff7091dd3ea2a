"""Measure API reads and dashboard pages against a bare Starlette endpoint, side by side.

Serves the seeded ledger (SQLite, one Uvicorn worker) and a bare Starlette app returning a
JSON body of the same size, loads each with the same bounded keep-alive client on 127.0.0.1,
and prints requests/s, p50 and p99 and each read's ratio to the bare endpoint. Pages are read
as an anonymous reader (no cookie), with and without gzip accepted.

    .venv/bin/python perf/api_bench.py [--seconds 5] [--connections 16] [--rounds 3]
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The dashboard's busiest pages, read by an anonymous visitor.
PAGES = ("/", "/claims", "/capabilities/dojo-exapod")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _worker(
    port: int, path: str, stop_at: float, latencies: list[float], extra_headers: str = ""
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra_headers}\r\n".encode()
    while time.monotonic() < stop_at:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{path}: {head[:40]!r}")
        latencies.append(time.perf_counter() - started)
    writer.close()


async def load(
    port: int, path: str, seconds: float, connections: int, extra_headers: str = ""
) -> dict[str, float]:
    """Send requests on `connections` keep-alive connections for `seconds`; bounded by time."""
    latencies: list[float] = []
    stop_at = time.monotonic() + seconds
    started = time.perf_counter()
    await asyncio.gather(
        *(_worker(port, path, stop_at, latencies, extra_headers) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "bytes": 0,
    }


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(BIN / "uvicorn"),
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
            *(["--factory"] if "create_app" in app else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians shown")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ledger-perf-"))
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{work / 'perf.db'}",
        "LEDGER_INPROCESS_WORKER": "false",
        "LEDGER_LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [str(BIN / "ledger"), "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )
    subprocess.run(
        [str(BIN / "ledger"), "seed"], cwd=ROOT, env=env, check=True, capture_output=True
    )

    app_port, bare_port = free_port(), free_port()
    ledger = serve("app.main:create_app", app_port, env)
    try:
        wait_up(f"http://127.0.0.1:{app_port}/api/v1/capabilities")
        with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/api/v1/claims?limit=50") as r:
            body = r.read()
        (work / "body.json").write_bytes(body)
        bare = serve(
            "perf.bare_app:app", bare_port, {**env, "BARE_BODY_FILE": str(work / "body.json")}
        )
        try:
            wait_up(f"http://127.0.0.1:{bare_port}/bare")
            gzip = "Accept-Encoding: gzip\r\n"
            targets = [
                ("bare Starlette endpoint", bare_port, "/bare", ""),
                ("GET /api/v1/capabilities", app_port, "/api/v1/capabilities", ""),
                ("GET /api/v1/claims?limit=50", app_port, "/api/v1/claims?limit=50", ""),
                *[(f"page {path}", app_port, path, "") for path in PAGES],
                *[(f"page {path} (gzip)", app_port, path, gzip) for path in PAGES],
            ]
            for _name, port, path, headers in targets:
                asyncio.run(load(port, path, 1.0, args.connections, headers))  # warm up
            # Alternate the targets over several rounds and keep each one's median round, so
            # a burst of load elsewhere on the machine does not land on one target only.
            rounds: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in targets}
            for _ in range(args.rounds):
                for name, port, path, headers in targets:
                    rounds[name].append(
                        asyncio.run(load(port, path, args.seconds, args.connections, headers))
                    )
            results = {
                name: sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
                for name, runs in rounds.items()
            }
        finally:
            bare.terminate()
            bare.wait()
    finally:
        ledger.terminate()
        ledger.wait()

    base = results["bare Starlette endpoint"]["rps"]
    print(
        f"body size {len(body)} bytes, {args.connections} connections, "
        f"median of {args.rounds} alternating rounds of {args.seconds:.0f} s"
    )
    print(f"{'endpoint':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'vs bare':>8}")
    for name, r in results.items():
        print(
            f"{name:<44} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
            f"{r['rps'] / base:>8.2f}"
        )
    slowest = min(
        (name for name in results if name.startswith("page ") and "gzip" not in name),
        key=lambda name: results[name]["rps"],
    )
    print(f"slowest page: {slowest} at {results[slowest]['rps'] / base:.2f}x bare (goal >= 0.10)")


if __name__ == "__main__":
    main()
