"""Issue 19 §2-3 reproductions on both databases: bounds that one schema allowed and the
column or the import refused (token names, seeds), and PATCH of a required field to null."""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.auth.service import create_token
from app.core.db import get_engine
from tests.capabilities.test_capabilities import auth
from tests.dashboard.test_pages import HTML, csrf_of, sign_in


def test_a_token_name_too_long_for_the_actor_column_is_refused(db_url: str) -> None:
    """Names of 103-120 characters were accepted, then every write by them failed (500)."""
    with Session(get_engine()) as session:
        with pytest.raises(ValueError):
            create_token(session, name="n" * 120, scopes=["write"])
        with pytest.raises(ValueError):
            create_token(session, name="n" * 103, scopes=["write"])


def test_the_dashboard_refuses_a_token_name_too_long_for_the_actor(client: TestClient) -> None:
    with Session(get_engine()) as session:
        _token, admin = create_token(session, name="admin", scopes=["admin"])
    sign_in(client, admin)
    page = client.get("/tokens", headers=HTML).text
    response = client.post(
        "/tokens", data={"name": "n" * 120, "scopes": ["write"], "csrf_token": csrf_of(page)}
    )
    assert response.status_code in (400, 422), response.status_code
    assert "n" * 120 not in {t["name"] for t in _token_names()}


def _token_names() -> list[dict[str, str]]:
    from app.auth.service import list_tokens

    with Session(get_engine()) as session:
        return [{"name": t.name} for t in list_tokens(session)]


def test_the_longest_token_name_writes_and_every_list_still_reads(
    client: TestClient, db_url: str
) -> None:
    """With the longest name allowed, writes commit and the history lists answer 200."""
    from app.core import bounds

    with Session(get_engine()) as session:
        _token, plaintext = create_token(
            session, name="n" * bounds.TOKEN_NAME_MAX, scopes=["write"]
        )
    got = client.get("/api/v1/capabilities/dojo-d1")
    changed = client.patch(
        "/api/v1/capabilities/dojo-d1",
        json={"description": "Edited by the longest token name."},
        headers=auth(plaintext, got.headers["etag"]),
    )
    assert changed.status_code == 200, changed.text
    queued = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(plaintext),
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["actor"] == "token:" + "n" * bounds.TOKEN_NAME_MAX
    for path in (
        "/api/v1/benchmark-runs",
        "/api/v1/changes",
        "/api/v1/capabilities/dojo-d1/history",
    ):
        assert client.get(path).status_code == 200, path
    assert len(bounds.token_actor("n" * bounds.TOKEN_NAME_MAX, dashboard=True)) <= (
        bounds.ACTOR_MAX
    )


def test_a_seed_beyond_32_bits_is_stored_on_both_databases(
    client: TestClient, write_token: str
) -> None:
    """The spec schema allows seeds up to 2**63-1; a seed of 2**31 answered 500 on PostgreSQL."""
    spec = {"kind": "consistency", "seed": 2**31 + 7}
    queued = client.post("/api/v1/benchmark-runs", json={"spec": spec}, headers=auth(write_token))
    assert queued.status_code == 202, queued.text
    assert queued.json()["seed"] == 2**31 + 7
    biggest = client.post(
        "/api/v1/benchmark-runs",
        json={"spec": {**spec, "seed": 2**63 - 1}},
        headers=auth(write_token),
    )
    assert biggest.status_code == 202, biggest.text
    listed = client.get("/api/v1/benchmark-runs")
    assert listed.status_code == 200
    assert {r["seed"] for r in listed.json()["items"]} >= {2**31 + 7, 2**63 - 1}


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/evidence/1", "title"),
        ("/api/v1/evidence/1", "kind"),
        ("/api/v1/evidence/1", "date"),
        ("/api/v1/claims/d1-peak-bf16-362-tflops", "text"),
        ("/api/v1/claims/d1-peak-bf16-362-tflops", "grade"),
        ("/api/v1/capabilities/dojo-d1", "name"),
        ("/api/v1/capabilities/dojo-d1", "critical"),
        ("/api/v1/events/ai-day-2021", "name"),
        ("/api/v1/events/ai-day-2021", "date"),
    ],
)
def test_patch_of_a_required_field_to_null_is_422(
    client: TestClient, write_token: str, path: str, field: str
) -> None:
    """Evidence answered 500; claims, capabilities and events a misleading 409."""
    got = client.get(path)
    assert got.status_code == 200, got.text
    response = client.patch(
        path, json={field: None}, headers=auth(write_token, got.headers["etag"])
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text
    assert client.get(path).json()[field] == got.json()[field]


def test_patch_may_still_clear_an_optional_field(client: TestClient, write_token: str) -> None:
    got = client.get("/api/v1/capabilities/dojo-d1")
    response = client.patch(
        "/api/v1/capabilities/dojo-d1",
        json={"description": None},
        headers=auth(write_token, got.headers["etag"]),
    )
    assert response.status_code == 200, response.text
    assert response.json()["description"] is None


def test_a_token_named_before_the_bound_still_writes(client: TestClient) -> None:
    """A token whose 120-character name predates the bound: its actor is cut to fit."""
    from app.auth.models import ApiToken

    with Session(get_engine()) as session:
        _token, plaintext = create_token(session, name="legacy", scopes=["write"])
        token = session.exec(select(ApiToken).where(ApiToken.name == "legacy")).one()
        token.name = "n" * 120
        session.add(token)
        session.commit()
    got = client.get("/api/v1/capabilities/dojo-d1")
    changed = client.patch(
        "/api/v1/capabilities/dojo-d1",
        json={"description": "Edited by a long-named token."},
        headers=auth(plaintext, got.headers["etag"]),
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/v1/changes").status_code == 200
    history = client.get("/api/v1/capabilities/dojo-d1/history")
    assert history.status_code == 200
