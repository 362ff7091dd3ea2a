"""The timeline: the seed reads as before, the list pages by cursor, the chart stays bounded."""

import base64
import html
import json
import re
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.capabilities import service as cap_service
from app.capabilities.models import Capability
from app.core import cache
from app.core.db import get_engine
from app.core.schema import shown_date
from app.dashboard import queries, timeline
from app.dashboard.templating import LEVEL_LABELS
from app.evidence.checks import is_check
from app.status import snapshot
from app.status.history import EVERYTHING, bump_data_version
from tests.dashboard.test_pages import HTML

ENTRY = re.compile(r"<li>\s*<span>([^<]+)</span>\s*<span class=\"what what-(\w+)\">.*?</li>", re.S)
OLDER = re.compile(r'<a href="(/timeline\?[^"]*cursor=[^"]+)" rel="next"')


def chart_of(page: str) -> dict:
    """Return the data of the page's timeline chart."""
    match = re.search(r'id="global-timeline"[^>]*data-chart="([^"]+)"', page)
    assert match, "no timeline chart"
    return json.loads(html.unescape(match.group(1)))


def entries_of(page: str) -> list[str]:
    """Return the list's entries as text, in order."""
    listing = page[page.index('class="timeline-list"') : page.index("</ol>")]
    return [
        html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", m.group(0))).strip())
        for m in ENTRY.finditer(listing)
    ]


def expected_seed_entries(session: Session) -> list[tuple[str, str, str]]:
    """Return (date, kind, link text) of every entry, newest first, from the public views.

    This is what the timeline listed before it paged: the reference the paged list must match.
    """
    snap = snapshot.get(session)
    caps = [cap for cap, _ in queries.capabilities_with_depth(session)]
    rows: list[tuple] = []
    per_event = Counter(snap.event_slug[c.event_id] for c in snap.claims)
    for event in snap.events:
        if per_event.get(event.slug):
            rows.append(
                (
                    shown_date(event.date, event.date_precision),
                    event.date,
                    0,
                    f"{event.name}: {per_event[event.slug]} claim(s) recorded",
                )
            )
    titles = Counter(e.title for e in snap.evidence)
    texts = {c.id: c.text for c in snap.claims}
    names = {c.id: c.name for c in snap.capabilities}
    for item in snap.evidence:
        if is_check(item):
            continue  # the ledger's own arithmetic and simulations are listed on /checks
        text = item.title
        if titles[text] > 1:
            about = texts.get(item.claim_id) or names[item.capability_id]
            text += f" (on “{about[:70]}{'…' if len(about) > 70 else ''}”)"
        rows.append((shown_date(item.date, item.date_precision), item.date, 1, text))
    for row in queries.history(session, newest_first=False):
        precision = snap.change_precision(row.effective_on, row.evidence_ids)
        rows.append((shown_date(row.effective_on, precision), row.effective_on, 2, "history"))
    for cap in caps:
        if cap.outcome != "active" and cap.outcome_date:
            rows.append(
                (cap.outcome_date.isoformat(), cap.outcome_date, 3, f"{cap.name}: {cap.outcome}")
            )
    rows.sort(key=lambda r: r[1], reverse=True)
    return [(r[0], ("claims", "evidence", "status", "outcome")[r[2]], r[3]) for r in rows]


def test_a_status_change_is_named_as_precisely_as_it_is_shown(client: TestClient) -> None:
    """A screen reader hears the month a change is known to, not a day the ledger invented."""
    page = client.get("/timeline", headers=HTML).text
    changes = [
        (m.group(1), re.search(r"change of ([^<]+)</span>", m.group(0)).group(1))  # type: ignore[union-attr]
        for m in ENTRY.finditer(page)
        if m.group(2) == "status"
    ]
    assert any(not re.fullmatch(r"\d{4}-\d{2}-\d{2}", shown) for shown, _ in changes), changes
    assert all(named == shown for shown, named in changes), changes


def test_seed_timeline_reads_as_before(client: TestClient, session: Session) -> None:
    page = client.get("/timeline", headers=HTML).text
    assert "One row per capability." in page
    assert "<title>Timeline: announced, built, tested, abandoned · AI Day Ledger</title>" in page
    # Everything fits one page: no pager, no picker.
    assert 'class="pager"' not in page and 'name="capability"' not in page
    shown = entries_of(page)
    expected = expected_seed_entries(session)
    assert len(shown) == len(expected)
    for text, (date, kind, link) in zip(shown, expected, strict=True):
        assert text.startswith(date), (text, date)
        assert link in text or kind == "status", (text, link)
    chart = chart_of(page)
    snap = snapshot.get(session)
    assert chart["rows"] == [cap.name for cap, _ in cap_service.hierarchy_order(snap)]
    series = {s["name"]: s["points"] for s in chart["series"]}
    world = [item for item in snap.evidence if not is_check(item)]
    assert 0 < len(world) < len(snap.evidence)
    # A month's several items of one colour in a row are one counted point: none is left out.
    assert sum(p["count"] for p in series["Evidence"]) == len(world)
    assert len(series["Evidence"]) < len(world)
    assert all(
        p["label"] == f"{p['count']} evidence items" for p in series["Evidence"] if p["count"] > 1
    )
    assert len(series["Status change"]) == len(queries.history(session))
    assert {p["label"].split(" → ")[0] for p in series["Status change"]} <= set(
        LEVEL_LABELS.values()
    )
    assert sum(int(p["label"].split()[0]) for p in series["Claims made"]) == len(snap.claims)
    assert 'aria-label="Claims, evidence, status changes and outcomes for every capability' in page


