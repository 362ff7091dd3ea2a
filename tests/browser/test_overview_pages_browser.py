"""The overview of a grown ledger, a page at a time, at desktop and phone sizes, with axe.

Served from its own database: the shared live server keeps the seed that other tests read.
"""

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_accessibility import AXE, RUN_AXE
from tests.dashboard.test_overview_pages import grow
from tests.ops.helpers import live_app

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def grown_url(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.conftest import migrate_and_seed

    db_url = f"sqlite:///{tmp_path_factory.mktemp('grown') / 'ledger.db'}"
    previous = os.environ.get("LEDGER_DATABASE_URL")
    migrate_and_seed(db_url)
    grow(copies=12)
    env = {**os.environ, "LEDGER_DATABASE_URL": db_url, "LEDGER_INPROCESS_WORKER": "false",
           "LEDGER_LOG_LEVEL": "WARNING"}  # fmt: skip
    try:
        with live_app(env, "/api/v1/capabilities", timeout=120) as url:
            yield url
    finally:
        if previous is not None:
            os.environ["LEDGER_DATABASE_URL"] = previous


@pytest.mark.parametrize("size", SIZES, ids=list(SIZES))
def test_the_pager_walks_the_hierarchies_and_keeps_the_date(
    browser: Any, grown_url: str, size: str
) -> None:
    if not AXE.exists():
        pytest.skip("node_modules/axe-core is missing: run `npm ci`")
    width, height = SIZES[size]
    ctx = browser.new_context(base_url=grown_url, viewport={"width": width, "height": height})
    ctx.add_init_script(path=str(AXE))
    page = ctx.new_page()
    try:
        page.goto("/?as_of=2021-08-19")
        pager = page.get_by_role("navigation", name="Pages of capabilities")
        assert "Page 1 of" in pager.inner_text()
        first = page.locator("table.caps tbody tr").first.get_attribute("data-slug")
        pager.get_by_role("link", name="Next page").click()
        page.wait_for_url("**/?as_of=2021-08-19&page=2")
        assert "page 2 of" in page.locator(".result-count").inner_text()
        rows = page.locator("table.caps tbody tr")
        assert rows.first.get_attribute("data-slug") != first
        assert "depth-0" in (rows.first.get_attribute("class") or "")  # a hierarchy starts
        page.locator("nav.pager").scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"overview-page-2-{width}.png"))
        assert page.evaluate(RUN_AXE) == []
        pager.get_by_role("link", name="First page").click()
        page.wait_for_url("**/?as_of=2021-08-19")
        assert rows.first.get_attribute("data-slug") == first
    finally:
        ctx.close()
