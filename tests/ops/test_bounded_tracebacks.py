"""Tracebacks in the logs carry no local variables and have a bounded size, in both formats."""

import io
import logging
import threading
import time
from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest
import uvicorn

from app.ops.logging import MAX_TRACEBACK_CHARS, configure_logging
from tests.ops.helpers import free_port, make_ops_app

# Room for the line's timestamp, level and event around the traceback.
BOUND = MAX_TRACEBACK_CHARS + 2_000


def _deeply_nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth):
        value = [value, "x" * 100]
    return value


@pytest.fixture(params=[False, True], ids=["console", "json"])
def log_json(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def logs(log_json: bool) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(SimpleNamespace(log_level="INFO", log_json=log_json), stream=stream)
    yield stream
    configure_logging(SimpleNamespace(log_level="INFO", log_json=False))


def test_locals_never_reach_the_log(logs: io.StringIO) -> None:
    secret_local = "local-value-" + "s" * 50  # noqa: F841  (a traceback with locals would print it)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("ledger.test").exception("it failed")
    output = logs.getvalue()
    assert "RuntimeError: boom" in output
    assert "local-value-" not in output


def test_a_huge_exception_message_is_cut(logs: io.StringIO) -> None:
    try:
        raise ValueError("y" * 2_000_000)
    except ValueError:
        logging.getLogger("ledger.test").exception("it failed")
    output = logs.getvalue()
    assert "ValueError" in output and "characters cut" in output
    assert len(output) < BOUND


def test_a_500_holding_a_deeply_nested_value_logs_little(logs: io.StringIO, log_json: bool) -> None:
    app = make_ops_app()  # configures logging from the settings: point it back at our stream
    configure_logging(SimpleNamespace(log_level="INFO", log_json=log_json), stream=logs)

    @app.get("/boom")
    def boom() -> None:
        held = _deeply_nested(20_000)
        raise RuntimeError(f"failed on a value of {len(held)} items")

    # A real Uvicorn logs the 500's traceback, as in development.
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if server.started:
                break
            time.sleep(0.05)
        assert httpx.get(f"{base}/boom", timeout=10).status_code == 500
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    output = logs.getvalue()
    assert "RuntimeError: failed on a value of 2 items" in output
    assert len(output) < BOUND
