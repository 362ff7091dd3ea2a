"""Claim verdicts, stances and dates with their precision, through the API and the seed."""

import datetime as dt
import re

from fastapi.testclient import TestClient

from tests.capabilities.test_capabilities import _evidence, _new_capability, auth
from tests.claims.test_claims_evidence import _all_pages


def _claim(client: TestClient, token: str, capability: str, slug: str, **fields: object):  # type: ignore[no-untyped-def]
    body = {
        "slug": slug,
        "capability": capability,
        "event": "ai-day-2022",
        "text": "The part does what was said.",
        "implied_status": "built",
        "stated_on": "2022-09-30",
        "grade": "P",
    }
    body.update(fields)
    return client.post("/api/v1/claims", json=body, headers=auth(token))


def test_verdict_rules_are_served_as_data(client: TestClient) -> None:
    rules = client.get("/api/v1/verdict-rules").json()
    assert [v["code"] for v in rules["verdicts"]] == [
        "disputed",
        "contradicted",
        "supported",
        "documented",
        "unresolved",
        "unverified",
    ]
    assert {s["code"] for s in rules["stances"]} == {
        "supports",
        "contradicts",
        "inconclusive",
        "not_found",
        "partial",
    }
    assert [o["code"] for o in rules["origins"]] == [
        "claimant",
        "reported",
        "independent",
        "computed",
    ]
    assert [p["code"] for p in rules["promise_states"]] == [
        "pending",
        "overdue",
        "kept",
        "kept_late",
        "partly_kept",
        "broken",
    ]
    assert rules["deciding_grades"] == ["P", "S"]
    assert rules["meets_deadline"] == ["supported", "documented"]


def test_inconclusive_needs_an_assumption(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    missing = _evidence(client, write_token, "test-chip", stance="inconclusive", level=None)
    assert missing.status_code == 422
    assert "assumption" in missing.text
    named = _evidence(
        client,
        write_token,
        "test-chip",
        stance="inconclusive",
        level=None,
        assumption="both directions are counted",
    )
    assert named.status_code == 201, named.text
    assert named.json()["assumption"] == "both directions are counted"
    assert named.json()["counts_toward_status"] is False


def test_not_found_never_contradicts_but_keeps_a_deadline_overdue(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(
        client, write_token, "test-chip", "test-by-2023", deadline="2023-03-31"
    ).is_success
    item = _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-by-2023",
        stance="not_found",
        level=None,
        kind="third_party_report",
        date="2023-06-01",
    )
    assert item.status_code == 201, item.text
    claim = client.get("/api/v1/claims/test-by-2023").json()
    assert claim["verdict"] == "unverified"
    assert claim["contradicted"] is False
    assert claim["overdue_days"] and claim["overdue_days"] > 0
    assert claim["promise"]["state"] == "overdue"
    assert claim["promise"]["days_late"] == claim["overdue_days"]
    assert claim["promise"]["resolved_on"] is None


def test_support_and_contradiction_make_a_claim_disputed(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(client, write_token, "test-chip", "test-claim").is_success
    _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-claim",
        date="2022-10-01",
        origin="independent",
    )
    assert client.get("/api/v1/claims/test-claim").json()["verdict"] == "supported"
    _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-claim",
        stance="contradicts",
        level=None,
        title="A report against it",
        date="2022-10-02",
    )
    claim = client.get("/api/v1/claims/test-claim").json()
    assert claim["verdict"] == "disputed"
    filtered = client.get("/api/v1/claims", params={"verdict": "disputed", "limit": 200}).json()
    assert "test-claim" in {c["slug"] for c in filtered["items"]}
    # "Contradicted" means contradicted: a disputed claim is neither flagged nor filtered as one.
    assert claim["contradicted"] is False
    flagged = _all_pages(client, "/api/v1/claims?contradicted=true&limit=200")
    assert "test-claim" not in {c["slug"] for c in flagged}
    assert flagged and all(c["verdict"] == "contradicted" for c in flagged)


