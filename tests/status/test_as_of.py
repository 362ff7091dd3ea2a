"""The ledger as of a past day: every read takes as_of and computes from what was known then."""

import pytest
from fastapi.testclient import TestClient

AI_DAY_2021 = "2021-08-19"


def statuses(client: TestClient, as_of: str | None = None) -> dict[str, str]:
    query = f"?as_of={as_of}&limit=200" if as_of else "?limit=200"
    body = client.get("/api/v1/capabilities" + query).json()
    return {c["slug"]: c["assessment"]["status"] for c in body["items"]}


def test_as_of_ai_day_2021_shows_tray_cabinet_exapod_aspirational_and_tile_tested(
    client: TestClient,
) -> None:
    then = statuses(client, AI_DAY_2021)
    assert then["dojo-training-tile"] == "tested"
    assert then["dojo-system-tray"] == "aspirational"
    assert then["dojo-cabinet"] == "aspirational"
    assert then["dojo-exapod"] == "aspirational"
    now = statuses(client)
    assert now["dojo-cabinet"] != "aspirational"  # built by AI Day 2022: the date matters


def test_as_of_hides_what_came_later(client: TestClient) -> None:
    then = statuses(client, AI_DAY_2021)
    assert "dojo-3" not in then and "tesla-ai5" not in then
    assert client.get(f"/api/v1/capabilities/dojo-3?as_of={AI_DAY_2021}").status_code == 404
    # Outcomes take effect on their date: the ExaPOD was not yet abandoned in 2021.
    exapod = client.get(f"/api/v1/capabilities/dojo-exapod?as_of={AI_DAY_2021}").json()
    assert exapod["outcome"] == "active"
    assert client.get("/api/v1/capabilities/dojo-exapod").json()["outcome"] == "abandoned"


def test_claims_and_evidence_lists_keep_only_what_was_known(client: TestClient) -> None:
    claims = client.get(f"/api/v1/claims?as_of={AI_DAY_2021}&limit=200").json()["items"]
    assert claims and all(c["stated_on"] <= AI_DAY_2021 for c in claims)
    slugs = {c["slug"] for c in claims}
    assert "exapod-peak-1-1-eflops" in slugs
    everything = client.get("/api/v1/claims?limit=200").json()["items"]
    assert len(everything) > len(claims)
    items = client.get(f"/api/v1/evidence?as_of={AI_DAY_2021}&limit=200").json()["items"]
    assert items and all(e["date"] <= AI_DAY_2021 for e in items)
    # Month precision is read conservatively: "Aug 2021" is not surely published by 19 Aug.
    assert not any(e["date"] == "2021-08-01" and e["date_precision"] == "month" for e in items)


def test_a_claim_not_yet_made_is_not_found_as_of_then(client: TestClient) -> None:
    later = client.get("/api/v1/claims?limit=200").json()["items"]
    late = next(c for c in later if c["stated_on"] > "2022-01-01")
    assert client.get(f"/api/v1/claims/{late['slug']}").status_code == 200
    assert client.get(f"/api/v1/claims/{late['slug']}?as_of={AI_DAY_2021}").status_code == 404


def test_verdicts_are_computed_from_evidence_known_then(client: TestClient) -> None:
    now = {c["slug"]: c["verdict"] for c in client.get("/api/v1/claims?limit=200").json()["items"]}
    then = {
        c["slug"]: c["verdict"]
        for c in client.get(f"/api/v1/claims?as_of={AI_DAY_2021}&limit=200").json()["items"]
    }
    assert any(now[slug] != verdict for slug, verdict in then.items())


@pytest.mark.parametrize(
    "value", ["2021-13-01", "yesterday", "2021-02-30", "1999-12-31", "2999-01-01", "2021-8-19"]
)
def test_invalid_as_of_is_422_on_the_api_and_400_on_pages(client: TestClient, value: str) -> None:
    api = client.get(f"/api/v1/capabilities?as_of={value}")
    assert api.status_code == 422
    assert api.headers["content-type"].startswith("application/problem+json")
    assert "YYYY-MM-DD" in api.json()["detail"]
    page = client.get(f"/?as_of={value}", headers={"Accept": "text/html"})
    assert page.status_code == 400
    assert "YYYY-MM-DD" in page.text


def test_events_as_of_keep_those_surely_held_by_then(client: TestClient) -> None:
    then = {
        e["slug"]
        for e in client.get(f"/api/v1/events?as_of={AI_DAY_2021}&limit=200").json()["items"]
    }
    assert "ai-day-2021" in then and "ai-day-2022" not in then
    # Hot Chips 34 is known to the month (Aug 2022): surely held only from 31 Aug 2022.
    aug = {
        e["slug"] for e in client.get("/api/v1/events?as_of=2022-08-30&limit=200").json()["items"]
    }
    assert "hot-chips-34" not in aug
    end = {
        e["slug"] for e in client.get("/api/v1/events?as_of=2022-08-31&limit=200").json()["items"]
    }
    assert "hot-chips-34" in end
