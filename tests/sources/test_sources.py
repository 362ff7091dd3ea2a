"""Sources: the API, the citation format, and pages that cite sources instead of keys."""

import datetime as dt
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from app.sources.service import format_date

SEED = Path(__file__).resolve().parents[2] / "seed_data"
HTML = {"accept": "text/html"}
INTERNAL = re.compile(r"fact[- ]sheet|§|\bS\d{2,3}b?\b", re.IGNORECASE)
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_dates_are_shown_no_more_precisely_than_known():
    day = dt.date(2021, 8, 19)
    assert format_date(day, "day") == "19 Aug 2021"
    assert format_date(dt.date(2021, 8, 1), "month") == "Aug 2021"
    assert format_date(dt.date(2022, 1, 1), "year") == "2022"
    assert format_date(None, "day") == ""


@SQLITE_ONLY
def test_list_and_get_sources(client: TestClient):
    listed = client.get("/api/v1/sources")
    assert listed.status_code == 200
    keys = [s["key"] for s in listed.json()]
    assert len(keys) == len(yaml.safe_load((SEED / "sources.yaml").read_text(encoding="utf-8")))
    one = client.get("/api/v1/sources/S01").json()
    assert one["outlet"] == "VideoCardz"
    assert one["citation"] == (
        "VideoCardz, “Tesla D1 chip features 50 billion transistors, scales up to 1.1 ExaFLOPS "
        "with ExaPOD”, 20 Aug 2021"
    )
    assert client.get("/api/v1/sources/S08").json()["citation"].endswith(", Aug 2021")
    assert client.get("/api/v1/sources/S13").json()["citation"].endswith(", 2022")
    undated = client.get("/api/v1/sources/S20").json()
    assert undated["url"] is None and undated["citation"].count("”") == 1


@SQLITE_ONLY
def test_unknown_and_malformed_keys_are_4xx(client: TestClient):
    missing = client.get("/api/v1/sources/S999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/sources/" + "x" * 30).status_code == 422


@SQLITE_ONLY
def test_claim_page_cites_outlet_title_and_date_with_link(client: TestClient):
    page = client.get("/claims/d1-peak-bf16-362-tflops", headers=HTML).text
    assert (
        '<a class="citation" href="https://videocardz.com/newz/tesla-d1-chip-features-50-billion-'
        'transistors-scales-up-to-1-1-exaflops-with-exapod"'
    ) in page
    assert "VideoCardz, “Tesla D1 chip features 50 billion transistors" in page
    assert "20 Aug 2021</a>" in page


class _VisibleText(HTMLParser):
    """Collect what a reader sees: text outside scripts and styles, titles and labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "template"}:
            self._hidden += 1
        for name, value in attrs:
            if name in {"title", "aria-label", "alt", "placeholder"} and value:
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "template"} and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def _visible(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(parser.parts)


def _paged(client: TestClient, first: str) -> list[str]:
    """Return a list page and every following page (by its rel=next link)."""
    urls, url = [], first
    while url and len(urls) < 50:
        urls.append(url)
        html = client.get(url, headers=HTML).text
        found = re.search(r'href="([^"]+)" rel="next"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    return urls


@SQLITE_ONLY
@pytest.mark.slow
def test_no_page_shows_internal_references(client: TestClient, write_token: str):
    from tests.dashboard.test_pages import sign_in

    sign_in(client, write_token)  # editors see the most: forms and run buttons too
    caps = yaml.safe_load((SEED / "capabilities.yaml").read_text(encoding="utf-8"))
    claims = yaml.safe_load((SEED / "claims.yaml").read_text(encoding="utf-8"))
    pages = ["/", "/timeline", "/runs", "/runs/new", "/tokens", "/signin", "/feed.atom"]
    pages += _paged(client, "/claims") + _paged(client, "/evidence")
    for cap in caps:
        pages += [f"/capabilities/{cap['slug']}", f"/capabilities/{cap['slug']}/status"]
        pages.append(f"/capabilities/{cap['slug']}/evidence/new")
    pages += [f"/claims/{c['slug']}" for c in claims]
    leaks = []
    for url in pages:
        response = client.get(url, headers=HTML)
        assert response.status_code == 200, url
        for found in INTERNAL.finditer(_visible(response.text)):
            leaks.append(f"{url}: {found.group(0)!r}")
    assert not leaks, "\n".join(leaks[:40])
