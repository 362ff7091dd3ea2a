"""Pages that explain themselves, in Chromium: the 400 and 404 pages, form errors, the focus
move when a run finishes, and axe-core on the new pages."""

import re
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS, LiveServer, screenshot, sign_in
from tests.browser.test_accessibility import AXE, RUN_AXE
from tests.browser.test_reader_place import start_queued_run

pytestmark = pytest.mark.browser


@pytest.fixture
def axe_page(browser: Any, live_server: LiveServer) -> Any:
    """A tab with axe-core injected; error pages answer 4xx, so no console assertion here."""
    if not AXE.exists():
        pytest.skip("node_modules/axe-core is missing: run `npm ci`")
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(15_000)
    ctx.add_init_script(path=str(AXE))
    yield ctx.new_page()
    ctx.close()


def _axe(page: Any) -> list[str]:
    page.wait_for_load_state("networkidle")
    return page.evaluate(RUN_AXE)


def test_an_unknown_filter_value_page_offers_the_allowed_values(axe_page: Any) -> None:
    page = axe_page
    response = page.goto("/claims?verdict=maybe")
    assert response.status == 400
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.get_by_role("heading", level=1).inner_text().startswith("No such filter value")
    assert _axe(page) == []
    screenshot(page, "error-400-filter")
    page.get_by_role("link", name="supported", exact=True).click()
    page.wait_for_url(re.compile(r"/claims\?verdict=supported$"))
    assert page.title().startswith("Claims: supported")


def test_a_404_page_has_the_navigation_and_a_way_back(axe_page: Any) -> None:
    page = axe_page
    response = page.goto("/runs/abc")
    assert response.status == 404
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert _axe(page) == []
    screenshot(page, "error-404-run")
    page.get_by_role("link", name="Back to the simulations").click()
    page.wait_for_url(re.compile(r"/runs$"))


def test_a_bad_cursor_page_says_the_link_expired(axe_page: Any) -> None:
    page = axe_page
    response = page.goto("/claims?cursor=garbage")
    assert response.status == 400
    assert "This link has expired or was altered" in page.inner_text("main")
    assert _axe(page) == []


def test_the_method_page_is_reached_from_a_chip(axe_page: Any) -> None:
    page = axe_page
    page.goto("/claims/exapod-peak-1-1-eflops")
    page.locator("a.verdict.chip-link").first.click()
    page.wait_for_url(re.compile(r"/method#verdict-\w+$"))
    anchor = page.url.rsplit("#", 1)[1]
    assert page.locator(f"#{anchor}").is_visible()
    assert _axe(page) == []
    screenshot(page, "method")


def test_form_errors_mark_the_field_and_move_focus(axe_page: Any, live_server: LiveServer) -> None:
    page = axe_page
    sign_in(page, live_server.token("form-errors", ["write"]))
    page.goto("/capabilities/dojo-2/evidence/new")
    page.get_by_role("button", name="Add evidence").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    focused = page.evaluate("document.activeElement.id")
    assert focused == "e-title"
    field = page.locator("#e-title")
    assert field.get_attribute("aria-invalid") == "true"
    described = (field.get_attribute("aria-describedby") or "").split()
    assert "e-title-error" in described
    assert page.locator("#e-title-error").inner_text().strip() == "Fill this in."
    assert _axe(page) == []
    screenshot(page, "form-error-evidence")
    page.goto("/runs/new")
    page.get_by_role("button", name="Start").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    assert page.evaluate("document.activeElement.id") == "r-scenario"
    assert page.locator("#r-scenario").get_attribute("aria-invalid") == "true"
    assert _axe(page) == []


def test_focus_on_cancel_moves_to_the_result_when_the_run_finishes(
    page: Any, live_server: LiveServer
) -> None:
    live_server.stop_worker()
    start_queued_run(page, live_server, "dojo-node-gemm")
    page.locator("#cancel-run").focus()
    assert page.evaluate("document.activeElement.id") == "cancel-run"
    live_server.start_worker()
    page.wait_for_selector("#result-h", timeout=60_000)
    page.wait_for_function("() => document.activeElement.id === 'result-h'", timeout=10_000)
    # The result sits outside the only live region, the state line.
    assert (
        page.evaluate(
            "document.getElementById('run-state-line').contains(document.getElementById('result-h'))"
        )
        is False
    )
    live = page.evaluate("Array.from(document.querySelectorAll('main [aria-live]')).map(e => e.id)")
    assert live == ["run-state-line"]
    screenshot(page, "run-finished-focus")


def test_the_overview_on_a_phone_keeps_the_hierarchy(browser: Any, live_server: LiveServer) -> None:
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    page = ctx.new_page()
    page.goto("/")
    # Each row's depth shows as an indent of its name: a child sits right of its parent.
    exapod = page.locator('tr[data-slug="dojo-exapod"] .cap-name a').bounding_box()
    d1 = page.locator('tr[data-slug="dojo-d1"] .cap-name a').bounding_box()
    assert exapod and d1 and d1["x"] > exapod["x"] + 20
    page.screenshot(path=str(SCREENSHOTS / "overview-phone-first-screen.png"))
    # The first screen of a capability page shows its status and its open questions.
    page.goto("/capabilities/fsd-computer-hw3")
    for selector in ("#status-summary", "#open-questions"):
        box = page.locator(selector).bounding_box()
        assert box and box["y"] < 844, selector
    page.screenshot(path=str(SCREENSHOTS / "capability-phone-first-screen.png"))
    ctx.close()
