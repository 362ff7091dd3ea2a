"""Structured JSON logs: structlog and standard-library records, with the request id."""

import io
import json
import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import structlog
from fastapi.testclient import TestClient

from app.ops.logging import configure_logging
from tests.ops.helpers import make_ops_app


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(SimpleNamespace(log_level="INFO", log_json=True), stream=stream)
    yield stream
    configure_logging(SimpleNamespace(log_level="INFO", log_json=False))


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_and_stdlib_records_are_json_lines(json_logs: io.StringIO) -> None:
    structlog.get_logger("ledger.test").info("run finished", run_id=7, seconds=1.5)
    logging.getLogger("some.library").warning("plain %s message", "stdlib")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/api/v1/claims", "1.1", 200
    )
    structlog.get_logger("ledger.test").debug("below the level")
    first, second, third = records(json_logs)
    assert first["event"] == "run finished"
    assert first["run_id"] == 7 and first["level"] == "info"
    assert first["logger"] == "ledger.test"
    assert str(first["timestamp"]).endswith("Z")
    assert second["event"] == "plain stdlib message" and second["level"] == "warning"
    assert third["method"] == "GET" and third["path"] == "/api/v1/claims"
    assert third["status"] == 200 and third["event"] == "request"


def test_exceptions_are_rendered_inside_the_json(json_logs: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        structlog.get_logger("ledger.test").exception("it failed")
    (record,) = records(json_logs)
    assert record["level"] == "error"
    assert "RuntimeError: boom" in str(record["exception"])


def test_logs_inside_a_request_carry_its_request_id(json_logs: io.StringIO) -> None:
    app = make_ops_app()  # calls configure_logging(settings): put the JSON stream back
    configure_logging(SimpleNamespace(log_level="INFO", log_json=True), stream=json_logs)

    @app.get("/work")
    def work() -> dict[str, str]:
        structlog.get_logger("ledger.test").info("working")
        logging.getLogger("ledger.stdlib").info("stdlib inside")
        return {"ok": "yes"}

    TestClient(app).get("/work", headers={"X-Request-ID": "req-abc"})
    mine = [r for r in records(json_logs) if r.get("logger", "").startswith("ledger.")]  # type: ignore[union-attr]
    assert [r["event"] for r in mine] == ["working", "stdlib inside"]
    assert all(r["request_id"] == "req-abc" for r in mine)


def test_configuring_twice_keeps_one_handler() -> None:
    settings = SimpleNamespace(log_level="WARNING", log_json=False)
    configure_logging(settings)
    configure_logging(settings)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_ledger_ops_handler", False)]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("uvicorn.access").handlers == []
    configure_logging(SimpleNamespace(log_level="INFO", log_json=False))
