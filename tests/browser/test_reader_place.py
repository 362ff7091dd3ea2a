"""Live pages keep the reader's place: focus, scroll, open disclosures, live regions, history."""

import re
from typing import Any

import pytest

from tests.browser.conftest import LiveServer, screenshot, sign_in

pytestmark = pytest.mark.browser

COUNT_POLLS = """() => {
  window.__polls = 0;
  document.body.addEventListener('htmx:afterRequest', () => { window.__polls += 1; });
}"""


def start_queued_run(page: Any, live_server: LiveServer, scenario: str) -> str:
    """Sign in and start a run; without a worker it stays queued and its page keeps polling."""
    sign_in(page, live_server.token(f"place-{scenario}", ["write"]))
    page.goto("/runs")
    row = page.locator("tr", has=page.locator(f"text={scenario}"))
    row.get_by_role("button", name=re.compile("^Run")).click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    return page.url


def test_cancel_button_keeps_focus_while_the_run_page_polls(
    page: Any, live_server: LiveServer
) -> None:
    live_server.stop_worker()
    start_queued_run(page, live_server, "dojo-node-gemm")
    page.evaluate(COUNT_POLLS)
    page.evaluate("window.__status = document.getElementById('run-status')")
    page.locator("#run-spec summary").click()
    page.evaluate("window.scrollTo(0, 200)")
    scroll = page.evaluate("window.scrollY")
    page.locator("#cancel-run").focus()
    page.wait_for_function("() => window.__polls >= 4", timeout=10_000)
    assert page.evaluate("document.activeElement.id") == "cancel-run"
    assert page.evaluate("document.getElementById('run-spec').open"), "the open spec closed"
    assert page.evaluate("window.scrollY") == scroll
    # The polled panel is the same node; only the state line is a live region (issue 16).
    assert page.evaluate("document.getElementById('run-status') === window.__status")
    assert page.get_attribute("#run-status", "aria-live") is None
    assert page.get_attribute("#run-state-line", "aria-live") == "polite"
    # Tab goes on from the button inside the panel, as it would without polling.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('#run-status') !== null")
    screenshot(page, "run-polling-focus")


def test_polling_stops_when_the_run_finishes(page: Any, live_server: LiveServer) -> None:
    start_queued_run(page, live_server, "tile-gpt-scaling")
    page.evaluate(COUNT_POLLS)
    live_server.start_worker()
    page.wait_for_function(
        "() => document.getElementById('run-state').textContent === 'succeeded'", timeout=60_000
    )
    settled = page.evaluate("window.__polls")
    page.wait_for_timeout(2000)
    assert page.evaluate("window.__polls") <= settled + 1  # at most one poll already in flight
    assert page.get_attribute("#run-status", "hx-trigger") is None


def test_a_link_on_runs_keeps_focus_while_the_list_polls(
    page: Any, live_server: LiveServer
) -> None:
    live_server.stop_worker()
    run_url = start_queued_run(page, live_server, "dip-hbm-gemm")
    run_id = run_url.rsplit("/", 1)[1]
    page.goto("/runs")
    assert page.get_attribute("#runs-table", "hx-trigger") == "every 2s"
    page.evaluate(COUNT_POLLS)
    link = page.locator(f'#runs-table a[href="/runs/{run_id}"]')
    link.focus()
    page.wait_for_function("() => window.__polls >= 2", timeout=15_000)
    assert page.evaluate("document.activeElement.getAttribute('href')") == f"/runs/{run_id}"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/runs/{run_id}$"))


def test_filters_settle_into_one_history_entry_and_a_title(page: Any) -> None:
    page.goto("/claims")
    page.evaluate("window.__results = document.getElementById('claim-results')")
    start = page.evaluate("history.length")
    grade = page.get_by_label("Source grade")
    grade.focus()
    for _ in range(3):  # arrowing through a closed select fires a change per step
        page.keyboard.press("ArrowDown")
    page.wait_for_url(re.compile(r"grade="))
    page.wait_for_timeout(800)
    assert page.evaluate("history.length") == start + 1, "one history entry per settled filter"
    chosen = grade.input_value()
    assert page.title().startswith(f"Claims: grade {chosen}")
    assert page.evaluate("document.getElementById('claim-results') === window.__results")
    assert page.get_attribute("#claim-results", "aria-live") == "polite"
    assert page.evaluate("document.activeElement.id") == "f-grade"
    search = page.get_by_label("Search text, metric or slug")
    search.press_sequentially("exapod", delay=40)
    page.wait_for_url(re.compile(r"q=exapod"))
    page.wait_for_timeout(800)
    assert page.evaluate("history.length") == start + 2
    assert "matching “exapod”" in page.title()


def test_overview_and_evidence_live_regions_stay_in_place(page: Any) -> None:
    for path, region, label, value in (
        ("/", "capability-table", "Kind", "chip"),
        ("/evidence", "evidence-results", "Stance", "contradicts"),
    ):
        page.goto(path)
        page.evaluate(f"window.__region = document.getElementById('{region}')")
        page.get_by_label(label, exact=True).select_option(value)
        page.wait_for_url(re.compile(value))
        page.wait_for_load_state("networkidle")
        assert page.evaluate(f"document.getElementById('{region}') === window.__region"), path
        assert page.get_attribute(f"#{region}", "aria-live") == "polite"
        assert value in page.title().lower(), page.title()


def test_sign_in_error_is_tied_to_the_field(page: Any, console: Any) -> None:
    page.goto("/signin")
    page.get_by_label("API token").fill("ldg_not_a_real_token")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    field = page.locator("#token")
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby").split()
    assert "token-error" in described
    assert "unknown or revoked" in page.inner_text("#token-error")
    assert page.evaluate("document.activeElement.id") == "token"
    screenshot(page, "signin-error")
    # The refused sign-in is answered 401, which Chromium logs; that one is expected.
    console.errors = [e for e in console.errors if "401 (Unauthorized)" not in e]


def test_phone_filters_keep_each_checkbox_beside_its_label(page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/claims")
    for name in ("overdue", "contradicted"):
        box = page.locator(f'input[name="{name}"]').bounding_box()
        label = page.locator("label.check", has_text=name).bounding_box()
        assert box["width"] < 30, f"the {name} checkbox is stretched to {box['width']} px"
        assert box["x"] - label["x"] < 5  # the box starts its label's line
        text_left = page.evaluate(
            """name => {
              const label = document.querySelector(`input[name="${name}"]`).parentElement;
              const range = document.createRange();
              range.selectNodeContents(label.lastChild);  // the label's words
              return range.getBoundingClientRect().left;
            }""",
            name,
        )
        assert text_left - (box["x"] + box["width"]) < 16, "the label text sits away from its box"
    screenshot(page, "claims-phone-filters")


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)])
def test_fsd_capacity_or_redundancy_question_is_seen_without_scrolling(
    page: Any, size: tuple[int, int]
) -> None:
    """The FSD computer page opens with the reader's question and its answer on the first screen."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto("/capabilities/fsd-computer-hw3")
    card = page.locator("#q-fsd-second-chip-redundancy-or-capacity")
    question = card.locator(".question-text")
    answer = card.locator("ul.answer-options")
    assert "redundancy or capacity" in question.inner_text()
    assert "Redundancy" in answer.locator("li.answer-holds").inner_text()
    assert "Capacity" in answer.inner_text()
    for part in (question, card.locator(".question-summary"), answer):
        box = part.bounding_box()
        assert box is not None and box["y"] + box["height"] <= size[1], box
    assert page.evaluate("window.scrollY") == 0
