"""Pages that explain themselves (issue 16 §4, issue 19 §3): bad filters and cursors, 404 and
503 pages, the method page, full-text search, counts, run headlines, form errors, live regions.

Every test runs on SQLite and PostgreSQL (the `client` fixture).
"""

import base64
import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.status.verdicts import load_rules
from tests.dashboard.test_pages import csrf_of, sign_in

HTML = {"accept": "text/html"}
MAIN_NAV = '<nav aria-label="Main">'


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ---- Filters that name nothing --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/claims?verdict=maybe", [rule.code for rule in load_rules().verdicts]),
        ("/claims?grade=Z", ["P", "S", "F", "D"]),
        ("/claims?capability=nope", ["dojo-d1", "dojo-exapod"]),
        ("/claims?event=nope", ["ai-day-2021"]),
        ("/claims?sort=bogus", ["stated_on", "relevance"]),
        ("/claims?overdue=maybe", ["1"]),
        ("/?status=bogus", ["aspirational", "built", "tested", "benchmarked"]),
        ("/?kind=spaceship", ["chip", "tile", "cabinet"]),
        ("/evidence?capability=nope", ["dojo-d1"]),
        ("/evidence?kind=rumour", ["photo", "paper"]),
        ("/evidence?stance=perhaps", ["supports", "contradicts"]),
        ("/evidence?checks=all", ["exclude", "include", "only"]),
        ("/timeline?capability=nope", ["dojo-d1"]),
        ("/timeline?checks=all", ["exclude", "include"]),
    ],
)
def test_an_unknown_filter_value_is_a_400_page_listing_the_allowed_values(
    client: TestClient, url: str, allowed: list[str]
) -> None:
    response = client.get(url, headers=HTML)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    page = html.unescape(response.text)
    assert MAIN_NAV in page and "Allowed values" in page
    field, _, _value = url.split("?", 1)[1].partition("=")
    for code in allowed:
        # Each allowed value is a link to the same list with that value instead.
        assert re.search(
            rf'<a href="[^"]*{field}={re.escape(code)}[^"]*">{re.escape(code)}</a>', page
        ), code
    assert "Show the list without this" in page
    # Never a silently unfiltered list.
    assert "<tbody>" not in page


def test_the_verdict_filter_reads_the_verdict_rules(client: TestClient) -> None:
    page = client.get("/claims?verdict=maybe", headers=HTML).text
    for rule in load_rules().verdicts:
        assert f"verdict={rule.code}" in page
    form = client.get("/claims", headers=HTML).text
    for rule in load_rules().verdicts:
        assert f'<option value="{rule.code}"' in form


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("/api/v1/claims?capability=nope", "dojo-d1"),
        ("/api/v1/claims?event=nope", "ai-day-2021"),
        ("/api/v1/evidence?capability=nope", "dojo-d1"),
        ("/api/v1/evidence?claim=nope", "exapod-peak-1-1-eflops"),
        ("/api/v1/capabilities?parent=nope", "dojo-exapod"),
        ("/api/v1/benchmark-runs?capability=nope", "dojo-d1"),
        ("/api/v1/claims?verdict=maybe", "supported"),
        ("/api/v1/claims?grade=Z", "P"),
        ("/api/v1/capabilities?status=bogus", "aspirational"),
        ("/api/v1/evidence?kind=rumour", "photo"),
    ],
)
def test_an_unknown_filter_value_is_a_422_problem_on_the_api(
    client: TestClient, url: str, allowed: str
) -> None:
    response = client.get(url)
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert allowed in response.text


# ---- Cursors --------------------------------------------------------------------------------

NULL_CURSORS = [
    ("/api/v1/claims", _cursor(b'{"s":"stated_on","v":null,"id":3}')),
    ("/api/v1/claims?sort=slug", _cursor(b'{"s":"slug","v":null,"id":3}')),
    ("/api/v1/evidence", _cursor(b'{"s":"date","v":null,"id":3}')),
    ("/api/v1/events", _cursor(b'{"s":"date","v":null,"id":3}')),
    ("/api/v1/benchmark-runs", _cursor(b'{"s":"-id","v":null,"id":3}')),
    ("/api/v1/changes", _cursor(b'{"s":"-recorded_at","v":null,"id":3}')),
    ("/api/v1/capabilities/dojo-d1/history", _cursor(b'{"s":"recorded_at","v":null,"id":3}')),
]


