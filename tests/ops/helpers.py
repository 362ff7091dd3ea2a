"""Helpers shared by the operations tests."""

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def make_ops_app() -> FastAPI:
    """A bare app with only the operations part installed (plus problem+json handlers)."""
    from sqlalchemy.exc import OperationalError

    from app.core.config import get_settings
    from app.core.errors import PROBLEM_HANDLERS
    from app.main import LedgerApp
    from app.ops import setup
    from app.ops.health import database_unavailable
    from app.ops.health import router as health_router

    app = LedgerApp(
        exception_handlers={**PROBLEM_HANDLERS, OperationalError: database_unavailable},
        outer_middleware=(setup.request_ids, setup.http_metrics),
    )
    app.state.settings = get_settings()
    app.state.cache_salt = "test"
    setup.prepare(app)
    app.include_router(health_router)
    app.include_router(setup.router)
    return app


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ledger_serve_command(port: int, workers: int = 1) -> list[str]:
    """`ledger serve` on `port`: the entry point a deployment runs, with its Uvicorn settings."""
    return [str(VENV_BIN / "ledger"), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip


@contextmanager
def live_app(env: dict[str, str], probe: str, timeout: float, workers: int = 1) -> Iterator[str]:
    """Serve the app through `ledger serve` on a free port; yield its base URL once `probe`
    answers 200.

    Fail the test if it exits or does not answer within `timeout` seconds; stop it after.
    """
    port = free_port()
    process = subprocess.Popen(ledger_serve_command(port, workers), cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                if httpx.get(base + probe, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the live server did not start (exit code {process.poll()})")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def find_tool(name: str) -> str | None:
    """Find a command in the project's venv first, then on PATH."""
    candidate = VENV_BIN / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def require_tool(name: str, why: str) -> str:
    """Return the tool's path; skip without it, but fail under CI (CI=true)."""
    path = find_tool(name)
    if path:
        return path
    reason = f"`{name}` is not installed ({why})."
    if os.environ.get("CI") == "true":
        pytest.fail(reason + " CI must install it.")
    pytest.skip(reason)
