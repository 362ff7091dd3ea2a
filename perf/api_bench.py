"""Measure API reads and dashboard pages against a bare Starlette endpoint, side by side.

Serves the seeded ledger (SQLite, one Uvicorn worker) and a bare Starlette app returning a
JSON body of the same size, loads each with the same keep-alive load generator on 127.0.0.1
(`wrk` when installed, `apt-get install wrk`; else a bounded asyncio client, which itself needs
more CPU than the servers and so flattens the ratios), and prints requests/s, p50 and p99 and
each read's ratio to the bare endpoint. Every cached API read is measured; pages are read as an
anonymous reader (no cookie), with and without gzip accepted. Goals: every cached API read at
0.75x of the bare endpoint or more; the slowest page at 0.10x or more.

Two ratios are shown. "wall" divides requests/s measured back to back with the bare endpoint;
on a machine shared with other work it swings with their load. "capacity" divides the server
process's CPU time per request (from /proc), which is what one saturated worker's throughput
is the inverse of, and which other load on the machine leaves alone; the goals are read on it.

    .venv/bin/python perf/api_bench.py [--seconds 3] [--connections 16] [--rounds 5] [--python]
"""

import argparse
import asyncio
import os
import re
import shutil
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
# The API reads served from the response cache at the ledger's version (app.core.cache.cached_json;
# the run list, cached at the run queue's version, is measured under abuse by perf/load.py).
API_READS = (
    "/api/v1/capabilities",
    "/api/v1/claims?limit=50",
    "/api/v1/evidence?limit=50",
    "/api/v1/events",
)
API_GOAL = 0.75
PAGE_GOAL = 0.10


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
        "requests": float(len(latencies)),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "bytes": 0,
    }


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def load_wrk(
    port: int, path: str, seconds: float, connections: int, extra_headers: str = ""
) -> dict[str, float]:
    """Load one URL with wrk (one thread, keep-alive connections); refuse any non-200."""
    headers = [arg for line in extra_headers.split("\r\n") if line for arg in ("-H", line.strip())]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
         *headers, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx or 3xx" in out:
        raise RuntimeError(f"{path}: {out}")
    latency = dict(re.findall(r"^\s*(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.MULTILINE))
    return {
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _ms(latency["50"]) if "50" in latency else float("nan"),
        "p99_ms": _ms(latency["99"]) if "99" in latency else float("nan"),
        "bytes": 0,
    }


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
            "--no-server-header",  # as `ledger serve` runs, for both servers
            *(["--factory"] if "create_app" in app else []),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; medians shown")
    parser.add_argument("--python", action="store_true", help="the asyncio client, not wrk")
    args = parser.parse_args()
    use_wrk = not args.python and shutil.which("wrk") is not None

    servers: dict[int, int] = {}  # port: pid

    def measure(port: int, path: str, seconds: float, headers: str) -> dict[str, float]:
        before = cpu_seconds(servers[port])
        if use_wrk:
            found = load_wrk(port, path, seconds, args.connections, headers)
        else:
            found = asyncio.run(load(port, path, seconds, args.connections, headers))
        used = cpu_seconds(servers[port]) - before
        return {**found, "cpu_us": used / max(found["requests"], 1) * 1e6}

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
    servers[app_port] = ledger.pid
    try:
        wait_up(f"http://127.0.0.1:{app_port}/api/v1/capabilities")
        with urllib.request.urlopen(f"http://127.0.0.1:{app_port}/api/v1/claims?limit=50") as r:
            body = r.read()
        (work / "body.json").write_bytes(body)
        bare = serve(
            "perf.bare_app:app", bare_port, {**env, "BARE_BODY_FILE": str(work / "body.json")}
        )
        servers[bare_port] = bare.pid
        try:
            wait_up(f"http://127.0.0.1:{bare_port}/bare")
            gzip = "Accept-Encoding: gzip\r\n"
            bare_target = ("bare Starlette endpoint", bare_port, "/bare", "")
            targets = [
                *[(f"GET {path}", app_port, path, "") for path in API_READS],
                *[(f"page {path}", app_port, path, "") for path in PAGES],
                *[(f"page {path} (gzip)", app_port, path, gzip) for path in PAGES],
            ]
            for _name, port, path, headers in [bare_target, *targets]:
                measure(port, path, 1.0, headers)  # warm up
            # Each target is loaded right after the bare endpoint, and their ratio taken, over
            # several alternating rounds; the median ratio is shown. Load elsewhere on the
            # machine comes and goes in seconds: a pair measured back to back shares it.
            rounds: dict[str, list[dict[str, float]]] = {
                name: [] for name, *_ in [bare_target, *targets]
            }
            for _ in range(args.rounds):
                for name, port, path, headers in targets:
                    base = measure(bare_port, "/bare", args.seconds, "")
                    found = measure(port, path, args.seconds, headers)
                    found["wall"] = found["rps"] / base["rps"]
                    found["capacity"] = base["cpu_us"] / found["cpu_us"]
                    rounds[bare_target[0]].append({**base, "wall": 1.0, "capacity": 1.0})
                    rounds[name].append(found)
        finally:
            bare.terminate()
            bare.wait()
    finally:
        ledger.terminate()
        ledger.wait()

    def median(runs: list[dict[str, float]], key: str) -> float:
        return sorted(run[key] for run in runs)[len(runs) // 2]

    keys = ("rps", "p50_ms", "p99_ms", "cpu_us", "wall", "capacity")
    results = {name: {k: median(runs, k) for k in keys} for name, runs in rounds.items()}
    print(
        f"body size {len(body)} bytes, {args.connections} connections, "
        f"{args.rounds} rounds of {args.seconds:.0f} s per target, each beside the bare "
        "endpoint; medians shown, " + ("wrk" if use_wrk else "asyncio client")
    )
    print(
        f"{'endpoint':<40} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} "
        f"{'wall':>5} {'capacity':>8}"
    )
    for name, r in results.items():
        print(
            f"{name:<40} {r['rps']:>7.0f} {r['p50_ms']:>7.2f} {r['p99_ms']:>7.2f} "
            f"{r['cpu_us']:>10.0f} {r['wall']:>5.2f} {r['capacity']:>8.2f}"
        )
    api = [name for name in results if name.startswith("GET /api/")]
    slowest_api = min(api, key=lambda name: results[name]["capacity"])
    print(
        f"slowest cached API read: {slowest_api} at {results[slowest_api]['capacity']:.2f}x "
        f"bare capacity (goal >= {API_GOAL:.2f})"
    )
    pages = [name for name in results if name.startswith("page ") and "gzip" not in name]
    slowest = min(pages, key=lambda name: results[name]["capacity"])
    print(
        f"slowest page: {slowest} at {results[slowest]['capacity']:.2f}x bare capacity "
        f"(goal >= {PAGE_GOAL:.2f})"
    )


if __name__ == "__main__":
    main()