def test_forum_support_alone_never_decides(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(client, write_token, "test-chip", "test-claim").is_success
    _evidence(client, write_token, "test-chip", claim="test-claim", grade="F", date="2022-10-01")
    claim = client.get("/api/v1/claims/test-claim").json()
    assert claim["verdict"] == "unverified"
    assert any("forum items never decide a claim" in r for r in claim["verdict_reasons"])


def test_evidence_older_than_the_claim_it_supports_is_refused(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(client, write_token, "test-chip", "test-claim").is_success
    early = _evidence(client, write_token, "test-chip", claim="test-claim", date="2021-01-05")
    assert early.status_code == 422
    assert "older than the claim" in early.json()["detail"]
    # Known only to the month of the claim: it may be from after the claim, so it is allowed.
    same_month = _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-claim",
        date="2022-09-01",
        date_precision="month",
    )
    assert same_month.status_code == 201, same_month.text


def test_a_restated_claim_accepts_evidence_from_its_first_statement(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    first = {"event": "ai-day-2021", "stated_on": "2021-08-19"}
    assert _claim(client, write_token, "test-chip", "test-first", **first).is_success
    assert _claim(client, write_token, "test-chip", "test-again", restates="test-first").is_success
    between = _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-again",
        date="2022-01-10",
        origin="independent",
    )
    assert between.status_code == 201, between.text
    assert client.get("/api/v1/claims/test-again").json()["verdict"] == "supported"


def test_dates_keep_their_precision(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    not_first_day = _evidence(
        client, write_token, "test-chip", date="2022-09-30", date_precision="month"
    )
    assert not_first_day.status_code == 422
    item = _evidence(client, write_token, "test-chip", date="2022-01-01", date_precision="year")
    assert item.status_code == 201, item.text
    assert item.json()["date_precision"] == "year"
    claim = _claim(
        client,
        write_token,
        "test-chip",
        "test-claim",
        stated_on="2022-09-01",
        date_precision="month",
    )
    assert claim.status_code == 201, claim.text
    page = client.get("/claims/test-claim", headers={"Accept": "text/html"}).text
    assert "Stated Sep 2022" in page
    event = client.get("/api/v1/events/ai-day-2022")
    patched = client.patch(
        "/api/v1/events/ai-day-2022",
        json={"date": "2022-09-01", "date_precision": "month"},
        headers={**auth(write_token), "If-Match": event.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["date_precision"] == "month"
    assert patched.json()["version"] == event.json()["version"] + 1


def test_seed_history_invents_no_2021_status_for_the_tray_or_cabinet(client: TestClient) -> None:
    for slug in ("dojo-system-tray", "dojo-cabinet"):
        rows = client.get(f"/api/v1/capabilities/{slug}/history").json()["items"]
        in_2021 = [r for r in rows if r["effective_on"].startswith("2021")]
        assert all(r["to_status"] in ("not_assessed", "aspirational") for r in in_2021), rows


def test_seed_history_reasons_name_only_the_items_that_moved_it(client: TestClient) -> None:
    by_id = {e["id"]: e for e in _all_pages(client, "/api/v1/evidence?limit=200")}
    caps = {c["slug"]: c for c in client.get("/api/v1/capabilities?limit=200").json()["items"]}
    rows = _all_pages(client, "/api/v1/changes?limit=200&sort=recorded_at")
    seeded = [r for r in rows if r["reason_code"] == "seed"]
    assert seeded
    for row in seeded:
        related = {row["capability"], *_descendants(caps, row["capability"])}
        cursor = caps[row["capability"]]["parent"]
        while cursor:
            related.add(cursor)
            cursor = caps[cursor]["parent"]
        assert row["evidence_ids"], row
        for evidence_id in row["evidence_ids"]:
            item = by_id[evidence_id]
            assert item["capability"] in related, (row, item["slug"])
            assert item["date"] <= row["effective_on"]
            assert item["title"] in row["reason"]


def _descendants(caps: dict[str, dict], slug: str) -> set[str]:
    found: set[str] = set()
    stack = list(caps[slug]["children"])
    while stack:
        child = stack.pop()
        if child not in found:
            found.add(child)
            stack.extend(caps[child]["children"])
    return found


def test_restanced_seed_items(client: TestClient) -> None:
    items = {e["slug"]: e for e in _all_pages(client, "/api/v1/evidence?limit=200")}
    assert items["q4-2024-call-no-dojo"]["stance"] == "not_found"
    assert items["check-no-benchmark-tile"]["stance"] == "not_found"
    assert items["check-c12-serdes-vs-4x4"]["stance"] == "inconclusive"
    assert "both directions" in items["check-c12-serdes-vs-4x4"]["assumption"]
    assert items["check-c39-fsd-2-tbps"]["stance"] == "inconclusive"
    # Tesla saying "1 EFLOP" again at HC34 is its own restatement: it supports nothing.
    assert items["hc34-exapod-1-eflop"]["origin"] == "claimant"
    assert client.get("/api/v1/claims/exapod-peak-1-1-eflops").json()["verdict"] == "unverified"


def test_verdict_reasons_give_dates_no_more_precisely_than_known(client: TestClient) -> None:
    """An item known only to the month is cited as 'Aug 2019', never as '2019-08-01'."""
    evidence = _all_pages(client, "/api/v1/evidence?limit=200")
    claims = {c["slug"]: c for c in _all_pages(client, "/api/v1/claims?limit=200")}
    shown = {"month": "%b %Y", "year": "%Y"}
    checked = 0
    for item in evidence:
        reasons = claims[item["claim"]]["verdict_reasons"] if item["claim"] else []
        cited = [r for r in reasons if f"“{item['title']}”" in r]
        if item["date_precision"] in shown and cited:
            when = dt.date.fromisoformat(item["date"])
            assert all(f", {when:{shown[item['date_precision']]}})" in r for r in cited), cited
            assert not any(item["date"] in r for r in cited), cited
            checked += 1
    assert checked >= 5, "the seed cites too few month- or year-precision items to test"


# ---------------------------------------------------------------- issue 15: who confirmed what


def test_a_restatement_never_supports(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(client, write_token, "test-chip", "test-claim").is_success
    for kind, origin in (("slide", "claimant"), ("third_party_report", "reported")):
        made = _evidence(
            client,
            write_token,
            "test-chip",
            claim="test-claim",
            kind=kind,
            origin=origin,
            level="aspirational",
            date="2022-10-01",
            title=f"The figure said again ({origin})",
        )
        assert made.status_code == 201, made.text
    claim = client.get("/api/v1/claims/test-claim").json()
    assert claim["verdict"] == "unverified"
    assert sum("a restatement" in r for r in claim["verdict_reasons"]) == 2


def test_claimant_documentation_is_documented_not_supported(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(client, write_token, "test-chip", "test-claim").is_success
    paper = _evidence(
        client, write_token, "test-chip", claim="test-claim", kind="paper", date="2023-05-01"
    )
    assert paper.status_code == 201, paper.text
    assert paper.json()["origin"] == "claimant"
    assert client.get("/api/v1/claims/test-claim").json()["verdict"] == "documented"


def test_a_computation_never_supports_and_is_shown_on_its_own_line(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(client, write_token, "test-chip", "test-claim").is_success
    check = _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-claim",
        kind="analytical_check",
        origin="computed",
        grade="D",
        level=None,
        date="2022-10-01",
    )
    assert check.status_code == 201, check.text
    claim = client.get("/api/v1/claims/test-claim").json()
    assert claim["verdict"] == "unverified"
    assert claim["consistency"] == "consistent"


def test_a_promise_kept_late_has_its_days_fixed(client: TestClient, write_token: str) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(
        client, write_token, "test-chip", "test-by-2023", deadline="2023-03-31"
    ).is_success
    delivered = _evidence(
        client,
        write_token,
        "test-chip",
        claim="test-by-2023",
        kind="filing",
        date="2023-07-19",
    )
    assert delivered.status_code == 201, delivered.text
    claim = client.get("/api/v1/claims/test-by-2023").json()
    assert claim["promise"] == {
        "state": "kept_late",
        "deadline": "2023-03-31",
        "resolved_on": "2023-07-19",
        "days_late": 110,
    }
    assert claim["overdue_days"] is None


def test_a_promise_of_an_abandoned_programme_is_broken_and_stops_counting(
    client: TestClient, write_token: str
) -> None:
    _new_capability(client, write_token, "test-chip")
    assert _claim(
        client, write_token, "test-chip", "test-by-2023", deadline="2023-03-31"
    ).is_success
    assert client.get("/api/v1/claims/test-by-2023").json()["promise"]["state"] == "overdue"
    cap = client.get("/api/v1/capabilities/test-chip")
    assert cap.json()["assessment"]["overdue"]
    ended = client.patch(
        "/api/v1/capabilities/test-chip",
        json={"outcome": "abandoned", "outcome_date": "2024-01-01"},
        headers={**auth(write_token), "If-Match": cap.headers["etag"]},
    )
    assert ended.status_code == 200, ended.text
    claim = client.get("/api/v1/claims/test-by-2023").json()
    assert claim["promise"] == {
        "state": "broken",
        "deadline": "2023-03-31",
        "resolved_on": "2024-01-01",
        "days_late": 276,
    }
    assert claim["overdue_days"] is None
    assert client.get("/api/v1/capabilities/test-chip").json()["assessment"]["overdue"] == []


def test_seed_verdicts_say_who_confirmed_what(client: TestClient) -> None:
    claims = {c["slug"]: c for c in _all_pages(client, "/api/v1/claims?limit=200")}
    # Repetition by Tesla and reports of it: not supported.
    assert claims["ai5-40x-ai4"]["verdict"] == "unverified"
    assert claims["exapod-4x-perf-same-cost"]["verdict"] not in ("supported", "documented")
    # The maker's peer-reviewed paper documents; a foundry's report confirms.
    assert claims["d1-sram-440-mb"]["verdict"] == "documented"
    assert claims["tile-d1-count-25"]["verdict"] == "supported"
    assert claims["ai5-40x-ai4"]["claimant"] == "Elon Musk"
    assert claims["ai5-40x-ai4"]["claimant_kind"] == "executive"
    assert claims["fsd-hw3-efficiency-4-9-tops-per-w"]["claimant"] == "WikiChip Fuse"
    assert all(c["claimant"] and c["claimant_kind"] for c in claims.values())
    assert all((c["promise"] is None) == (c["deadline"] is None) for c in claims.values())
    evidence = _all_pages(client, "/api/v1/evidence?limit=200")
    assert {e["origin"] for e in evidence} == {"claimant", "reported", "independent", "computed"}
    assert all("provenance" not in e for e in evidence)


def test_seed_promises_resolve(client: TestClient) -> None:
    claims = {c["slug"]: c for c in _all_pages(client, "/api/v1/claims?limit=200")}
    assert claims["dojo-v1-about-a-year-away"]["promise"] == {
        "state": "kept_late",
        "deadline": "2021-08-31",
        "resolved_on": "2023-07-19",
        "days_late": 687,
    }
    exapod = claims["exapod-q1-2023-deployment"]["promise"]
    assert exapod["state"] == "broken"
    assert exapod["resolved_on"] <= "2025-08-08"
    assert (
        exapod["days_late"]
        == (dt.date.fromisoformat(exapod["resolved_on"]) - dt.date(2023, 3, 31)).days
    )
    # A late production start in Jul 2023 does not withdraw the Q1-2023 ExaPOD promise; the
    # programme's end in Aug 2025 breaks it.
    assert exapod["resolved_on"] == "2025-08-08"
    # A partial delivery is partly kept (PolitiFact's Compromise), its days fixed on the day of
    # the first partial delivery: AI4 without "three times better". Before, it counted as
    # overdue for good. Small V1 deployments are no part of an ExaPOD: seven stay broken.
    assert claims["exapod-seven-palo-alto-q1-2023"]["promise"] == {
        "state": "broken",
        "deadline": "2023-03-31",
        "resolved_on": "2025-08-08",
        "days_late": 861,
    }
    next_gen = claims["fsd-next-gen-3x-in-2-years"]
    assert next_gen["promise"]["state"] == "partly_kept"
    assert next_gen["promise"]["resolved_on"] == "2025-10-22"
    assert next_gen["promise"]["days_late"] == (dt.date(2025, 10, 22) - dt.date(2021, 4, 22)).days
    assert next_gen["overdue_days"] is None
    assert claims["dojo-production-july-2023"]["promise"]["state"] == "kept"
    overdue = {s for s, c in claims.items() if c["promise"] and c["promise"]["state"] == "overdue"}
    assert overdue == {s for s, c in claims.items() if c["overdue_days"]}
    assert "exapod-q1-2023-deployment" not in overdue
    assert "dojo-v1-about-a-year-away" not in overdue


def test_overview_counts_each_promise_state_and_overdue_only_once_overdue(
    client: TestClient,
) -> None:
    claims = _all_pages(client, "/api/v1/claims?limit=200")
    states = [c["promise"]["state"] for c in claims if c["promise"]]
    page = client.get("/", headers={"Accept": "text/html"}).text
    counts = page[page.index('id="promise-summary"') :]
    counts = counts[: counts.index("</ul>")]
    for state, label in (("partly_kept", "Partly kept"), ("overdue", "Overdue")):
        n = states.count(state)
        assert re.search(rf'promise-{state}[^>]*>{label}</span> <span class="count">{n}<', counts)
    assert states.count("partly_kept") == 1
    overdue = states.count("overdue")
    assert f"<strong>{overdue}</strong> dated commitment" in page


def test_an_item_whose_source_gives_no_date_says_so(client: TestClient) -> None:
    items = {e["slug"]: e for e in _all_pages(client, "/api/v1/evidence?limit=200")}
    undated = items["petersen-museum-tile-display"]
    assert undated["date_precision"] == "none"
    page = client.get("/evidence", headers={"Accept": "text/html"}).text
    assert "date not given" in page
    claim = client.get("/api/v1/claims/gpu-cluster-rank-5").json()
    assert any("date not given" in r for r in claim["verdict_reasons"])
    csv_rows = client.get("/exports/evidence.csv").text.splitlines()
    row = next(r for r in csv_rows if ",petersen-museum-tile-display," in r)
    assert "2021-08-19" not in row


def test_a_restatement_and_the_claim_it_restates_get_one_verdict(
    client: TestClient, write_token: str
) -> None:
    """One question gets one answer: a claim said again is the same claim, with the same verdict."""
    _new_capability(client, write_token, "test-chip")
    first = _claim(client, write_token, "test-chip", "test-first", stated_on="2021-08-19")
    assert first.is_success, first.text
    again = _claim(client, write_token, "test-chip", "test-again", restates="test-first")
    assert again.is_success, again.text
    paper = _evidence(
        client, write_token, "test-chip", claim="test-again", kind="paper", date="2023-05-31"
    )
    assert paper.status_code == 201, paper.text
    verdicts = {
        slug: client.get(f"/api/v1/claims/{slug}").json()["verdict"]
        for slug in ("test-first", "test-again")
    }
    assert verdicts == {"test-first": "documented", "test-again": "documented"}
    # A promise moved to a new date is a claim of its own, not the same claim.
    moved = _claim(
        client,
        write_token,
        "test-chip",
        "test-moved",
        restates="test-first",
        deadline="2027-12-31",
    )
    assert moved.is_success, moved.text
    assert client.get("/api/v1/claims/test-moved").json()["verdict"] == "unverified"


def test_seed_restatements_agree_with_what_they_restate(client: TestClient) -> None:
    claims = {c["slug"]: c for c in _all_pages(client, "/api/v1/claims?limit=200")}
    for claim in claims.values():
        first = claims.get(claim["restates"] or "")
        same = first and (first["capability"], first["deadline"]) == (
            claim["capability"],
            claim["deadline"],
        )
        if same:
            assert claim["verdict"] == first["verdict"], claim["slug"]
    redundancy = claims["fsd-hw3-dual-redundant-socs-autonomy-day"]
    assert redundancy["verdict"] == claims["fsd-hw3-dual-redundancy"]["verdict"] == "documented"
