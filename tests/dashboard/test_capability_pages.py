"""A capability grown deep: its claims and evidence a page at a time, its chart counting them all.

The capability is grown by copying its own claims and evidence under it, as a ledger that
follows one programme for years would hold.
"""

import datetime as dt
import html
import json
import random
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.capabilities.models import Capability
from app.claims.models import Claim
from app.core.bounds import CAPABILITY_PAGE_ROWS
from app.core.db import get_engine
from app.evidence.checks import is_check
from app.evidence.models import Evidence
from app.status.history import EVERYTHING, bump_data_version
from tests.dashboard.test_pages import HTML

SLUG = "dojo-d1"
CLAIM_ROW = re.compile(r'<tr id="claim-([^"]+)">')


def deepen(copies: int, seed: int = 18) -> tuple[int, int]:
    """Copy the capability's claims and evidence under it `copies` times, dates moved at random.

    Return how many claims and how many evidence items about the world it then holds.
    """
    rng = random.Random(seed)
    with Session(get_engine()) as session:
        cap = session.exec(select(Capability).where(Capability.slug == SLUG)).one()
        claims = session.exec(select(Claim).where(Claim.capability_id == cap.id)).all()
        items = session.exec(select(Evidence).where(Evidence.capability_id == cap.id)).all()
        for n in range(1, copies + 1):
            for claim in claims:
                moved = Claim(
                    **claim.model_dump(exclude={"id", "slug", "restates_id"}),
                    slug=f"{claim.slug[:100]}-d{n}",
                )
                moved.stated_on = claim.stated_on + dt.timedelta(days=rng.randint(-200, 300))
                session.add(moved)
            for item in items:
                copy = Evidence(
                    **item.model_dump(exclude={"id", "slug", "claim_id"}),
                    slug=f"{item.slug[:100]}-d{n}",
                )
                copy.date = item.date + dt.timedelta(days=rng.randint(-400, 200))
                session.add(copy)
        bump_data_version(session, EVERYTHING)
        session.commit()
        found_claims = session.exec(select(Claim).where(Claim.capability_id == cap.id)).all()
        found_items = session.exec(select(Evidence).where(Evidence.capability_id == cap.id)).all()
        return len(found_claims), sum(1 for item in found_items if not is_check(item))


def chart_of(page: str) -> dict:
    """Return the data of the capability page's timeline chart."""
    match = re.search(r'id="cap-timeline"[^>]*data-chart="([^"]+)"', page)
    assert match, "no timeline chart"
    return json.loads(html.unescape(match.group(1)))


def test_paging_through_a_grown_capability_shows_every_claim_once(client: TestClient) -> None:
    total, _ = deepen(copies=12)
    assert total > 2 * CAPABILITY_PAGE_ROWS
    with Session(get_engine()) as session:
        cap = session.exec(select(Capability).where(Capability.slug == SLUG)).one()
        expected = session.exec(
            select(Claim.slug)
            .where(Claim.capability_id == cap.id)
            .order_by(col(Claim.stated_on), col(Claim.id))
        ).all()
    seen: list[str] = []
    pages = -(-total // CAPABILITY_PAGE_ROWS)
    for number in range(1, pages + 1):
        page = client.get(f"/capabilities/{SLUG}?claims_page={number}", headers=HTML)
        assert page.status_code == 200, page.text[:300]
        rows = CLAIM_ROW.findall(page.text)
        assert 0 < len(rows) <= CAPABILITY_PAGE_ROWS
        seen += rows
        assert f"{len(rows)} of {total:,} claims" in page.text
        assert f"Page {number} of {pages}" in page.text
    assert seen == list(expected)
    refused = client.get(f"/capabilities/{SLUG}?claims_page={pages + 1}", headers=HTML)
    assert refused.status_code == 400
    assert f"claims_page={pages}" in refused.text or f"'{pages}'" in refused.text


@pytest.mark.parametrize("value", ["0", "abc", "99"])
def test_an_evidence_page_that_does_not_exist_is_a_400(client: TestClient, value: str) -> None:
    deepen(copies=12)
    refused = client.get(f"/capabilities/{SLUG}?evidence_page={value}", headers=HTML)
    assert refused.status_code == 400
    assert "evidence_page" in refused.text and "2" in refused.text


def test_the_pager_keeps_the_day_and_the_other_table_page(client: TestClient) -> None:
    deepen(copies=12)
    page = client.get(f"/capabilities/{SLUG}?as_of=2023-06-30&evidence_page=2", headers=HTML).text
    nav = page[page.index('aria-label="Pages of claims"') :].split("</nav>")[0]
    following = html.unescape(re.findall(r'href="([^"]+)" rel="next"', nav)[0])
    assert "as_of=2023-06-30" in following and "evidence_page=2" in following
    assert "claims_page=2" in following


def test_the_chart_counts_every_claim_and_item_of_a_grown_capability(
    client: TestClient,
) -> None:
    claims, evidence = deepen(copies=12)
    chart = chart_of(client.get(f"/capabilities/{SLUG}", headers=HTML).text)
    series = {s["name"]: s["points"] for s in chart["series"]}
    drawn = sum(p["count"] for p in series["Claim (status it implied)"])
    assert drawn == claims and len(series["Claim (status it implied)"]) < claims
    items = sum(
        p["count"] for name, points in series.items() if name.startswith("Evidence") for p in points
    )
    assert items == evidence
