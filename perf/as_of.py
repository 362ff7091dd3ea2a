"""The ledger as of a past day against today's: the overview and the API, seed and grown ledger.

Builds the seed and the grown ledger of `perf/scale.py` (the seed copied ~140 times), serves
each with one Uvicorn worker on 127.0.0.1 and times, per request kind, the p50 of fresh page
renders in rounds that interleave the kinds (a unique extra parameter misses the page cache
each time; the as-of view itself is cached per data version and day after its first build,
so both overviews just after a write are timed on their own). Prints the load average, the as-of/today ratio (goal: within 2x
on the seed) and the grown ledger's as-of overview (goal: 300 ms or less). A benchmark, not
a timed test.

    .venv/bin/python perf/as_of.py [--copies 138] [--repeats 15] [--postgres URL]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from perf.scale import Server, drop_database, fresh_database, grown, ledger  # noqa: E402

AI_DAY_2021 = "2021-08-19"
REQUESTS = {
    "overview today": "/?r={n}",
    "overview as of AI Day 2021": f"/?as_of={AI_DAY_2021}&r={{n}}",
    "capabilities API today": "/api/v1/capabilities?limit=200&r={n}",
    "capabilities API as of": f"/api/v1/capabilities?as_of={AI_DAY_2021}&limit=200&r={{n}}",
    "questions API today": "/api/v1/questions?r={n}",
    "questions API as of": f"/api/v1/questions?as_of={AI_DAY_2021}&r={{n}}",
}


def measure(server: Server, repeats: int) -> dict[str, float]:
    """Return the median seconds per request kind, and of both overviews just after a write."""
    server.call("GET", "/")  # today's snapshot and the featured views, built at start-up
    results: dict[str, float] = {}
    slug = "dojo-interface-processor"
    rebuilds, refreshes = [], []
    for n in range(3):
        etag = server.call("GET", f"/api/v1/capabilities/{slug}")[1][0]
        body = {"status": "built", "reason": "As-of run"} if n % 2 == 0 else {
            "clear_override": True, "reason": "As-of run"}  # fmt: skip
        server.call("POST", f"/api/v1/capabilities/{slug}/status", body, **{"If-Match": etag})
        # Today's snapshot refreshed after the write, and the views its questions answer from.
        refreshes.append(server.call("GET", f"/?r=write{n}")[0])
        rebuilds.append(server.call("GET", f"/?as_of={AI_DAY_2021}&r=write{n}")[0])
    results["overview today just after a write"] = statistics.median(refreshes)
    results["as-of overview just after a write"] = statistics.median(rebuilds)
    for path in REQUESTS.values():
        server.call("GET", path.format(n="warm"))
    # Rounds interleave the request kinds, so that a burst of load on the shared machine
    # falls on all of them alike rather than on whichever was being timed.
    times: dict[str, list[float]] = {name: [] for name in REQUESTS}
    for n in range(repeats):
        for name, path in REQUESTS.items():
            times[name].append(server.call("GET", path.format(n=n))[0])
    results.update({name: statistics.median(values) for name, values in times.items()})
    return results


def _load() -> str:
    """The machine's load, printed with the times: the cores are shared with other work."""
    return " ".join(f"{n:.1f}" for n in os.getloadavg())


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
            print(
                f"{kind}: grown ledger {len(data['claims'])} claims, {len(data['evidence'])} items"
            )
            print(f"load average at start (1, 5, 15 min): {_load()}")
            results = {}
            for label, url in (("seed", seed_url), ("grown", big_url)):
                server = Server(url)
                try:
                    results[label] = measure(server, args.repeats)
                finally:
                    server.stop()
            print(f"{'request':<36}{'seed p50 ms':>12}{'grown p50 ms':>14}")
            for name, seed_time in results["seed"].items():
                print(f"{name:<36}{seed_time * 1000:>12.1f}{results['grown'][name] * 1000:>14.1f}")
            for label in ("seed", "grown"):
                r = results[label]
                print(
                    f"{label}: as-of/today overview {r['overview as of AI Day 2021'] / r['overview today']:.2f}x, "
                    f"API {r['capabilities API as of'] / r['capabilities API today']:.2f}x"
                )
            grown_ms = results["grown"]["overview as of AI Day 2021"] * 1000
            print(f"grown as-of overview {grown_ms:.0f} ms (goal: 300 ms or less)")
            print(f"load average at end (1, 5, 15 min): {_load()}")
        finally:
            drop_database(seed_url)
            drop_database(big_url)


if __name__ == "__main__":
    main()