def test_timeline_pages_round_trip(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = entries_of(client.get("/timeline", headers=HTML).text)
    monkeypatch.setattr(timeline, "PAGE_SIZE", 40)
    cache.clear()  # the first page's URL is the same: render it again at the smaller size
    seen: list[str] = []
    url: str | None = "/timeline"
    pages = 0
    while url:
        page = client.get(html.unescape(url), headers=HTML)
        assert page.status_code == 200, page.text[:300]
        seen += entries_of(page.text)
        pages += 1
        assert (
            f"Entries {len(seen) - len(entries_of(page.text)) + 1:,}\u2013{len(seen):,} of {len(whole):,}"
            in page.text
        )
        match = OLDER.search(page.text)
        url = match.group(1) if match else None
        if pages > 1:
            assert "« Newest" in page.text
    assert pages == -(-len(whole) // 40)
    # Nothing lost, nothing repeated, same order; the last page has no "Older" link.
    assert seen == whole
    assert "Older »" not in page.text


def test_older_page_as_an_htmx_fragment(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeline, "PAGE_SIZE", 40)
    first = client.get("/timeline", headers=HTML).text
    match = OLDER.search(first)
    assert match
    headers = {**HTML, "HX-Request": "true", "HX-Target": "timeline-entries"}
    fragment = client.get(html.unescape(match.group(1)), headers=headers).text
    assert fragment.lstrip().startswith('<div class="panel" id="timeline-entries">')
    assert "<canvas" not in fragment and "<html" not in fragment
    assert "Entries 41\u201380" in fragment


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        # Another list's cursor (the claims list's format).
        base64.urlsafe_b64encode(b'{"s":"stated_on","v":"2021-08-19","id":3}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":["2021-13-40",1,3,0]}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":["2021-08-19",9,3,0]}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":["2021-08-19",1,-3,0]}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":["2021-08-19",true,3,0]}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":["2021-08-19",1,99999999999,0]}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":["2021-08-19",1,3]}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":"2021-08-19"}').decode(),
        base64.urlsafe_b64encode(b'{"s":"timeline","v":[NaN,1,3,0]}').decode(),
    ],
)
def test_bad_cursor_is_a_400(client: TestClient, cursor: str) -> None:
    response = client.get(f"/timeline?cursor={cursor}", headers=HTML)
    assert response.status_code == 400, response.text[:300]
    assert "This link has expired or was altered" in response.text


def test_overlong_cursor_is_refused_at_the_edge(client: TestClient) -> None:
    assert client.get("/timeline?cursor=" + "x" * 201, headers=HTML).status_code == 422


def test_cursor_round_trips() -> None:
    key = timeline.pack(738_000, timeline.STATUS, 2_147_483_647, 17)
    assert timeline.unpack(key) == (738_000, timeline.STATUS, 2_147_483_647, 17)
    assert timeline.decode_cursor(timeline.encode_cursor(key)) == key
    # Newer days sort first; on one day, claims before evidence before status changes.
    assert timeline.pack(738_001, timeline.OUTCOME, 1) < timeline.pack(738_000, timeline.CLAIMS, 1)
    assert timeline.pack(738_000, timeline.CLAIMS, 9) < timeline.pack(738_000, timeline.EVIDENCE, 1)


def test_one_hierarchy(client: TestClient) -> None:
    page = client.get("/timeline?capability=dojo-exapod", headers=HTML).text
    assert "<h1>Timeline: Dojo ExaPOD</h1>" in page
    chart = chart_of(page)
    assert chart["rows"][0] == "Dojo ExaPOD" and "Tesla AI5 chip" not in chart["rows"]
    assert len(chart["rows"]) == 7
    assert "FSD computer (HW3)" not in page[page.index('class="timeline-list"') :]
    assert re.search(r'href="/claims\?event=[\w-]+&amp;capability=dojo-d1"', page)
    assert '<option value="dojo-exapod" selected>' in page
    # An unknown capability is refused with the capabilities that exist (issue 16).
    refused = client.get("/timeline?capability=nope", headers=HTML)
    assert refused.status_code == 400 and "capability=dojo-exapod" in refused.text


