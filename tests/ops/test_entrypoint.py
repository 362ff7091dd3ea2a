"""docker/entrypoint.sh, run outside Docker against PostgreSQL and SQLite.

The PostgreSQL test creates a uniquely named database, starts the entrypoint on a free
loopback port with two Uvicorn workers, waits for /readyz, checks the seeded capabilities,
the request id, the JSON logs and the metrics of both workers, then sends SIGTERM and expects
a clean exit. It is skipped when no PostgreSQL is found (see conftest), and fails then under CI.
"""

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.benchmarks.service import scenarios
from tests.conftest import create_pg_database, drop_pg_database, require_postgres
from tests.ops.helpers import ROOT, VENV_BIN, free_port

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
SEEDED = {"dojo-d1", "dojo-training-tile", "dojo-exapod", "fsd-computer-hw3", "tesla-gpu-cluster"}


def entrypoint_env(tmp_path: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "PROMETHEUS_"))}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        LEDGER_ENV="production",
        LEDGER_SECRET_KEY=secrets.token_urlsafe(48),
        LEDGER_DATABASE_URL=database_url,
        LEDGER_HOST="127.0.0.1",
        LEDGER_LOG_JSON="true",
        LEDGER_INPROCESS_WORKER="false",
        LEDGER_DB_WAIT_SECONDS="30",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        TMPDIR=str(tmp_path),
    )
    env.update(extra)
    return env


def wait_until_ready(proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"entrypoint exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            response = httpx.get(f"{base}/readyz", timeout=2)
            if response.status_code == 200:
                return
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.25)
    pytest.fail(f"/readyz not 200 after {timeout}s ({last}):\n{log.read_text()[-4000:]}")


def stop(proc: subprocess.Popen[bytes], timeout: float = 45) -> int:
    """SIGTERM the entrypoint's process (Uvicorn after exec) and wait for it to exit."""
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def json_lines(text: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return out


@pytest.mark.postgres
@pytest.mark.slow
def test_entrypoint_serves_a_seeded_app_on_a_fresh_postgres_database(tmp_path: Path) -> None:
    require_postgres()
    url = create_pg_database()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "entrypoint.log"
    env = entrypoint_env(tmp_path, url, LEDGER_PORT=str(port), LEDGER_WORKERS="2")
    proc = None
    try:
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(ENTRYPOINT)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ready(proc, base, log, timeout=180)

        assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
        requests = 8
        for i in range(requests):
            response = httpx.get(
                f"{base}/api/v1/capabilities", headers={"X-Request-ID": f"it-{i}"}, timeout=10
            )
            assert response.status_code == 200
            assert response.headers["x-request-id"] == f"it-{i}"
        slugs = {cap["slug"] for cap in response.json()["items"]}
        assert slugs >= SEEDED, f"not seeded: {SEEDED - slugs}"

        # Two Uvicorn workers served these; /metrics adds up both (multi-process mode).
        # A worker counts a request just after sending its response, so poll briefly.
        deadline = time.monotonic() + 10
        while True:
            metrics_text = httpx.get(f"{base}/metrics", timeout=10).text
            counted = sum(
                sample.value
                for family in text_string_to_metric_families(metrics_text)
                for sample in family.samples
                if sample.name == "ledger_http_requests_total"
                and sample.labels.get("handler") == "/api/v1/capabilities"
            )
            if counted >= requests or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert counted == requests
        # Seeding queued the bundled scenarios; the gauge reads the queue from the database.
        assert "ledger_benchmark_run_queue_depth " in metrics_text

        rc = stop(proc)
        output = log.read_text()
        assert rc == 0, output[-4000:]
        assert "seeded an empty database" in output
        assert f"'bundled_runs_queued': {len(scenarios())}" in output
        records = json_lines(output)
        assert any(r.get("request_id") == "it-3" for r in records), "access log lacks request_id"
        assert any("Finished server process" in str(r.get("event")) for r in records)

        # A second start would not seed again: the database holds data now.
        again = subprocess.run(
            [str(VENV_BIN / "python"), "-m", "app.ops.bootstrap", "seed-if-empty"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
        assert "already holds data" in again.stderr

        # `worker` mode waits, migrates (a no-op now), runs `ledger worker`, and stops on SIGTERM.
        worker_log = tmp_path / "worker.log"
        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [str(ENTRYPOINT), "worker", "--poll", "0.2"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            # `ledger worker` logs `worker.started` once its SIGTERM handler is in place.
            deadline = time.monotonic() + 120
            while "worker.started" not in worker_log.read_text():
                assert worker.poll() is None, worker_log.read_text()
                assert time.monotonic() < deadline, worker_log.read_text()
                time.sleep(0.2)
            assert "starting the benchmark worker" in worker_log.read_text()
            time.sleep(0.5)
            assert worker.poll() is None, worker_log.read_text()
            assert stop(worker) == 0, worker_log.read_text()
        finally:
            kill_group(worker)
    finally:
        if proc is not None:
            kill_group(proc)
        drop_pg_database(url)


def test_entrypoint_passes_other_commands_through(tmp_path: Path) -> None:
    env = entrypoint_env(tmp_path, "sqlite:////nonexistent-dir/never-opened.db")
    result = subprocess.run(
        [str(ENTRYPOINT), "python", "-c", "print('passed through')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "passed through"


def test_entrypoint_gives_up_on_an_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ledger?connect_timeout=2"
    env = entrypoint_env(tmp_path, url, LEDGER_DB_WAIT_SECONDS="2")
    started = time.monotonic()
    result = subprocess.run(
        [str(ENTRYPOINT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "gave up" in result.stderr
    assert time.monotonic() - started < 60
