"""Absolute links in the Atom feed and JSON-LD come from LEDGER_PUBLIC_BASE_URL, not Host."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings, get_settings

BASE = "https://ledger.example.org/ai"
FORGED = {"Host": "attacker.example", "Accept": "text/html"}


@pytest.fixture
def public_base(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LEDGER_PUBLIC_BASE_URL", BASE + "/")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def test_atom_feed_links_use_the_public_base_url(client: TestClient, public_base: None) -> None:
    feed = client.get("/feed.atom", headers=FORGED)
    assert feed.status_code == 200
    assert f'href="{BASE}/feed.atom"' in feed.text
    assert "attacker.example" not in feed.text and "testserver" not in feed.text


def test_json_ld_uses_the_public_base_url(client: TestClient, public_base: None) -> None:
    page = client.get("/claims/d1-peak-bf16-362-tflops", headers=FORGED)
    assert page.status_code == 200
    assert f'"url": "{BASE}/claims/d1-peak-bf16-362-tflops"' in page.text.replace("\\/", "/")
    assert "attacker.example" not in page.text


@pytest.mark.parametrize("bad", ["ledger.example.org", "ftp://x", "https://a b", "https://x?q=1"])
def test_a_malformed_public_base_url_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Settings(public_base_url=bad)