@pytest.mark.parametrize(("path", "cursor"), NULL_CURSORS)
def test_a_null_cursor_is_a_400_problem(client: TestClient, path: str, cursor: str) -> None:
    joiner = "&" if "?" in path else "?"
    response = client.get(f"{path}{joiner}cursor={cursor}")
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "expired or was altered" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "cursor"),
    [
        ("/claims", _cursor(b'{"s":"stated_on","v":null,"id":3}')),
        ("/evidence", _cursor(b'{"s":"-date","v":null,"id":3}')),
        ("/runs", _cursor(b'{"s":"-id","v":null,"id":3}')),
        ("/claims", "garbage"),
        ("/evidence", _cursor(b"{not json")),
        ("/timeline", _cursor(b'{"s":"timeline","v":null}')),
    ],
)
def test_a_bad_cursor_on_a_page_says_the_link_expired(
    client: TestClient, path: str, cursor: str
) -> None:
    response = client.get(f"{path}?cursor={cursor}", headers=HTML)
    assert response.status_code == 400, response.text[:300]
    assert "This link has expired or was altered" in response.text
    assert "Malformed JSON" not in response.text and MAIN_NAV in response.text
    assert f'href="{path}' in response.text  # the way back: the list's first page


def test_a_bad_cursor_on_the_api_does_not_say_malformed_json(client: TestClient) -> None:
    response = client.get("/api/v1/claims?cursor=" + _cursor(b"{not json"))
    assert response.status_code == 400
    assert "expired or was altered" in response.json()["detail"]
    assert "Malformed JSON" not in response.json()["detail"]


