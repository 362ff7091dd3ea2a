"""The overview on a grown ledger: pages of whole hierarchies, and counts kept per snapshot.

The ledger is grown by copying the seed's hierarchies with their claims and evidence, the
dates moved at random (a fixed seed), so that each copy stood differently on a past day.
"""

import datetime as dt
import random
import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.capabilities.models import Capability
from app.claims.models import Claim
from app.core.bounds import OVERVIEW_PAGE_ROWS
from app.core.db import get_engine
from app.dashboard.templating import LADDER
from app.evidence.models import Evidence
from app.status.history import EVERYTHING, bump_data_version
from tests.dashboard.test_pages import HTML

ROW = re.compile(r'<tr class="depth-(\d)[^"]*" data-slug="([^"]+)"')
DAYS = (None, "2021-08-19", "2022-10-01", "2023-06-30")


def grow(copies: int, seed: int = 16) -> None:
    """Copy the seed's capabilities, claims and evidence `copies` times, dates moved at random."""
    rng = random.Random(seed)
    with Session(get_engine()) as session:
        caps = session.exec(select(Capability).order_by(col(Capability.id))).all()
        claims = session.exec(select(Claim).order_by(col(Claim.id))).all()
        items = session.exec(select(Evidence).order_by(col(Evidence.id))).all()
        for n in range(1, copies + 1):
            cap_ids: dict[int | None, int | None] = {None: None}
            for cap in caps:  # parents come first: the seed adds them first
                copy = Capability(
                    **cap.model_dump(exclude={"id", "slug", "parent_id"}),
                    slug=f"{cap.slug}-g{n}",
                    parent_id=cap_ids[cap.parent_id],
                )
                session.add(copy)
                session.flush()
                cap_ids[cap.id] = copy.id
            claim_ids: dict[int | None, int | None] = {None: None}
            for claim in claims:
                moved = Claim(
                    **claim.model_dump(exclude={"id", "slug", "capability_id", "restates_id"}),
                    slug=f"{claim.slug[:100]}-g{n}",
                    capability_id=cap_ids[claim.capability_id],
                    restates_id=claim_ids.get(claim.restates_id),
                )
                moved.stated_on = claim.stated_on + dt.timedelta(days=rng.randint(-200, 300))
                session.add(moved)
                session.flush()
                claim_ids[claim.id] = moved.id
            for item in items:
                session.add(
                    Evidence(
                        **item.model_dump(exclude={"id", "slug", "capability_id", "claim_id"}),
                        slug=f"{item.slug[:100]}-g{n}",
                        capability_id=cap_ids[item.capability_id],
                        claim_id=claim_ids.get(item.claim_id),
                    )
                )
            session.flush()
            for item in session.exec(select(Evidence).where(col(Evidence.slug).like(f"%-g{n}"))):
                item.date = item.date + dt.timedelta(days=rng.randint(-400, 200))
        bump_data_version(session, EVERYTHING)
        session.commit()


def every_capability(client: TestClient, day: str | None) -> list[dict]:
    """Every capability the API lists (each one built in full: the slow path), in order."""
    items, cursor = [], None
    while True:
        params = {
            "limit": 200,
            **({"as_of": day} if day else {}),
            **({"cursor": cursor} if cursor else {}),
        }
        page = client.get("/api/v1/capabilities", params=params).json()
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def overview_pages(client: TestClient, day: str | None) -> list[str]:
    """Every page of the overview, following its Next links."""
    query = f"?as_of={day}" if day else "?"
    pages = [client.get(f"/{query}", headers=HTML).text]
    while found := re.search(r'<a href="(/\?[^"]*)" rel="next">', pages[-1]):
        pages.append(client.get(found.group(1).replace("&amp;", "&"), headers=HTML).text)
        assert len(pages) < 100
    return pages


def test_the_overview_shows_whole_hierarchies_a_page_at_a_time(client: TestClient) -> None:
    grow(copies=12)
    for day in DAYS:
        every = every_capability(client, day)
        pages = overview_pages(client, day)
        assert len(pages) > 1
        shown = [ROW.findall(page) for page in pages]
        # Every capability once, in hierarchy order; each page starts a hierarchy.
        assert [slug for rows in shown for _depth, slug in rows] == [c["slug"] for c in every]
        assert all(rows[0][0] == "0" and len(rows) < 2 * OVERVIEW_PAGE_ROWS for rows in shown)
        for number, page in enumerate(pages, start=1):
            assert f"{len(every)} of {len(every)} capabilities" in page
            assert f"page {number} of {len(pages)} shows {len(shown[number - 1])}" in page


@pytest.mark.parametrize("day", DAYS)
def test_the_kept_counts_equal_a_full_recount(client: TestClient, day: str | None) -> None:
    grow(copies=4, seed=DAYS.index(day))
    every = every_capability(client, day)
    page = client.get("/" + (f"?as_of={day}" if day else ""), headers=HTML).text
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    above = sum(c["assessment"]["gap"] > 0 for c in every)
    assert f"{above} of {len(every)} capabilities were claimed above" in text
    ended = sum(c["outcome"] != "active" for c in every)
    assert (f"{ended} were later abandoned" in text) == (ended > 0)
    for level in LADDER:
        shown = re.search(
            rf'href="/\?status={level}[^"]*" class="count-link">.*?"count">(\d+)<', page
        )
        assert shown and int(shown.group(1)) == sum(
            c["assessment"]["status"] == level for c in every
        )
    # A filter pages through its matches alone.
    for level in ("tested", "aspirational"):
        query = f"/?status={level}" + (f"&as_of={day}" if day else "")
        rows = ROW.findall(client.get(query, headers=HTML).text)
        matches = [c["slug"] for c in every if c["assessment"]["status"] == level]
        assert [slug for _depth, slug in rows] == matches[: len(rows)]
        assert rows or not matches


@pytest.mark.parametrize("value", ["0", "abc", "99"])
def test_a_page_that_does_not_exist_is_a_400_naming_the_pages(
    client: TestClient, value: str
) -> None:
    grow(copies=8)
    refused = client.get(f"/?page={value}", headers=HTML)
    assert refused.status_code == 400
    assert "page=1" in refused.text and "page=2" in refused.text
