"""Audit the dashboard with Lighthouse (npm devDependency) in Debian's Chromium; print the scores.

Serves the seeded ledger (SQLite, one Uvicorn worker with its in-process run worker), runs one
simulation so a finished run page exists, then audits each page (its cache warmed by one read)
on desktop and mobile and prints performance, accessibility, best practices and SEO. Scores
move with the machine's load: compare runs made side by side. A measurement, not a test.

    .venv/bin/python perf/lighthouse.py [--chrome /usr/bin/chromium] [--out DIR]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bench import BIN, ROOT, free_port, serve, wait_up

PAGES = {
    "overview": "/",
    "capability": "/capabilities/fsd-computer-hw3",
    "claims": "/claims",
    "timeline": "/timeline",
    "run": "/runs/{run_id}",
    "api docs": "/api/docs",
}
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
    "--disable-background-networking --disable-component-update --disable-sync"
)
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")


def start_run(url: str, token: str) -> int:
    request = urllib.request.Request(
        url + "/api/v1/benchmark-runs",
        data=json.dumps({"scenario_id": "tile-gpt-scaling"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        run_id = int(json.load(response)["id"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/api/v1/benchmark-runs/{run_id}") as response:
            if json.load(response)["state"] in ("succeeded", "failed", "cancelled"):
                return run_id
        time.sleep(0.5)
    raise RuntimeError("the run did not finish")


def audit(url: str, preset: str, chrome: str, out: Path) -> dict[str, float]:
    urllib.request.urlopen(url).read()  # warm the page cache, as any earlier reader would
    report = out / f"{abs(hash((url, preset)))}.json"
    command = [
        str(ROOT / "node_modules" / ".bin" / "lighthouse"),
        url,
        "--quiet",
        "--output=json",
        f"--output-path={report}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--only-categories=" + ",".join(CATEGORIES),
        *(["--preset=desktop"] if preset == "desktop" else []),
    ]
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": chrome}, cwd=ROOT)
    data = json.loads(report.read_text())
    return {name: round(100 * data["categories"][name]["score"]) for name in CATEGORIES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chrome", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=None, help="keep the JSON reports here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ledger-lighthouse-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{work / 'lh.db'}",
        "LEDGER_INPROCESS_WORKER": "true",
        "LEDGER_LOG_LEVEL": "WARNING",
    }
    for step in (["db", "upgrade"], ["seed"]):
        subprocess.run([str(BIN / "ledger"), *step], cwd=ROOT, env=env, check=True)
    created = subprocess.run(
        [str(BIN / "ledger"), "token", "create", "lighthouse", "--scope", "write"],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    token = next(word for word in created.stdout.split() if word.startswith("ldg_"))
    port = free_port()
    server = serve("app.main:create_app", port, env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url + "/healthz")
        run_id = start_run(url, token)
        rows = []
        for name, path in PAGES.items():
            for preset in ("desktop", "mobile"):
                scores = audit(url + path.format(run_id=run_id), preset, args.chrome, out)
                rows.append((name, path.format(run_id=run_id), preset, scores))
                print(f"{name} {preset}: {scores}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    print(f"{'page':<12} {'path':<32} {'device':<8} {'perf':>5} {'a11y':>5} {'best':>5} {'seo':>5}")
    for name, path, preset, s in rows:
        print(
            f"{name:<12} {path:<32} {preset:<8} {s['performance']:>5} {s['accessibility']:>5} "
            f"{s['best-practices']:>5} {s['seo']:>5}"
        )


if __name__ == "__main__":
    main()
