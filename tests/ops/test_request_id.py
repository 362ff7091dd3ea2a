"""Request ids: a sane incoming X-Request-ID is echoed, anything else is replaced."""

import os
import re

import pytest
import structlog
from fastapi.testclient import TestClient

from app.ops.request_id import new_request_id, sanitize
from tests.ops.helpers import make_ops_app

GENERATED = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def ops_client() -> TestClient:
    app = make_ops_app()

    @app.get("/echo-context")
    def echo_context() -> dict[str, object]:
        return dict(structlog.contextvars.get_contextvars())

    return TestClient(app)


def test_incoming_id_is_echoed_and_bound_for_logs(ops_client: TestClient) -> None:
    response = ops_client.get("/echo-context", headers={"X-Request-ID": "trace-42.a_b:c"})
    assert response.headers["x-request-id"] == "trace-42.a_b:c"
    assert response.json() == {"request_id": "trace-42.a_b:c"}


def test_missing_id_is_generated_and_unique(ops_client: TestClient) -> None:
    first = ops_client.get("/healthz").headers["x-request-id"]
    second = ops_client.get("/healthz").headers["x-request-id"]
    assert GENERATED.match(first) and GENERATED.match(second)
    assert first != second


@pytest.mark.parametrize(
    "bad",
    ["", "has space", "x" * 129, "<script>", "semi;colon", "-leading-dash", 'quote"d'],
)
def test_unsafe_ids_are_replaced(ops_client: TestClient, bad: str) -> None:
    response = ops_client.get("/echo-context", headers={"X-Request-ID": bad})
    echoed = response.headers["x-request-id"]
    assert echoed != bad
    assert GENERATED.match(echoed)
    assert response.json()["request_id"] == echoed


def test_generated_ids_are_unique_here_and_in_a_forked_child() -> None:
    ids = {new_request_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(GENERATED.match(i) for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a worker forked from a preloaded parent
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    assert GENERATED.match(child)
    assert child != new_request_id()  # the child's generator was reseeded, not copied


def test_sanitize_bytes() -> None:
    assert sanitize(b"abc-123") == "abc-123"
    assert sanitize(b"a\nb") is None
    assert sanitize(b"caf\xc3\xa9") is None
    assert sanitize(None) is None


def test_context_does_not_leak_between_requests(ops_client: TestClient) -> None:
    ops_client.get("/echo-context", headers={"X-Request-ID": "first-one"})
    assert structlog.contextvars.get_contextvars().get("request_id") is None
    second = ops_client.get("/echo-context").json()
    assert second["request_id"] != "first-one"


def test_real_app_echoes_on_api_errors_too(client: TestClient) -> None:
    response = client.get("/api/v1/capabilities/no-such-thing", headers={"X-Request-ID": "r-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "r-1"
    ok = client.get("/api/v1/capabilities", headers={"X-Request-ID": "r-2"})
    assert ok.headers["x-request-id"] == "r-2"
    assert ok.headers.get_list("x-request-id") == ["r-2"]


@pytest.mark.parametrize(
    "path", ["/api/v1/claims?limit=5", "/", "/capabilities/dojo-exapod", "/no-such-page"]
)
def test_every_answer_carries_one_id(client: TestClient, path: str) -> None:
    # The id is appended, not swapped in: nothing inside the stack may set it too. A miss, the
    # cache's hit, its 304 and an error page each carry it once.
    first = client.get(path, headers={"X-Request-ID": "once-1"})
    hit = client.get(path, headers={"X-Request-ID": "once-2"})
    assert first.headers.get_list("x-request-id") == ["once-1"]
    assert hit.headers.get_list("x-request-id") == ["once-2"]
    if "etag" in hit.headers:
        held = client.get(
            path, headers={"X-Request-ID": "once-3", "If-None-Match": hit.headers["etag"]}
        )
        assert held.status_code == 304
        assert held.headers.get_list("x-request-id") == ["once-3"]


def test_unhandled_errors_still_carry_the_id() -> None:
    app = make_ops_app()

    @app.get("/explode")
    def explode() -> None:
        raise RuntimeError("boom")

    @app.middleware("http")
    async def later_base_http_middleware(request, call_next):  # type: ignore[no-untyped-def]
        return await call_next(request)

    client = TestClient(app, raise_server_exceptions=False)
    response = client.get("/explode", headers={"X-Request-ID": "err-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "err-1"
    ok = client.get("/healthz", headers={"X-Request-ID": "ok-1"})
    assert ok.headers.get_list("x-request-id") == ["ok-1"]
