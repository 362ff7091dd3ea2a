"""The dashboard's HTML routes, through the TestClient: reading, fragments, feeds, editing."""

import csv
import html
import io
import json
import re
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from app.history.models import ReasonCode
from app.seed.check import INTERNAL_TEXT

HTML = {"accept": "text/html"}
PAGES = [
    "/",
    "/claims",
    "/evidence",
    "/timeline",
    "/runs",
    "/capabilities/dojo-d1",
    "/capabilities/dojo-exapod",
    "/claims/exapod-peak-1-1-eflops",
    "/signin",
]


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form without a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, token: str) -> None:
    page = client.get("/signin", headers=HTML)
    response = client.post(
        "/signin",
        data={"token": token, "next": "/", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


@pytest.fixture
def admin_token(db_url: str) -> str:
    from sqlmodel import Session

    from app.auth.service import create_token
    from app.core.db import get_engine

    with Session(get_engine()) as s:
        _token, plaintext = create_token(s, name="admin", scopes=["admin"])
    return plaintext


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_title_csp_and_json_twin(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(r"<title>[^<]+ · AI Day Ledger</title>", response.text)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    if path != "/signin":
        assert re.search(
            r'<link rel="alternate" type="application/json" href="/api/v1/', response.text
        )
    # No inline executable script anywhere: only src= scripts and JSON data blocks.
    for tag in re.findall(r"<script[^>]*>", response.text):
        assert "src=" in tag or 'type="application/json"' in tag or "ld+json" in tag, tag


def test_overview_lists_every_capability_with_both_statuses(client: TestClient) -> None:
    page = client.get("/", headers=HTML).text
    api = client.get("/api/v1/capabilities").json()["items"]
    for cap in api:
        assert f'data-slug="{cap["slug"]}"' in page
    assert "capabilities were claimed above what the evidence shows" in page
    assert "Evidence supports" in page and "Claims implied" in page


def test_overview_counts_say_exactly_what_they_count(client: TestClient) -> None:
    page = client.get("/", headers=HTML).text
    claims = _every_claim(client)
    contradicted = sum(c["verdict"] == "contradicted" for c in claims)
    overdue = sum(bool(c["promise"] and c["promise"]["state"] == "overdue") for c in claims)
    line = re.search(r'id="summary-line">(.*?)</p>', page, re.S)
    assert line
    text = re.sub(r"<[^>]+>", "", line.group(1))
    assert f"{contradicted} claims contradicted by evidence" in " ".join(text.split())
    are = "commitments are" if overdue != 1 else "commitment is"
    assert f"{overdue} dated {are} overdue" in " ".join(text.split())
    assert 'href="/claims?verdict=contradicted"' in line.group(1)


def _every_claim(client: TestClient) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/claims", params=params).json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def test_no_page_shows_an_internal_reference(client: TestClient) -> None:
    """No reader-facing page carries a fact-sheet check number or a bare source key."""
    paths = ["/", "/claims", "/evidence", "/timeline", "/runs"]
    paths += [
        f"/capabilities/{c['slug']}" for c in client.get("/api/v1/capabilities").json()["items"]
    ]
    paths += [f"/claims/{c['slug']}" for c in _every_claim(client)]
    for path in paths:
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, path
        body = re.sub(r"<script.*?</script>|<style.*?</style>", "", page.text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", body)
        found = INTERNAL_TEXT.search(text)
        assert found is None, (path, text[max(0, found.start() - 80) : found.end() + 40])
    identifiers = {"slug", "capability", "event", "claim", "restates", "url", "archived_url",
                   "source_url"}  # fmt: skip
    for export in ("/exports/claims.csv", "/exports/evidence.csv"):
        for row in csv.DictReader(io.StringIO(client.get(export).text)):
            for column, value in row.items():
                if column not in identifiers:
                    assert not INTERNAL_TEXT.search(value or ""), (export, row["slug"], column)


def test_capability_pages_name_claims_by_their_words_not_their_keys(client: TestClient) -> None:
    """A check or an evidence item 'on' a claim names the claim, not its internal slug."""
    slugs = {c["slug"] for c in _every_claim(client)}
    for cap in client.get("/api/v1/capabilities").json()["items"]:
        page = client.get(f"/capabilities/{cap['slug']}", headers=HTML).text
        shown = set(re.findall(r'<a href="/claims/[^"]+">([^<]+)</a>', page))
        assert not shown & slugs, (cap["slug"], sorted(shown & slugs)[:3])


def test_exports_give_dates_no_more_precisely_than_known(client: TestClient) -> None:
    claims = client.get("/exports/claims.csv").text.splitlines()
    row = next(line for line in claims if line.startswith("fsd-hw3-dual-redundancy,"))
    assert ",2019-08," in row and "2019-08-01" not in row
    evidence = client.get("/exports/evidence.csv").text
    assert "S01" not in evidence and "VideoCardz" in evidence


def test_overview_filter_fragment_for_htmx(client: TestClient) -> None:
    full = client.get("/?kind=chip", headers=HTML).text
    fragment = client.get(
        "/?kind=chip", headers={**HTML, "HX-Request": "true", "HX-Target": "capability-table"}
    )
    assert "<html" not in fragment.text and 'id="capability-table"' in fragment.text
    assert "<html" in full
    slugs = re.findall(r'data-slug="([^"]+)"', fragment.text)
    kinds = {c["slug"]: c["kind"] for c in client.get("/api/v1/capabilities").json()["items"]}
    assert slugs and all(kinds[s] == "chip" for s in slugs)
    # A history restore asks for the whole page even with HX-Request.
    restore = client.get(
        "/?kind=chip",
        headers={**HTML, "HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


def test_claims_search_and_filters(client: TestClient) -> None:
    page = client.get(
        "/claims?q=ExaPOD", headers={**HTML, "HX-Request": "true", "HX-Target": "claim-results"}
    ).text
    assert "<html" not in page
    assert "/claims/exapod-peak-1-1-eflops" in page
    overdue = client.get("/claims?overdue=1", headers=HTML).text
    assert "overdue" in overdue
    # An unknown filter value is refused with the allowed values (tests/dashboard/test_explain).
    assert client.get("/claims?grade=Z&sort=nonsense", headers=HTML).status_code == 400


def test_claim_page_embeds_claim_review(client: TestClient) -> None:
    page = client.get("/claims/exapod-peak-1-1-eflops", headers=HTML).text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert block
    data = json.loads(block.group(1))
    assert data["@type"] == "ClaimReview"
    # Tesla and the press saying 1.1 EF again confirm nothing: the claim is not rated at all.
    assert "ratingValue" not in data["reviewRating"]
    assert data["reviewRating"]["alternateName"].startswith("Unverified")
    assert data["itemReviewed"]["author"] == {"@type": "Organization", "name": "Tesla"}
    assert "1.1" in data["claimReviewed"] or "EFLOP" in data["claimReviewed"].upper()


def _claim_review(client: TestClient, slug: str) -> dict:
    page = client.get(f"/claims/{slug}", headers=HTML).text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert block
    return json.loads(block.group(1))


def test_claim_review_names_the_claimant_as_author(client: TestClient) -> None:
    authors = {
        "fsd-hw3-efficiency-4-9-tops-per-w": {"@type": "Organization", "name": "WikiChip Fuse"},
        "d1-off-chip-bandwidth-16000-gbps-hamilton": {
            "@type": "Organization",
            "name": "James Hamilton",
        },
        "dojo-4-exaflop-system-hc2024": {
            "@type": "Organization",
            "name": "Irrational Analysis (Hot Chips 2024 recap)",
        },
        "ai5-40x-ai4": {"@type": "Person", "name": "Elon Musk"},
    }
    for slug, author in authors.items():
        assert _claim_review(client, slug)["itemReviewed"]["author"] == author, slug


def test_claim_review_rates_documented_below_supported(client: TestClient) -> None:
    documented = _claim_review(client, "d1-sram-440-mb")["reviewRating"]
    assert documented["alternateName"].startswith("Documented by the claimant")
    assert documented["ratingValue"] == 4 < documented["bestRating"]
    supported = _claim_review(client, "tile-d1-count-25")["reviewRating"]
    assert supported["ratingValue"] == supported["bestRating"] == 5


def test_forum_claim_review_names_no_author_and_gives_no_rating(client: TestClient) -> None:
    page = client.get("/claims/fsd-hw3-both-socs-for-capacity", headers=HTML).text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert block
    data = json.loads(block.group(1))
    assert "author" not in data["itemReviewed"]
    assert "ratingValue" not in data["reviewRating"]
    assert data["reviewRating"]["alternateName"].startswith("Reported on a forum, unverified")
    assert "Unverified" in page


def test_claim_review_dates_are_iso_at_the_precision_known(client: TestClient) -> None:
    """A claim known to the month is published as ISO 8601 '2019-08', not 'Aug 2019'."""
    page = client.get("/claims/fsd-hw3-dual-redundancy", headers=HTML).text
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert block
    data = json.loads(block.group(1))
    assert data["itemReviewed"]["datePublished"] == "2019-08"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["datePublished"])


def test_claims_page_filters_by_verdict(client: TestClient) -> None:
    page = client.get("/claims?verdict=documented", headers=HTML).text
    assert "Documented by the claimant" in page
    api = client.get("/api/v1/claims", params={"verdict": "documented", "limit": 200}).json()
    assert api["items"] and all(c["verdict"] == "documented" for c in api["items"])
    # A check that holds only under one reading is inconclusive under its named assumption.
    claim = client.get("/api/v1/claims/d1-off-chip-bandwidth-4x4-tbps").json()
    assert claim["verdict"] == "unresolved"
    assert claim["consistency"] == "inconclusive"
    assert any("counts both directions" in r for r in claim["verdict_reasons"])
    csv_text = client.get("/exports/claims.csv").text
    assert "verdict" in csv_text.splitlines()[0].split(",")


def test_unknown_capability_is_an_html_404(client: TestClient) -> None:
    response = client.get("/capabilities/no-such-thing", headers=HTML)
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    api = client.get("/api/v1/capabilities/no-such-thing")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_atom_feed_and_csv_exports(client: TestClient) -> None:
    feed = client.get("/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert root.find("a:title", ns) is not None
    assert root.findall("a:entry", ns)
    claims_csv = client.get("/exports/claims.csv")
    assert claims_csv.text.splitlines()[0].startswith("slug,capability,event,stated_on,text")
    assert len(claims_csv.text.splitlines()) > 100
    evidence_csv = client.get("/exports/evidence.csv")
    assert evidence_csv.text.splitlines()[0].startswith("id,slug,capability,claim,date")


def test_editing_needs_sign_in_and_csrf(client: TestClient, write_token: str) -> None:
    response = client.get("/capabilities/dojo-d1/status", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
    bad = client.post("/signin", data={"token": write_token, "csrf_token": "forged"})
    assert bad.status_code == 403
    wrong = client.get("/signin", headers=HTML)
    rejected = client.post(
        "/signin", data={"token": "ldg_nope_nope", "csrf_token": csrf_of(wrong.text)}
    )
    assert rejected.status_code == 401 and "unknown or revoked" in rejected.text
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-d1/status", headers=HTML)
    assert form.status_code == 200
    no_csrf = client.post("/capabilities/dojo-d1/status", data={"reason": "x" * 5, "version": 1})
    assert no_csrf.status_code == 403


def test_status_update_appears_in_history_and_stale_form_is_rejected(
    client: TestClient, write_token: str
) -> None:
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-cabinet/status", headers=HTML).text
    version = int(re.search(r'name="version" value="(\d+)"', form).group(1))
    token = csrf_of(form)
    ok = client.post(
        "/capabilities/dojo-cabinet/status",
        data={"version": version, "status": "built", "reason_code": "correction",
              "reason": "Editorial test override", "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert ok.status_code == 303, ok.text[:500]
    page = client.get("/capabilities/dojo-cabinet", headers=HTML).text
    assert "Editorial test override" in page and "manual override" in page
    stale = client.post(
        "/capabilities/dojo-cabinet/status",
        data={"version": version, "status": "tested", "reason": "My unsaved careful words",
              "csrf_token": token},
    )  # fmt: skip
    assert stale.status_code == 409
    assert "changed while you were editing" in stale.text
    assert "My unsaved careful words" in stale.text


def test_the_status_form_offers_the_chosen_reasons_and_refuses_another(
    client: TestClient, write_token: str
) -> None:
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-cabinet/status", headers=HTML).text
    offered = re.findall(r'<option value="([a-z_]+)"[^>]*>([^<]+)</option>', form)
    assert ("editorial_review", ReasonCode.editorial_review.label) in offered
    assert "seed" not in dict(offered)
    version = int(re.search(r'name="version" value="(\d+)"', form).group(1))
    refused = client.post(
        "/capabilities/dojo-cabinet/status",
        data={"version": version, "status": "built", "reason_code": "seed",
              "reason": "Editorial test override", "csrf_token": csrf_of(form)},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "Choose one of the reasons." in refused.text
    page = client.get("/capabilities/dojo-cabinet", headers=HTML).text
    assert "Editorial test override" not in page


def test_add_evidence_escapes_markup(client: TestClient, write_token: str) -> None:
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-2/evidence/new", headers=HTML).text
    payload = "<script>alert('xss')</script><img src=x onerror=alert(1)>"
    response = client.post(
        "/capabilities/dojo-2/evidence",
        data={"title": payload, "summary": payload, "kind": "photo",
              "origin": "reported", "grade": "S", "date": "2024-05-01",
              "stance": "supports", "level": "built", "csrf_token": csrf_of(form)},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text[:800]
    for path in ("/capabilities/dojo-2", "/evidence", "/timeline"):
        page = client.get(path, headers=HTML).text
        assert "<script>alert(" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page


def test_invalid_evidence_keeps_the_input(client: TestClient, write_token: str) -> None:
    sign_in(client, write_token)
    form = client.get("/capabilities/dojo-2/evidence/new", headers=HTML).text
    response = client.post(
        "/capabilities/dojo-2/evidence",
        data={"title": "Half-typed item", "kind": "photo", "origin": "reported",
              "grade": "S", "date": "", "stance": "supports", "csrf_token": csrf_of(form)},
    )  # fmt: skip
    assert response.status_code == 422
    assert "Half-typed item" in response.text and "Not saved" in response.text


def test_token_page_needs_admin(client: TestClient, write_token: str, admin_token: str) -> None:
    sign_in(client, write_token)
    response = client.get("/tokens", headers=HTML, follow_redirects=False)
    assert response.status_code == 303 and "scope=admin" in response.headers["location"]
    sign_in(client, admin_token)
    page = client.get("/tokens", headers=HTML).text
    created = client.post(
        "/tokens", data={"name": "bot", "scopes": ["write"], "csrf_token": csrf_of(page)}
    )
    assert created.status_code == 201
    assert re.search(r"ldg_[0-9a-f]{8}_\S+", created.text)


def test_lists_show_dates_no_more_precisely_than_known(client: TestClient) -> None:
    """The HC31 live blog is known to the month: 'Aug 2019' on every list, never '2019-08-01'."""
    pages = [
        "/evidence?capability=fsd-computer-hw3",
        "/timeline?capability=fsd-computer-hw3",
        "/claims/fsd-hw3-dual-redundancy",
        "/capabilities/fsd-computer-hw3",
    ]
    for path in pages:
        page = client.get(path, headers=HTML).text
        assert "HC31 live blog" in page, path
        assert "Aug 2019" in page, path
        # A chart draws the item at the month's first day; its tooltip shows `when`.
        charts = [json.loads(html.unescape(m)) for m in re.findall(r'data-chart="([^"]*)"', page)]
        text = re.sub(r'data-chart="[^"]*"', "", page)
        assert "2019-08-01" not in text, path
        drawn = [
            point
            for chart in charts
            for series in chart.get("series", [])
            for point in series["points"]
            if point["x"] == "2019-08-01"
        ]
        # Items whose page gives no date are placed in that month and say so.
        assert all(point["when"] in ("Aug 2019", "date not given") for point in drawn), drawn
        assert drawn or not path.startswith(("/timeline", "/capabilities")), path


def test_restatements_are_named_by_what_the_claims_say(client: TestClient) -> None:
    claim = client.get("/api/v1/claims/fsd-hw3-dual-redundancy").json()
    earlier = client.get(f"/api/v1/claims/{claim['restates']}").json()
    page = client.get("/claims/fsd-hw3-dual-redundancy", headers=HTML).text
    restates = page[page.index("<dt>Restates</dt>") :][:800]
    assert f'href="/claims/{earlier["slug"]}">{html.escape(earlier["text"])}</a>' in restates
    back = client.get(f"/claims/{earlier['slug']}", headers=HTML).text
    restated_by = back[back.index("<dt>Restated by</dt>") :][:2000]
    assert f'href="/claims/{claim["slug"]}">{html.escape(claim["text"])}</a>' in restated_by