# ---- Not found, and the outage page ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "back"),
    [
        ("/runs/abc", "/runs"),
        ("/runs/99999", "/runs"),
        ("/claims/no-such-claim", "/claims"),
        ("/capabilities/no-such-thing", "/"),
        ("/no/such/page", "/"),
    ],
)
def test_every_404_is_a_page_with_navigation_and_a_way_back(
    client: TestClient, path: str, back: str
) -> None:
    for headers in (HTML, {"accept": "*/*"}):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, (path, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
        assert MAIN_NAV in response.text
        assert f'<a href="{back}">Back to' in response.text


def test_the_api_keeps_problem_json_for_404(client: TestClient) -> None:
    for path in ("/api/v1/claims/no-such-claim", "/api/v1/benchmark-runs/99999"):
        response = client.get(path, headers=HTML)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")


def test_an_outage_gives_a_browser_the_503_page_and_the_api_problem_json(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.claims import service as claims_service
    from app.dashboard import overview

    def unreachable(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(overview, "tally", unreachable)
    monkeypatch.setattr(claims_service, "list_page", unreachable)
    page = client.get("/", headers=HTML)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "2"
    assert MAIN_NAV in page.text and "briefly unavailable" in page.text
    api = client.get("/api/v1/claims", headers=HTML)
    assert api.status_code == 503
    assert api.headers["content-type"].startswith("application/problem+json")


# ---- The method page ------------------------------------------------------------------------


def test_the_method_page_has_the_ladder_the_rules_and_the_casebook(client: TestClient) -> None:
    response = client.get("/method", headers=HTML)
    assert response.status_code == 200
    page = response.text
    for level in ("not_assessed", "aspirational", "built", "tested", "benchmarked"):
        assert f'id="status-{level}"' in page
    for rule in load_rules().verdicts:
        assert f'id="verdict-{rule.code}"' in page
    assert 'id="casebook"' in page and "the engine says" in page


@pytest.mark.parametrize(
    "path", ["/", "/claims", "/capabilities/dojo-d1", "/claims/exapod-peak-1-1-eflops"]
)
def test_every_status_and_verdict_chip_links_to_the_method(client: TestClient, path: str) -> None:
    page = client.get(path, headers=HTML).text
    chips = re.findall(r'<(a|span) class="(badge|verdict) ([^"]*)"( href="([^"]*)")?', page)
    assert chips
    for tag, kind, classes, _attr, href in chips:
        # Only a chip inside another link (the overview's counts) stays a plain chip.
        if tag == "span":
            continue
        assert "chip-link" in classes
        assert href.startswith("/method#status-" if kind == "badge" else "/method#verdict-")
    assert any(tag == "a" for tag, *_ in chips)


# ---- Search ---------------------------------------------------------------------------------


def _found(client: TestClient, q: str) -> list[str]:
    items = client.get("/api/v1/claims", params={"q": q, "limit": 200}).json()["items"]
    return [c["slug"] for c in items]


def test_search_finds_words_in_any_order_ranked(client: TestClient) -> None:
    for query in ("ExaPOD peak", "peak exapod", "EXAPOD   PEAK"):
        found = _found(client, query)
        assert "exapod-peak-1-1-eflops" in found, (query, found)
    # Every word must match: the FSD computer's claims are not ExaPOD claims.
    assert not any(slug.startswith("fsd-") for slug in _found(client, "ExaPOD peak"))
    page = client.get("/claims", params={"q": "peak ExaPOD"}, headers=HTML).text
    assert "/claims/exapod-peak-1-1-eflops" in page and "best match first" in page


def test_search_syntax_in_the_query_is_only_words(client: TestClient) -> None:
    for query in ('"', "NEAR(", "a OR", "*", "peak:*", "&|!", "'"):
        response = client.get("/api/v1/claims", params={"q": query})
        assert response.status_code == 200, (query, response.text[:200])


def test_search_follows_edits_and_new_claims(client: TestClient, write_token: str) -> None:
    auth = {"Authorization": f"Bearer {write_token}"}
    assert _found(client, "zanzibar") == []
    current = client.get("/api/v1/claims/d1-tdp-400-w")
    edited = client.patch(
        "/api/v1/claims/d1-tdp-400-w",
        json={"text": "The D1 chip draws 400 W, said in Zanzibar."},
        headers={**auth, "If-Match": current.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert _found(client, "zanzibar d1") == ["d1-tdp-400-w"]
    assert _found(client, "zanzib") == ["d1-tdp-400-w"]  # a word's start matches
    created = client.post(
        "/api/v1/claims",
        json={
            "slug": "quokka-test-claim",
            "capability": "dojo-d1",
            "event": "ai-day-2021",
            "text": "A quokka claim about Zanzibar.",
            "implied_status": "aspirational",
            "stated_on": "2021-08-19",
            "source_key": "S01",
            "grade": "P",
        },
        headers=auth,
    )
    assert created.status_code == 201, created.text
    assert set(_found(client, "zanzibar")) == {"d1-tdp-400-w", "quokka-test-claim"}
    # The old words are gone from the index.
    current = client.get("/api/v1/claims/d1-tdp-400-w")
    client.patch(
        "/api/v1/claims/d1-tdp-400-w",
        json={"text": "The D1 chip draws 400 W."},
        headers={**auth, "If-Match": current.headers["etag"]},
    )
    assert _found(client, "zanzibar") == ["quokka-test-claim"]


def test_search_ranks_the_better_match_first(session: Session) -> None:
    from app.claims import search

    ranked = search.ranked_ids(session, "exapod peak eflops")
    assert ranked
    from app.claims.models import Claim

    best = session.get(Claim, ranked[0])
    assert best is not None and "exapod" in best.slug and "peak" in best.slug


# ---- Counts ---------------------------------------------------------------------------------


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_lists_say_how_many_items_match(client: TestClient) -> None:
    every = client.get("/api/v1/claims", params={"limit": 200}).json()["items"]
    forum = [c for c in every if c["grade"] == "F"]
    page = _text(client.get("/claims?grade=F", headers=HTML).text)
    assert f"{len(forum)} of {len(every)} claims match" in page
    assert f"All {len(every)} claims" in _text(client.get("/claims", headers=HTML).text)
    evidence = client.get("/evidence?stance=contradicts", headers=HTML).text
    assert re.search(r"<strong>\d+ of \d+</strong> evidence items match", evidence)


def test_the_overview_shows_the_split_of_verdicts(client: TestClient) -> None:
    every = client.get("/api/v1/claims", params={"limit": 200}).json()["items"]
    page = client.get("/", headers=HTML).text
    split = re.search(r'<ul class="verdict-split".*?</ul>', page, re.S)
    assert split
    for rule in load_rules().verdicts:
        n = sum(1 for c in every if c["verdict"] == rule.code)
        assert re.search(
            rf'href="/claims\?verdict={rule.code}".*?<span class="count">{n}</span>',
            split.group(0),
            re.S,
        ), rule.code


# ---- Runs -----------------------------------------------------------------------------------


def _add_run(session: Session, **values: object) -> int:
    from app.benchmarks.models import BenchmarkRun

    run = BenchmarkRun(title="test", hardware="dojo-d1", **values)  # type: ignore[arg-type]
    session.add(run)
    session.commit()
    assert run.id is not None
    return run.id


def test_the_runs_list_shows_each_runs_headline(client: TestClient, session: Session) -> None:
    _add_run(
        session,
        state="succeeded",
        result={"kind": "llm-training", "sustained_pflops": 12.3456, "fits": True},
    )
    _add_run(session, state="succeeded", result={"kind": "nn-inference", "max_fps": 2300.4})
    _add_run(session, state="succeeded", result={"kind": "llm-training", "fits": False})
    page = client.get("/runs", headers=HTML).text
    assert "12.35 PFLOP/s sustained · fits in memory" in page
    assert "2,300 frames/s" in page
    assert "does not fit in memory" in page


def test_a_sweeps_result_is_a_ranked_table(client: TestClient, session: Session) -> None:
    best = [
        {"layout": {"tp": 8, "pp": 2, "dp": 4, "cp": 1}, "sustained_pflops": 9.5, "mfu": 0.41,
         "iteration_time_s": 1.25, "bottleneck": "compute"},
        {"layout": {"tp": 4, "pp": 4, "dp": 4, "cp": 1}, "sustained_pflops": 8.1, "mfu": 0.35,
         "iteration_time_s": 1.5, "bottleneck": "pipeline_bubble"},
    ]  # fmt: skip
    run_id = _add_run(
        session,
        state="succeeded",
        mode="sweep",
        result={"kind": "sweep", "evaluated": 120, "feasible": 37, "best": best},
    )
    page = client.get(f"/runs/{run_id}", headers=HTML).text
    table = re.search(r'<table class="stack sweep-table".*?</table>', page, re.S)
    assert table, "no ranked table"
    rows = re.findall(
        r"<tr><td data-label=\"Rank\" class=\"num\">(\d+)</td>.*?</tr>", table.group(0), re.S
    )
    assert rows == ["1", "2"]
    assert "tp 8 · cp 1 · pp 2 · dp 4" in table.group(0) and "9.5 PFLOP/s" in table.group(0)
    assert "37 of 120 layouts" in page
    listing = client.get("/runs", headers=HTML).text
    assert "best of 37 fitting layouts: 9.5 PFLOP/s sustained" in listing


def test_only_the_state_line_is_a_live_region(client: TestClient, session: Session) -> None:
    running = _add_run(session, state="running", progress=0.5)
    done = _add_run(session, state="succeeded", result={"sustained_pflops": 1.0})
    for run_id in (running, done):
        page = client.get(f"/runs/{run_id}", headers=HTML).text
        status = re.search(r'<div id="run-status"[^>]*>', page)
        assert status and "aria-live" not in status.group(0)
        live = re.findall(r"<[^>]+aria-live=[^>]*>", page.split('<main id="main"')[1])
        assert len(live) == 1 and 'id="run-state-line"' in live[0]
    result = client.get(f"/runs/{done}", headers=HTML).text
    line_end = result.index("</p>", result.index('id="run-state-line"'))
    assert result.index('id="result-h"') > line_end
    assert '<h2 id="result-h" tabindex="-1">' in result


# ---- Form errors ----------------------------------------------------------------------------


def _assert_form_error(page: str, field_id: str) -> None:
    assert re.search(r"<title>Error: ", page), "title does not start with 'Error:'"
    control = re.search(rf'<(input|select|textarea)[^>]*id="{field_id}"[^>]*>', page)
    assert control, field_id
    tag = control.group(0)
    assert 'aria-invalid="true"' in tag
    described = re.search(r'aria-describedby="([^"]+)"', tag)
    assert described and f"{field_id}-error" in described.group(1).split()
    assert "autofocus" in tag
    message = re.search(rf'<span id="{field_id}-error" class="error-text">([^<]+)</span>', page)
    assert message and message.group(1).strip()


def test_evidence_form_errors_mark_the_field(client: TestClient, write_token: str) -> None:
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-2/evidence/new", headers=HTML).text
    response = client.post(
        "/capabilities/dojo-2/evidence",
        data={"title": "", "kind": "photo", "provenance": "third_party", "grade": "S",
              "date": "2024-05-01", "stance": "supports", "level": "built",
              "csrf_token": csrf_of(form)},
    )  # fmt: skip
    assert response.status_code == 422
    _assert_form_error(response.text, "e-title")
    assert "Fill this in." in response.text or "Write at least" in response.text


def test_status_form_errors_mark_the_field(client: TestClient, write_token: str) -> None:
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-d1/status", headers=HTML).text
    version = re.search(r'name="version" value="(\d+)"', form)
    assert version
    response = client.post(
        "/capabilities/dojo-d1/status",
        data={"reason": "", "version": version.group(1), "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 422
    _assert_form_error(response.text, "s-reason")


def test_run_form_errors_mark_the_field(client: TestClient, write_token: str) -> None:
    sign_in(client, write_token)
    form = client.get("/runs/new", headers=HTML).text
    empty = client.post("/runs", data={"csrf_token": csrf_of(form)})
    assert empty.status_code == 422
    _assert_form_error(empty.text, "r-scenario")
    bad = client.post("/runs", data={"spec": "{not json", "csrf_token": csrf_of(form)})
    assert bad.status_code == 422
    _assert_form_error(bad.text, "r-spec")
    assert "Paste the spec as a JSON object" in bad.text


def test_token_form_errors_mark_the_field(client: TestClient, db_url: str) -> None:
    from app.auth.service import create_token
    from app.core.db import get_engine

    with Session(get_engine()) as s:
        _token, admin = create_token(s, name="admin", scopes=["admin"])
    sign_in(client, admin)
    page = client.get("/tokens", headers=HTML).text
    response = client.post("/tokens", data={"name": " ", "csrf_token": csrf_of(page)})
    assert response.status_code == 422
    _assert_form_error(response.text, "t-name")
