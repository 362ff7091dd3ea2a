"""Questions as data: answers computed from verdicts and statuses, guarded writes."""

from fastapi.testclient import TestClient

FSD = "fsd-second-chip-redundancy-or-capacity"


def auth(token: str, etag: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if etag:
        headers["If-Match"] = etag
    return headers


def new_question(**extra: object) -> dict:
    return {
        "slug": "d1-tdp-confirmed",
        "text": "Was the D1's 400 W TDP ever confirmed?",
        "summary": "Not by anyone who measured it.",
        "capabilities": ["dojo-d1"],
        "options": [{"code": "tdp", "label": "The 400 W TDP", "claims": ["d1-tdp-400-w"]}],
        "sources": ["S05"],
        **extra,
    }


def test_seeded_questions_are_answered_with_the_date_they_hold_for(client: TestClient) -> None:
    items = client.get("/api/v1/questions").json()["items"]
    slugs = [q["slug"] for q in items]
    assert slugs[:3] == [
        "ai-day-2021-built-or-block-diagram",
        FSD,
        "d1-bandwidth-figures-proof",
    ]
    assert len(items) >= 6
    first = items[0]["answer"]
    assert first["holds_for"] == "2021-08-19"  # the question is about AI Day 2021
    caps = {c["slug"]: c["status"] for c in first["capabilities"]}
    assert caps["dojo-training-tile"] == "tested"
    assert caps["dojo-cabinet"] == caps["dojo-system-tray"] == caps["dojo-exapod"] == "aspirational"
    assert all(q["answer"]["summary_holds"] for q in items)
    fsd = next(q for q in items if q["slug"] == FSD)["answer"]
    assert "redundancy" in fsd["holding"] and "capacity" not in fsd["holding"]
    assert fsd["evidence"], "an answer names the evidence behind it"


def test_answers_follow_as_of(client: TestClient) -> None:
    now = client.get(f"/api/v1/questions/{FSD}").json()["answer"]
    before = client.get(f"/api/v1/questions/{FSD}?as_of=2019-01-01").json()["answer"]
    assert before["holds_for"] == "2019-01-01" and now["holds_for"] != "2019-01-01"
    assert before["holding"] == [] and not before["summary_holds"]


def test_questions_filter_by_capability(client: TestClient) -> None:
    items = client.get("/api/v1/questions?capability=fsd-computer-hw3").json()["items"]
    assert [q["slug"] for q in items] == [FSD]


def test_create_needs_a_token_and_links_that_resolve(
    client: TestClient, write_token: str, read_token: str
) -> None:
    assert client.post("/api/v1/questions", json=new_question()).status_code == 401
    assert (
        client.post("/api/v1/questions", json=new_question(), headers=auth(read_token)).status_code
        == 403
    )
    bad = new_question(options=[{"code": "tdp", "label": "x", "claims": ["no-such-claim"]}])
    response = client.post("/api/v1/questions", json=bad, headers=auth(write_token))
    assert response.status_code == 422 and "no-such-claim" in response.json()["detail"]
    created = client.post("/api/v1/questions", json=new_question(), headers=auth(write_token))
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/api/v1/questions/d1-tdp-confirmed"
    again = client.post("/api/v1/questions", json=new_question(), headers=auth(write_token))
    assert again.status_code == 409


def test_a_summary_the_answer_contradicts_is_refused(client: TestClient, write_token: str) -> None:
    # Saying that a forum-only reading holds: the computed answer has it open.
    body = new_question(
        options=[
            {"code": "capacity", "label": "Capacity", "claims": ["fsd-hw3-both-socs-for-capacity"]}
        ],
        says=["capacity"],
    )
    response = client.post("/api/v1/questions", json=body, headers=auth(write_token))
    assert response.status_code == 422
    assert response.json()["title"] == "Summary contradicts the answer"
    assert "says 'Capacity'" in response.json()["detail"]
    unknown = client.post(
        "/api/v1/questions", json=new_question(says=["nope"]), headers=auth(write_token)
    )
    assert unknown.status_code == 422


def test_patch_is_guarded_by_if_match(client: TestClient, write_token: str) -> None:
    got = client.get(f"/api/v1/questions/{FSD}")
    etag = got.headers["ETag"]
    change = {"summary": "Redundancy: each chip computes a plan and the two are compared."}
    assert (
        client.patch(f"/api/v1/questions/{FSD}", json=change, headers=auth(write_token)).status_code
        == 428
    )
    done = client.patch(f"/api/v1/questions/{FSD}", json=change, headers=auth(write_token, etag))
    assert done.status_code == 200, done.text
    assert done.json()["version"] == got.json()["version"] + 1
    stale = client.patch(f"/api/v1/questions/{FSD}", json=change, headers=auth(write_token, etag))
    assert stale.status_code == 412
    fresh = done.headers["ETag"]
    contradicting = {"says": ["capacity"], "denies": []}
    refused = client.patch(
        f"/api/v1/questions/{FSD}", json=contradicting, headers=auth(write_token, fresh)
    )
    assert refused.status_code == 422
    assert (
        client.patch(
            f"/api/v1/questions/{FSD}", json={"options": None}, headers=auth(write_token, fresh)
        ).status_code
        == 422
    )
    # The pages change with it: the read after the write shows the new summary.
    assert change["summary"] in client.get("/api/v1/questions").text
