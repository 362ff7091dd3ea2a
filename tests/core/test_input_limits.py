"""Every input listed in issue 10 ("500s instead of 4xx") gets a 4xx, on SQLite and PostgreSQL.

Each case failed before the input limits: a 500, or a 2xx that stored what later broke pages.
"""

import base64
import json
import re

import pytest
from fastapi.testclient import TestClient

from app.core.limits import INT64_MAX, MAX_BODY_BYTES, MAX_JSON_DEPTH

PROBLEM = "application/problem+json"
GEMM = {"kind": "gemm", "hardware": "d1", "m": 1024, "n": 1024, "k": 1024, "precision": "bf16"}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _post_raw(client: TestClient, url: str, body: str | bytes, token: str | None) -> object:
    headers = {"Content-Type": "application/json", **(_auth(token) if token else {})}
    return client.post(url, content=body, headers=headers)


def _assert_problem(response, status: int | None = None) -> None:  # type: ignore[no-untyped-def]
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == response.status_code


def _cursor(payload: dict[str, object]) -> str:
    raw = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _evidence(**overrides: object) -> dict[str, object]:
    return {
        "title": "Node photo",
        "kind": "photo",
        "origin": "claimant",
        "grade": "S",
        "date": "2022-09-30",
        "stance": "supports",
        "level": "built",
        "capability": "dojo-training-node",
        **overrides,
    }


def _claim_with_figure(value: str) -> str:
    return (
        '{"slug": "nan-claim", "capability": "dojo-d1", "event": "ai-day-2021",'
        ' "text": "A figure.", "implied_status": "aspirational", "stated_on": "2021-08-19",'
        ' "grade": "S", "figure": {"metric": "peak", "unit": "TFLOPS", "value": ' + value + "}}"
    )


def _nested(depth: int) -> dict[str, object]:
    spec: dict[str, object] = dict(GEMM)
    inner: dict[str, object] = spec
    for _ in range(depth):
        child: dict[str, object] = {}
        inner["x"] = child
        inner = child
    return spec


# ---- Cursors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "sort", "value"),
    [
        ("/api/v1/benchmark-runs", "-id", 2**63),
        ("/api/v1/claims", "stated_on", "2021-08-19"),
        ("/api/v1/evidence?sort=id", "id", 2**63 + 5),
        ("/api/v1/evidence?sort=id", "id", "99999999999999999999999"),
    ],
)
def test_cursor_beyond_int64_is_400(client: TestClient, url: str, sort: str, value: object) -> None:
    sep = "&" if "?" in url else "?"
    cursor = _cursor({"s": sort, "v": value, "id": 2**63})
    _assert_problem(client.get(f"{url}{sep}cursor={cursor}"), 400)
    cursor = _cursor({"s": sort, "v": value, "id": 5})
    response = client.get(f"{url}{sep}cursor={cursor}")
    assert response.status_code in (200, 400), response.text[:300]


# ---- NUL characters ------------------------------------------------------------------------


def test_nul_in_a_json_text_field_is_422(client: TestClient, write_token: str) -> None:
    body = json.dumps(_evidence(title="Node\u0000photo"))
    _assert_problem(_post_raw(client, "/api/v1/evidence", body, write_token), 422)
    assert client.get("/api/v1/evidence?limit=200").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/claims?q=d1%00",
        "/api/v1/events?q=%00",
        "/api/v1/evidence?q=a%00b",
        "/api/v1/capabilities/dojo%00",
        "/api/v1/claims/d1%00-peak",
        "/api/v1/events/ai-day%00",
    ],
)
def test_nul_in_query_or_slug_is_400(client: TestClient, url: str) -> None:
    _assert_problem(client.get(url), 400)


def test_nul_in_a_patch_body_is_422(client: TestClient, write_token: str) -> None:
    current = client.get("/api/v1/events/ai-day-2021")
    response = client.patch(
        "/api/v1/events/ai-day-2021",
        content=json.dumps({"venue": "Palo\u0000Alto"}),
        headers={
            **_auth(write_token),
            "Content-Type": "application/json",
            "If-Match": current.headers["etag"],
        },
    )
    _assert_problem(response, 422)


def _signin_form(client: TestClient) -> str:
    page = client.get("/signin", headers={"Accept": "text/html"})
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the sign-in form carries a CSRF token"
    return found.group(1)


@pytest.mark.parametrize("field", ["token", "next"])
def test_nul_in_the_signin_form_is_a_4xx_page(client: TestClient, field: str) -> None:
    csrf = _signin_form(client)
    form = {"token": "ldg_abcdef01_secret", "next": "/", "csrf_token": csrf}
    form[field] = form[field][:4] + "\x00" + form[field][4:]
    response = client.post(
        "/signin", data=form, headers={"Accept": "text/html"}, follow_redirects=False
    )
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")


