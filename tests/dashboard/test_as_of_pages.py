"""Pages as of a past day: the overview's control, then beside today, links that keep the date."""

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.db import get_engine
from app.events.models import Event
from app.status.history import EVERYTHING, bump_data_version

HTML = {"Accept": "text/html"}
THEN = "as_of=2021-08-19"


def test_overview_as_of_shows_then_beside_today_and_keeps_the_date(client: TestClient) -> None:
    page = client.get(f"/?{THEN}", headers=HTML).text
    assert 'id="as-of-banner"' in page and "2021-08-19" in page
    assert "Supports today" in page and "Evidence supported then" in page
    assert f'href="/capabilities/dojo-cabinet?{THEN}"' in page
    assert f'href="/claims?{THEN}"' in page  # the navigation keeps it too
    assert 'data-slug="dojo-3"' not in page  # announced in 2026
    today = client.get("/", headers=HTML).text
    assert 'id="as-of-banner"' not in today and "Supports today" not in today
    assert 'data-slug="dojo-3"' in today
    assert "As of AI Day 2021" in today and "As of Hot Chips 34" in today


def test_lists_and_pages_as_of_keep_only_what_was_known(client: TestClient) -> None:
    later = "/claims/tile-stable-diffusion-25-d1"  # said at AI Day 2022
    assert later in client.get("/claims?q=Stable", headers=HTML).text
    assert later not in client.get(f"/claims?q=Stable&{THEN}", headers=HTML).text
    assert (
        "/claims/exapod-peak-1-1-eflops"
        in client.get(f"/claims?q=ExaPOD&{THEN}", headers=HTML).text
    )
    timeline = client.get(f"/timeline?{THEN}", headers=HTML).text
    assert "2022-09-30" not in timeline and "2021-08-19" in timeline
    assert "2022-09-30" in client.get("/timeline", headers=HTML).text
    assert client.get(f"/capabilities/dojo-3?{THEN}", headers=HTML).status_code == 404
    cabinet = client.get(f"/capabilities/dojo-cabinet?{THEN}", headers=HTML).text
    assert "Evidence supports today" in cabinet and "Evidence supported then" in cabinet


def test_overview_opens_with_the_questions_before_the_table(client: TestClient) -> None:
    page = client.get("/", headers=HTML).text
    assert page.index('id="questions-h"') < page.index('class="caps stack"')
    for question in (
        "What, at AI Day 2021, was built, and what was only a block diagram?",
        "Does the FSD computer&#39;s second chip give redundancy or capacity?",
        "Is &#34;10 TBps on-chip, 4x4 TBps off-chip&#34; proof of anything?",
    ):
        assert question in page
    assert 'href="/claims/fsd-hw3-dual-redundancy"' in page  # an answer links to its claims


def test_an_event_copied_under_another_slug_is_offered_once(client: TestClient) -> None:
    """Two events with one name and day would show the very same ledger: one preset."""
    with Session(get_engine()) as session:
        original = session.exec(select(Event).where(Event.slug == "ai-day-2021")).one()
        session.add(Event(**original.model_dump(exclude={"id", "slug"}), slug="ai-day-2021-copy"))
        bump_data_version(session, EVERYTHING)
        session.commit()
    page = client.get("/", headers=HTML).text
    assert page.count(">As of AI Day 2021 (2021-08-19)</option>") == 1
    assert page.count(">As of AI Day 2021</a>") == 1
