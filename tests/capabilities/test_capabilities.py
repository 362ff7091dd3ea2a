"""Capabilities: computed status, status updates, concurrency and history."""

from fastapi.testclient import TestClient

REQUIRED = {
    "dojo-d1",
    "dojo-training-node",
    "dojo-training-tile",
    "dojo-system-tray",
    "dojo-cabinet",
    "dojo-exapod",
    "dojo-interface-processor",
    "fsd-computer-hw3",
    "tesla-gpu-cluster",
}


def auth(token: str, etag: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-Match"] = etag
    return headers


def test_lists_every_required_capability_with_assessment(client: TestClient) -> None:
    body = client.get("/api/v1/capabilities").json()
    slugs = {c["slug"] for c in body["items"]}
    assert slugs >= REQUIRED
    for cap in body["items"]:
        assessment = cap["assessment"]
        assert assessment["status"] in {
            "not_assessed",
            "aspirational",
            "built",
            "tested",
            "benchmarked",
        }
        assert isinstance(assessment["gap"], int)


def test_exapod_is_claimed_above_what_its_evidence_shows(client: TestClient) -> None:
    exapod = client.get("/api/v1/capabilities/dojo-exapod").json()["assessment"]
    assert exapod["claimed_status"] != "not_assessed"
    tile = client.get("/api/v1/capabilities/dojo-training-tile").json()["assessment"]
    assert tile["status"] in {"built", "tested", "benchmarked"}


def test_write_needs_a_token_with_write_scope(client: TestClient, read_token: str) -> None:
    body = {"status": "tested", "reason": "seen"}
    response = client.post("/api/v1/capabilities/dojo-d1/status", json=body)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    response = client.post(
        "/api/v1/capabilities/dojo-d1/status", json=body, headers=auth(read_token, "*")
    )
    assert response.status_code == 403
    response = client.post(
        "/api/v1/capabilities/dojo-d1/status", json=body, headers=auth("ldg_nope_nope")
    )
    assert response.status_code == 401


def test_status_update_with_if_match_is_logged_and_stale_is_rejected(
    client: TestClient, write_token: str
) -> None:
    first = client.get("/api/v1/capabilities/dojo-exapod")
    etag = first.headers["etag"]
    body = {"status": "built", "reason_code": "override", "reason": "Editor saw it on stage"}

    missing = client.post(
        "/api/v1/capabilities/dojo-exapod/status", json=body, headers=auth(write_token)
    )
    assert missing.status_code == 428

    ok = client.post(
        "/api/v1/capabilities/dojo-exapod/status", json=body, headers=auth(write_token, etag)
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["assessment"]["status"] == "built"
    assert ok.json()["assessment"]["overridden"] is True
    assert ok.headers["etag"] != etag

    stale = client.post(
        "/api/v1/capabilities/dojo-exapod/status",
        json={"status": "tested", "reason": "again"},
        headers=auth(write_token, etag),
    )
    assert stale.status_code == 412
    assert client.get("/api/v1/capabilities/dojo-exapod").json()["assessment"]["status"] == "built"

    history = client.get("/api/v1/capabilities/dojo-exapod/history?sort=-recorded_at").json()
    latest = history["items"][0]
    assert latest["reason_code"] == "override"
    assert latest["reason"] == "Editor saw it on stage"
    assert latest["to_status"] == "built"
    assert latest["actor"] == "token:tester"
    feed = client.get("/api/v1/changes").json()["items"]
    assert feed[0]["id"] == latest["id"]


def test_override_needs_a_reason(client: TestClient, write_token: str) -> None:
    etag = client.get("/api/v1/capabilities/dojo-d1").headers["etag"]
    response = client.post(
        "/api/v1/capabilities/dojo-d1/status",
        json={"status": "tested"},
        headers=auth(write_token, etag),
    )
    assert response.status_code == 422
    assert "reason" in response.json()["detail"]


def _new_capability(client: TestClient, token: str, slug: str, parent: str | None = None) -> None:
    response = client.post(
        "/api/v1/capabilities",
        json={"slug": slug, "name": slug.title(), "kind": "chip", "parent": parent},
        headers=auth(token),
    )
    assert response.status_code == 201, response.text


def _evidence(client: TestClient, token: str, capability: str, **fields: object):  # type: ignore[no-untyped-def]
    body = {
        "title": "A photo of the part",
        "kind": "photo",
        "origin": "claimant",
        "grade": "S",
        "date": "2022-09-30",
        "stance": "supports",
        "level": "built",
        "capability": capability,
        "url": "https://example.org/photo",
    }
    body.update(fields)
    return client.post("/api/v1/evidence", json=body, headers=auth(token))


def test_evidence_raises_status_and_writes_history(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    before = client.get("/api/v1/capabilities/test-chip").json()["assessment"]
    assert before["status"] == "not_assessed"
    response = _evidence(client, write_token, "test-chip")
    assert response.status_code == 201, response.text
    assert response.json()["counts_toward_status"] is True
    after = client.get("/api/v1/capabilities/test-chip").json()["assessment"]
    assert after["status"] == "built"
    history = client.get("/api/v1/capabilities/test-chip/history").json()["items"]
    assert history[-1]["from_status"] == "not_assessed"
    assert history[-1]["to_status"] == "built"
    assert history[-1]["reason_code"] == "evidence_added"
    assert history[-1]["evidence_ids"] == [response.json()["id"]]


def test_simulation_and_forum_evidence_never_raise_status(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    sim = _evidence(
        client,
        write_token,
        "test-chip",
        kind="simulation_run",
        origin="computed",
        level="benchmarked",
        grade="D",
    )
    assert sim.status_code == 201
    forum = _evidence(client, write_token, "test-chip", grade="F", title="Forum says it works")
    assert forum.status_code == 201
    assert forum.json()["counts_toward_status"] is False
    status = client.get("/api/v1/capabilities/test-chip").json()["assessment"]["status"]
    assert status == "not_assessed"


def test_parent_without_evidence_is_not_assessed_and_capped_by_its_weakest_part(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-board")
    _new_capability(client, write_token, "test-chip-a", parent="test-board")
    _new_capability(client, write_token, "test-chip-b", parent="test-board")
    _evidence(client, write_token, "test-chip-a", level="tested", kind="live_demo")
    _evidence(client, write_token, "test-chip-b", level="built")
    board = client.get("/api/v1/capabilities/test-board").json()
    # Its parts' progress is not its own: no evidence for the board itself.
    assert board["assessment"]["status"] == "not_assessed"
    assert board["assessment"]["parts_status"] == "built"
    assert board["assessment"]["limited_by"] == "test-chip-b"
    assert board["assessment"]["has_direct_evidence"] is False
    assert client.get("/api/v1/capabilities/test-board/history").json()["items"] == []

    _evidence(client, write_token, "test-board", level="built", title="The board on stage")
    board = client.get("/api/v1/capabilities/test-board").json()
    assert board["assessment"]["status"] == "built"
    etag = client.get("/api/v1/capabilities/test-chip-b").headers["etag"]
    client.post(
        "/api/v1/capabilities/test-chip-b/status",
        json={"status": "aspirational", "reason": "Editorial: the part was a mock-up"},
        headers={**auth(write_token), "If-Match": etag},
    )
    board = client.get("/api/v1/capabilities/test-board").json()["assessment"]
    assert (board["status"], board["limited_by"]) == ("aspirational", "test-chip-b")
    history = client.get("/api/v1/capabilities/test-board/history").json()["items"]
    assert history[-1]["reason_code"] == "rollup"


def test_evidence_about_an_assembly_counts_for_its_critical_parts(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-board")
    _new_capability(client, write_token, "test-chip-a", parent="test-board")
    _evidence(client, write_token, "test-board", level="tested", kind="live_demo")
    chip = client.get("/api/v1/capabilities/test-chip-a").json()["assessment"]
    assert chip["status"] == "tested"
    assert chip["inherited_from"] == "test-board"
    assert chip["has_direct_evidence"] is False
    history = client.get("/api/v1/capabilities/test-chip-a/history").json()["items"]
    assert [h["to_status"] for h in history] == ["tested"]


def test_benchmark_is_labelled_vendor_reported_or_independent(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    _evidence(client, write_token, "test-chip", kind="benchmark_result", level="benchmarked")
    assessment = client.get("/api/v1/capabilities/test-chip").json()["assessment"]
    assert assessment["status"] == "benchmarked"
    assert assessment["qualifier"] == "vendor-reported"
    _evidence(
        client,
        write_token,
        "test-chip",
        kind="benchmark_result",
        level="benchmarked",
        origin="independent",
        title="MLPerf-style run",
    )
    assessment = client.get("/api/v1/capabilities/test-chip").json()["assessment"]
    assert assessment["qualifier"] == "independent"


def test_parent_cannot_become_its_own_descendant(client: TestClient, write_token: str) -> None:
    etag = client.get("/api/v1/capabilities/dojo-exapod").headers["etag"]
    response = client.patch(
        "/api/v1/capabilities/dojo-exapod",
        json={"parent": "dojo-d1"},
        headers=auth(write_token, etag),
    )
    assert response.status_code == 422


def test_filters_by_status_and_kind(client: TestClient) -> None:
    chips = client.get("/api/v1/capabilities?kind=chip").json()["items"]
    assert {c["slug"] for c in chips} >= {"dojo-d1"}
    assert all(c["kind"] == "chip" for c in chips)
    for cap in client.get("/api/v1/capabilities?status=built").json()["items"]:
        assert cap["assessment"]["status"] == "built"
    assert client.get("/api/v1/capabilities?status=bogus").status_code == 422


def test_conditional_get_returns_304(client: TestClient) -> None:
    first = client.get("/api/v1/capabilities")
    again = client.get("/api/v1/capabilities", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_list_cache_is_invalidated_by_writes(client: TestClient, write_token: str) -> None:
    before = client.get("/api/v1/capabilities").json()["items"]
    _new_capability(client, write_token, "test-new-chip")
    after = client.get("/api/v1/capabilities").json()["items"]
    assert len(after) == len(before) + 1


def test_cached_lists_follow_writes_made_by_another_process(
    client: TestClient, db_url: str
) -> None:
    """Another replica's write (a separate engine, no shared memory) must show up at once."""
    from sqlmodel import Session

    from app.capabilities.models import Capability
    from app.core.db import make_engine
    from app.status.history import EVERYTHING, bump_data_version

    before = client.get("/api/v1/capabilities").json()["items"]
    assert client.get("/api/v1/capabilities").json()["items"] == before  # now served cached
    other_replica = make_engine(db_url)
    with Session(other_replica) as session:
        session.add(Capability(slug="written-elsewhere", name="Elsewhere", kind="chip"))
        bump_data_version(session, EVERYTHING)
        session.commit()
    other_replica.dispose()
    after = client.get("/api/v1/capabilities").json()["items"]
    assert "written-elsewhere" in {c["slug"] for c in after}


def test_new_evidence_makes_an_older_etag_stale(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    etag = client.get("/api/v1/capabilities/test-chip").headers["etag"]
    assert _evidence(client, write_token, "test-chip").status_code == 201
    response = client.post(
        "/api/v1/capabilities/test-chip/status",
        json={"status": "aspirational", "reason": "based on what I saw earlier"},
        headers=auth(write_token, etag),
    )
    assert response.status_code == 412


def test_moving_a_part_to_another_hierarchy_logs_both_hierarchies(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-board")
    _new_capability(client, write_token, "test-chip", parent="test-board")
    _new_capability(client, write_token, "test-other-board")
    _evidence(client, write_token, "test-board", level="built", title="Board on stage")
    etag = client.get("/api/v1/capabilities/test-chip").headers["etag"]
    client.post(
        "/api/v1/capabilities/test-chip/status",
        json={"status": "aspirational", "reason": "Editorial: a mock-up"},
        headers={**auth(write_token), "If-Match": etag},
    )
    assert client.get("/api/v1/capabilities/test-board").json()["assessment"]["status"] == (
        "aspirational"
    )
    etag = client.get("/api/v1/capabilities/test-chip").headers["etag"]
    moved = client.patch(
        "/api/v1/capabilities/test-chip",
        json={"parent": "test-other-board"},
        headers={**auth(write_token), "If-Match": etag},
    )
    assert moved.status_code == 200, moved.text
    board = client.get("/api/v1/capabilities/test-board").json()
    assert board["assessment"]["status"] == "built"
    history = client.get("/api/v1/capabilities/test-board/history").json()["items"]
    assert (history[-1]["from_status"], history[-1]["to_status"]) == ("aspirational", "built")