def test_nul_in_a_dashboard_query_is_a_4xx_page(client: TestClient) -> None:
    response = client.get("/claims?q=d1%00", headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")


# ---- Numbers -------------------------------------------------------------------------------


def test_spec_seed_beyond_int64_is_422(client: TestClient, write_token: str) -> None:
    body = json.dumps({"spec": {**GEMM, "seed": INT64_MAX + 1}})
    _assert_problem(_post_raw(client, "/api/v1/benchmark-runs", body, write_token), 422)
    assert client.get("/api/v1/benchmark-runs").json()["items"] == []


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_literal_in_a_spec_is_400(
    client: TestClient, write_token: str, literal: str
) -> None:
    body = '{"spec": {"kind": "gemm", "hardware": "d1", "m": ' + literal + "}}"
    _assert_problem(_post_raw(client, "/api/v1/benchmark-runs", body, write_token), 400)
    assert client.get("/api/v1/benchmark-runs").status_code == 200


@pytest.mark.parametrize(("literal", "status"), [("NaN", 400), ("Infinity", 400), ("1e999", 422)])
def test_non_finite_figure_is_refused(
    client: TestClient, write_token: str, literal: str, status: int
) -> None:
    response = _post_raw(client, "/api/v1/claims", _claim_with_figure(literal), write_token)
    _assert_problem(response, status)
    assert client.get("/api/v1/claims/nan-claim").status_code == 404


# ---- Size and depth ------------------------------------------------------------------------


def test_a_9_mb_spec_is_413(client: TestClient, write_token: str) -> None:
    padding = "x" * (9 * 1024 * 1024)
    body = json.dumps({"spec": {**GEMM, "title": padding}})
    assert len(body) > MAX_BODY_BYTES
    _assert_problem(_post_raw(client, "/api/v1/benchmark-runs", body, write_token), 413)


def test_a_body_streamed_past_the_limit_is_413(client: TestClient, write_token: str) -> None:
    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"spec": {"kind": "gemm", "title": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536
        yield b'"}}'

    response = client.post(
        "/api/v1/benchmark-runs",
        content=chunks(),
        headers={**_auth(write_token), "Content-Type": "application/json"},
    )
    _assert_problem(response, 413)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 255, 5000])
def test_a_deeply_nested_spec_is_refused_and_runs_still_list(
    client: TestClient, write_token: str, depth: int
) -> None:
    if depth < 1000:
        body = json.dumps({"spec": _nested(depth)})
    else:  # beyond what json.dumps itself can nest
        body = '{"spec": ' + '{"x": ' * depth + "1" + "}" * depth + "}"
    _assert_problem(_post_raw(client, "/api/v1/benchmark-runs", body, write_token), 422)
    listing = client.get("/api/v1/benchmark-runs")
    assert listing.status_code == 200 and listing.json()["items"] == []


def test_a_shallow_custom_spec_is_still_accepted(client: TestClient, write_token: str) -> None:
    body = json.dumps({"spec": GEMM})
    response = _post_raw(client, "/api/v1/benchmark-runs", body, write_token)
    assert response.status_code == 202, response.text


def test_a_deep_spec_from_the_dashboard_form_is_refused(
    client: TestClient, write_token: str
) -> None:
    csrf = _signin_form(client)
    client.post("/signin", data={"token": write_token, "next": "/", "csrf_token": csrf})
    page = client.get("/runs/new", headers={"Accept": "text/html"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    spec = json.dumps(_nested(255))
    response = client.post(
        "/runs",
        data={"spec": spec, "csrf_token": csrf},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert response.status_code == 422, response.status_code
    assert client.get("/api/v1/benchmark-runs").json()["items"] == []
    assert client.get("/runs", headers={"Accept": "text/html"}).status_code == 200


# ---- Ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["99999999999999999999", "9223372036854775808", "2147483648"])
def test_dashboard_run_ids_beyond_range_are_4xx_pages(client: TestClient, run_id: str) -> None:
    response = client.get(f"/runs/{run_id}", headers={"Accept": "text/html"})
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")


def test_dashboard_token_ids_beyond_range_are_4xx(client: TestClient) -> None:
    from sqlmodel import Session

    from app.auth.service import create_token
    from app.core.db import get_engine

    with Session(get_engine()) as s:
        _token, admin = create_token(s, name="admin", scopes=["admin"])
    csrf = _signin_form(client)
    client.post("/signin", data={"token": admin, "next": "/", "csrf_token": csrf})
    page = client.get("/tokens", headers={"Accept": "text/html"})
    assert page.status_code == 200
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/tokens/99999999999999999999999/revoke",
        data={"csrf_token": csrf},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert 400 <= response.status_code < 500, response.text[:300]


# ---- Authentication comes first -------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "ldg_00000000_unknown"])
def test_malformed_json_without_a_valid_token_is_401(client: TestClient, token: str | None) -> None:
    response = _post_raw(client, "/api/v1/evidence", b'{"title": ', token)
    _assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_malformed_json_with_a_token_is_400(client: TestClient, write_token: str) -> None:
    _assert_problem(_post_raw(client, "/api/v1/evidence", b'{"title": ', write_token), 400)


def test_a_cached_read_answers_503_while_the_database_is_away(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from app.core import versions

    assert client.get("/api/v1/capabilities").status_code == 200  # now cached

    def away() -> tuple[int, int]:
        raise OperationalError("SELECT counter FROM data_version", None, Exception("down"))

    monkeypatch.setattr(versions.watch.probe, "read", away)
    versions.watch.expire()  # the versions are read again past their staleness bound
    response = client.get("/api/v1/capabilities")
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
