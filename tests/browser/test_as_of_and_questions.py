"""The questions on the first screen and the as-of control, at desktop and phone sizes, with axe."""

from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, LiveServer
from tests.browser.test_accessibility import AXE, RUN_AXE

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def axe_page(browser: Any, live_server: LiveServer) -> Any:
    if not AXE.exists():
        pytest.skip("node_modules/axe-core is missing: run `npm ci`")
    ctx = browser.new_context(base_url=live_server.url)
    ctx.add_init_script(path=str(AXE))
    tab = ctx.new_page()
    yield tab
    ctx.close()


def on_first_screen(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] < page.viewport_size["height"] and box["height"] > 0


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_questions_open_the_overview_on_the_first_screen(axe_page: Any, size: str) -> None:
    width, height = SIZES[size]
    page = axe_page
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/")
    page.wait_for_load_state("networkidle")
    assert on_first_screen(page, "#questions-h"), "the questions must start on the first screen"
    assert on_first_screen(page, ".question-card .question-text")
    first = page.locator(".question-card").first
    assert "What, at AI Day 2021, was built" in first.inner_text()
    questions = page.locator("#questions-h").bounding_box()
    table = page.locator("table.caps").bounding_box()
    assert questions["y"] < table["y"], "the questions come before the table"
    page.screenshot(path=str(SCREENSHOTS / f"overview-questions-{width}.png"))
    assert page.evaluate(RUN_AXE) == []


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_as_of_control_steps_back_to_ai_day_2021(axe_page: Any, size: str) -> None:
    width, height = SIZES[size]
    page = axe_page
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/")
    page.get_by_role("link", name="As of AI Day 2021").click()
    page.wait_for_url("**/?as_of=2021-08-19")
    assert "2021-08-19" in page.locator("#as-of-banner").inner_text()
    assert "as of 2021-08-19" in page.locator("#as-of-h").inner_text()
    row = page.locator('tr[data-slug="dojo-cabinet"]')
    assert "Aspirational" in row.locator('td[data-label="Evidence supported then"]').inner_text()
    assert "Built" in row.locator('td[data-label="Supports today"]').inner_text()
    tile = page.locator('tr[data-slug="dojo-training-tile"]')
    assert "Tested" in tile.locator('td[data-label="Evidence supported then"]').inner_text()
    assert page.locator('tr[data-slug="dojo-3"]').count() == 0  # not yet announced
    page.screenshot(path=str(SCREENSHOTS / f"overview-as-of-ai-day-2021-{width}.png"))
    assert page.evaluate(RUN_AXE) == []
    # A link keeps the date; the capability page shows then beside today.
    page.locator('tr[data-slug="dojo-cabinet"] th a').click()
    page.wait_for_url("**/capabilities/dojo-cabinet?as_of=2021-08-19")
    assert "evidence supports today" in page.locator(".status-compare").inner_text().lower()
    page.screenshot(path=str(SCREENSHOTS / f"capability-as-of-{width}.png"))
    assert page.evaluate(RUN_AXE) == []


def test_an_event_from_the_list_and_back_to_today(axe_page: Any) -> None:
    page = axe_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/")
    page.get_by_text("Another event or date").click()
    page.get_by_label("Any event").select_option(label="As of AI Day 2022 (2022-09-30)")
    page.locator(".as-of-form").first.get_by_role("button", name="Show").click()
    page.wait_for_url("**/?as_of=2022-09-30")
    row = page.locator('tr[data-slug="dojo-cabinet"]')
    assert "Built" in row.locator('td[data-label="Evidence supported then"]').inner_text()
    page.get_by_role("link", name="Back to today").click()
    page.wait_for_url(lambda url: "as_of" not in url)
    assert page.locator("#as-of-banner").count() == 0


def test_a_capability_page_opens_with_its_questions(axe_page: Any) -> None:
    page = axe_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/capabilities/fsd-computer-hw3")
    page.wait_for_load_state("networkidle")
    assert on_first_screen(page, "#questions-h")
    card = page.locator("#q-fsd-second-chip-redundancy-or-capacity")
    assert "Holds" in card.inner_text() and "Redundancy" in card.inner_text()
    card.locator("summary").click()
    assert card.locator('a[href="/claims/fsd-hw3-dual-redundancy"]').count() == 1
    page.screenshot(path=str(SCREENSHOTS / "capability-questions-390.png"))
    assert page.evaluate(RUN_AXE) == []
