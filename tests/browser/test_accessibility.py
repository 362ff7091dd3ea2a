"""What the accessibility audit found holding stays so: axe on every page, keyboard, no-JS, modes.

axe-core comes from npm (a devDependency) and is injected into the test browser only, as an
init script, so the pages' CSP never has to allow it.
"""

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ROOT, SCREENSHOTS, LiveServer, _skip_or_fail, sign_in

pytestmark = pytest.mark.browser

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
READER_PAGES = [
    "/",
    "/?kind=chip",
    "/claims",
    "/claims?overdue=1",
    "/claims/exapod-peak-1-1-eflops",
    "/claims/fsd-hw3-both-socs-for-capacity",
    "/evidence",
    "/evidence?checks=include",
    "/checks",
    "/timeline",
    "/runs",
    "/capabilities/dojo-exapod",
    "/capabilities/fsd-computer-hw3",
    "/capabilities/dojo-d1",
    "/signin",
    "/capabilities/no-such-thing",
]
EDITOR_PAGES = [
    "/capabilities/dojo-d1",
    "/capabilities/dojo-d1/status",
    "/capabilities/dojo-d1/evidence/new",
    "/runs/new",
    "/tokens",
]
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations
    .filter(v => v.impact === "serious" || v.impact === "critical")
    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`);
}"""


@pytest.fixture
def axe_context(browser: Any, live_server: LiveServer) -> Any:
    if not AXE.exists():
        _skip_or_fail("node_modules/axe-core is missing: run `npm ci`")
    ctx = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    ctx.add_init_script(path=str(AXE))
    yield ctx
    ctx.close()


def audit(page: Any, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        violations = page.evaluate(RUN_AXE)
        if violations:
            found[path] = violations
    return found


def test_axe_finds_nothing_serious_on_any_page(axe_context: Any, live_server: LiveServer) -> None:
    page = axe_context.new_page()
    run_path = _any_run(page, live_server)
    found = audit(page, [*READER_PAGES, run_path])
    page.set_viewport_size({"width": 390, "height": 844})
    found.update({f"{p} (phone)": v for p, v in audit(page, ["/", "/claims"]).items()})
    sign_in(page, live_server.token("axe-admin", ["admin"]))
    page.set_viewport_size({"width": 1280, "height": 900})
    found.update({f"{p} (editor)": v for p, v in audit(page, [*EDITOR_PAGES, run_path]).items()})
    assert not found, "serious or critical axe violations:\n" + "\n".join(
        f"{path}: {v}" for path, items in found.items() for v in items
    )


def _any_run(page: Any, live_server: LiveServer) -> str:
    """Return the path of a run page, starting a run when there is none yet."""
    page.goto("/runs")
    link = page.locator("#runs-table tbody a[href^='/runs/']")
    if link.count():
        return link.first.get_attribute("href")
    sign_in(page, live_server.token("axe-runner", ["write"]))
    page.goto("/runs")
    page.locator("tr", has=page.locator("text=dojo-node-gemm")).get_by_role(
        "button", name=re.compile("^Run")
    ).click()
    page.wait_for_url(re.compile(r"/runs/\d+$"))
    path = "/" + page.url.split("/", 3)[3]
    page.context.clear_cookies()
    return path


def test_forced_colours_keep_the_ladder_strip_and_legend(
    browser: Any, live_server: LiveServer
) -> None:
    ctx = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, forced_colors="active"
    )
    page = ctx.new_page()
    page.goto("/")
    assert page.evaluate("matchMedia('(forced-colors: active)').matches")
    cells = page.evaluate(
        """() => [...document.querySelectorAll('.strip .cell')].slice(0, 40).map(c => {
          const s = getComputedStyle(c);
          return {border: s.borderTopWidth, gap: c.classList.contains('gap'), image: s.backgroundImage,
                  on: c.classList.contains('on'), bg: s.backgroundColor, adjust: s.forcedColorAdjust};
        })"""
    )
    assert cells and all(c["border"] != "0px" and c["adjust"] == "none" for c in cells)
    assert any(c["gap"] and "gradient" in c["image"] for c in cells), "the hatching is gone"
    on = {c["bg"] for c in cells if c["on"]}
    off = {c["bg"] for c in cells if not c["on"] and not c["gap"]}
    assert on and off and on.isdisjoint(off), "solid cells look like empty ones"
    legend = page.locator(".legend-inline .strip .cell").first
    assert legend.evaluate("c => getComputedStyle(c).borderTopWidth") != "0px"
    path = SCREENSHOTS / "overview-forced-colors-1280.png"
    page.screenshot(path=str(path))
    page.goto("/capabilities/dojo-system-tray")
    page.screenshot(path=str(SCREENSHOTS / "capability-forced-colors-1280.png"))
    ctx.close()
    assert Path(path).stat().st_size > 10_000


def test_skip_link_and_visible_focus_without_a_trap(page: Any) -> None:
    page.goto("/claims")
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    assert skip.is_visible() and skip.bounding_box()["x"] >= 0
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    seen = set()
    # Each claim row has four links since its verdict and status chips link to the method page.
    for _ in range(250):
        page.keyboard.press("Tab")
        info = page.evaluate(
            """() => { const e = document.activeElement; const s = getComputedStyle(e);
              return [e.tagName + '#' + e.id + (e.getAttribute('href') || '') + (e.name || ''),
                      s.outlineStyle, parseFloat(s.outlineWidth), e.closest('footer') !== null]; }"""
        )
        name, style, width, in_footer = info
        if name.startswith("BODY"):
            continue
        assert style != "none" and width >= 2, f"{name} has no visible focus ring"
        seen.add(name)
        if in_footer:
            break
    else:
        pytest.fail("Tab never reached the footer: a keyboard trap or an endless list")
    assert len(seen) > 10


def test_filters_work_without_javascript(browser: Any, live_server: LiveServer) -> None:
    ctx = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_label("Kind").select_option("chip")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"kind=chip"))
    kinds = page.locator("table.caps tbody tr[data-slug] .kind").all_inner_texts()
    assert kinds and all(k.startswith("chip") for k in kinds)
    page.goto("/claims")
    page.get_by_label("overdue").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"overdue=1"))
    assert page.locator("#claim-results .flag-overdue").count() > 0
    page.goto("/capabilities/dojo-exapod")
    for box in page.locator(".chart-box").all():
        assert not box.is_visible(), "a blank chart box is shown without JavaScript"
    assert page.locator(".chart-fallback", has_text="listed as text").first.is_visible()
    ctx.close()


def test_statuses_never_rely_on_colour_alone(page: Any) -> None:
    page.goto("/")
    badges = page.locator(".badge").all_text_contents()
    assert badges and all(text.strip() for text in badges)
    labels = {
        page.locator("td .strip").nth(i).get_attribute("aria-label")
        for i in range(min(5, page.locator("td .strip").count()))
    }
    assert all(label and label.startswith("Evidence: ") for label in labels)
    gap_rows = page.locator("tr.has-gap .gap-flag").all_inner_texts()
    assert gap_rows and all("above the evidence" in text for text in gap_rows)