def add_capabilities(roots: int, deep: int) -> None:
    """Add `roots` top-level capabilities, and `deep` parts under the first of them."""
    with Session(get_engine()) as session:
        added = [
            Capability(slug=f"extra-{n}", name=f"Extra capability {n}", kind="chip")
            for n in range(roots)
        ]
        session.add_all(added)
        session.flush()
        parent = added[0].id
        for n in range(deep):
            part = Capability(
                slug=f"extra-part-{n}", name=f"Part {n}", kind="chip", parent_id=parent
            )
            session.add(part)
            session.flush()
            parent = part.id if n % 2 else parent
        bump_data_version(session, EVERYTHING)
        session.commit()


def test_chart_rows_stay_bounded_on_a_large_ledger(client: TestClient) -> None:
    add_capabilities(roots=300, deep=40)
    page = client.get("/timeline", headers=HTML).text
    chart = chart_of(page)
    assert len(chart["rows"]) == timeline.CHART_ROWS
    assert "of 307" in page  # 300 added roots beside the seed's seven
    assert "each with its parts folded in" in page
    # The most recently active hierarchies are drawn, folded: the seed's, with its parts.
    assert "Dojo ExaPOD (+6)" in chart["rows"] and "Tesla AI5 chip" in chart["rows"]
    assert 'name="capability"' in page and '<option value="extra-part-39"' in page
    # One hierarchy too large to draw part by part: its children are folded in turn.
    one = chart_of(client.get("/timeline?capability=extra-0", headers=HTML).text)
    assert len(one["rows"]) <= timeline.CHART_ROWS
    assert one["rows"][0] == "Extra capability 0"
    assert any(row.startswith("Part 1 (+") for row in one["rows"])


def test_hierarchy_counts_claims_per_event_and_capability(client: TestClient) -> None:
    page = client.get("/timeline?capability=tesla-ai5", headers=HTML).text
    counts = [int(n) for n in re.findall(r"(\d+) claim\(s\) about Tesla AI5 chip", page)]
    claims = client.get("/api/v1/claims?capability=tesla-ai5&limit=200").json()["items"]
    assert sum(counts) == len(claims) > 0


def test_items_that_neither_support_nor_contradict_are_not_called_contradictions(
    client: TestClient, session: Session
) -> None:
    snap = snapshot.get(session)
    stances = {item.title: item.stance for item in snap.evidence}
    page = client.get("/timeline", headers=HTML).text
    listed = {}
    for entry in re.findall(r"<li>(.*?)</li>", page, re.S):
        found = re.search(r'what-(\w+)">.*?<a href="[^"]*#evidence">([^<]+)</a>', entry, re.S)
        if found:
            listed[html.unescape(found.group(2)).strip()] = found.group(1)
    undecided = {t for t, s in stances.items() if s in ("inconclusive", "not_found")}
    assert undecided, "the seed has inconclusive and not-found items"
    for title in undecided & listed.keys():
        assert listed[title] == stances[title], title
    series = {s["name"]: s["points"] for s in chart_of(page)["series"]}
    for point in series["Evidence"]:
        if point["label"].endswith(("(Inconclusive)", "(Not found)")):
            assert point["level"] == "not_assessed", point


def test_only_evidence_that_counts_is_coloured_by_a_level(
    client: TestClient, write_token: str, db_url: str, session: Session
) -> None:
    """A simulation supports a figure but moves no status: its dot is grey, not 'built' blue."""
    from tests.benchmarks.test_benchmark_runs import _drain
    from tests.capabilities.test_capabilities import auth

    response = client.post(
        "/api/v1/benchmark-runs",
        json={"scenario_id": "dojo-consistency"},
        headers=auth(write_token),
    )
    assert response.status_code == 202, response.text
    _drain(db_url)

    def evidence(url: str) -> list[dict[str, Any]]:
        chart = chart_of(client.get(url, headers=HTML).text)
        return next(s["points"] for s in chart["series"] if s["name"] == "Evidence")

    def by_colour(points: list[dict[str, Any]]) -> Counter[str]:
        found: Counter[str] = Counter()
        for point in points:
            found[point["level"]] += point["count"]
        return found

    points = evidence("/timeline?checks=include")
    # The checks (the run's items among them) are grey or red; a point counts its month's items.
    added = by_colour(points) - by_colour(evidence("/timeline"))
    snap = snapshot.get(session)
    assert added.total() == sum(1 for e in snap.evidence if is_check(e))
    assert added["not_assessed"] > 0 and set(added) <= {"not_assessed", "contradicts"}
    counting = {e.title[:40] for e in snap.evidence if snap.ladder.counts(e)}
    coloured = [
        p for p in points if p["level"] not in ("not_assessed", "contradicts") and p["count"] == 1
    ]
    assert coloured and all(p["label"][:40] in counting for p in coloured)
