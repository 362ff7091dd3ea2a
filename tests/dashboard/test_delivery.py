"""Pages and assets leave compressed and cacheable; a cached page never carries anyone's session."""

import base64
import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from tests.dashboard.test_pages import HTML, csrf_of, sign_in

GZIP = {**HTML, "accept-encoding": "gzip"}
IMMUTABLE = "public, max-age=31536000, immutable"


def asset_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href|data-chartjs)="(/static/[^"]+)"', html)


def test_pages_and_fragments_are_gzipped(client: TestClient) -> None:
    for path in ("/", "/claims", "/capabilities/dojo-exapod", "/timeline"):
        response = client.get(path, headers=GZIP)
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip", path
        assert "Accept-Encoding" in response.headers["vary"]
        assert "<html" in response.text  # httpx undoes the gzip
    fragment = client.get(
        "/claims?q=ExaPOD", headers={**GZIP, "HX-Request": "true", "HX-Target": "claim-results"}
    )
    assert fragment.headers["content-encoding"] == "gzip"
    assert "<html" not in fragment.text and 'id="claim-results"' in fragment.text


def test_hashed_assets_are_immutable_and_gzipped(client: TestClient) -> None:
    page = client.get("/capabilities/dojo-exapod", headers=HTML).text
    urls = asset_urls(page)
    assert any("chart.umd.min.js" in url for url in urls) and any("htmx" in url for url in urls)
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        response = client.get(url, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200, url
        assert response.headers["cache-control"] == IMMUTABLE, url
        if len(response.content) >= 1024:  # smaller files are not worth compressing
            assert response.headers["content-encoding"] == "gzip", url
    bare = client.get(urls[0].split("?")[0])
    assert bare.headers["cache-control"] == "public, max-age=300"
    stale = client.get(urls[0].split("?")[0] + "?v=000000000000")
    assert stale.headers["cache-control"] == "public, max-age=300"


def test_pages_answer_304_to_their_etag(client: TestClient) -> None:
    first = client.get("/claims?grade=P", headers=HTML)
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/claims?grade=P", headers={**HTML, "if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    fragment = client.get(
        "/claims?grade=P", headers={**HTML, "HX-Request": "true", "HX-Target": "claim-results"}
    )
    assert fragment.headers["etag"] != etag  # a fragment is another representation


def test_stylesheet_is_inline_and_allowed_by_its_hash(client: TestClient) -> None:
    response = client.get("/", headers=HTML)
    style = re.search(r"<style>(.*?)</style>", response.text, re.S)
    assert style and ":focus-visible" in style.group(1)
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    csp = response.headers["content-security-policy"]
    assert f"'sha256-{digest}'" in csp and "unsafe-inline" not in csp
    assert 'rel="stylesheet"' not in response.text  # nothing blocks the first paint


def test_api_docs_have_a_viewport_and_versioned_assets(client: TestClient) -> None:
    docs = client.get("/api/docs", headers=GZIP)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in docs.text
    for url in asset_urls(docs.text):
        assert client.get(url).headers["cache-control"] == IMMUTABLE, url


def test_anonymous_pages_set_no_cookie(client: TestClient) -> None:
    for path in ("/", "/claims", "/capabilities/dojo-d1", "/timeline", "/evidence"):
        response = client.get(path, headers=HTML)
        assert "set-cookie" not in response.headers, path
        assert "Editor sign-in" in response.text


def test_a_cached_page_never_carries_an_editors_controls_or_token(
    client: TestClient, write_token: str
) -> None:
    from fastapi.testclient import TestClient as Client

    reader = Client(client.app)
    path = "/capabilities/dojo-d1"
    before = reader.get(path, headers=HTML).text  # cached for everyone
    sign_in(client, write_token)
    editor_page = client.get(path, headers=HTML)
    token = csrf_of(editor_page.text)
    assert "Update status" in editor_page.text and "Sign out" in editor_page.text
    assert "private" in editor_page.headers["cache-control"]
    for text in (before, reader.get(path, headers=HTML).text):
        assert token not in text
        assert "Update status" not in text and "Sign out" not in text
        assert 'name="csrf_token"' not in text
    # The editor's visit did not replace the shared copy, and the reader's did not reach the
    # editor: each still sees their own page, from the cache or not.
    assert "Update status" in client.get(path, headers=HTML).text
    for url in ("/", "/claims", "/runs", "/timeline"):
        assert token not in reader.get(url, headers=HTML).text


def test_a_cached_page_follows_a_write(client: TestClient, write_token: str) -> None:
    before = client.get("/capabilities/dojo-2", headers=HTML).text
    assert "Cache-follows-write probe" not in before
    response = client.post(
        "/api/v1/evidence",
        json={"title": "Cache-follows-write probe", "kind": "photo", "origin": "reported",
              "grade": "S", "date": "2024-05-02", "stance": "supports", "level": "built",
              "capability": "dojo-2"},
        headers={"authorization": f"Bearer {write_token}"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    assert "Cache-follows-write probe" in client.get("/capabilities/dojo-2", headers=HTML).text


def test_one_clients_host_header_never_reaches_anothers_page(client: TestClient) -> None:
    path = "/claims/exapod-peak-1-1-eflops"
    forged = client.get(path, headers={**HTML, "host": "attacker.example"})
    # Absolute URLs in the ClaimReview come from LEDGER_PUBLIC_BASE_URL, never from Host.
    assert "attacker.example" not in forged.text
    assert "attacker.example" not in client.get(path, headers=HTML).text


IDENTITY = {**HTML, "accept-encoding": "identity"}


@pytest.mark.parametrize("path", ["/claims", "/api/v1/claims?limit=200"])
def test_each_content_coding_has_its_own_etag(client: TestClient, path: str) -> None:
    """The gzip and the identity bodies are two representations: one ETag was sent for both."""
    for _ in range(2):  # a miss renders, then the cache before routing answers: both ways
        zipped = client.get(path, headers=GZIP)
        plain = client.get(path, headers=IDENTITY)
        assert zipped.headers["content-encoding"] == "gzip"
        assert "content-encoding" not in plain.headers
        assert zipped.headers["etag"] != plain.headers["etag"]
        assert zipped.headers["vary"] == plain.headers["vary"]
        assert "Accept-Encoding" in zipped.headers["vary"]
        # Each is revalidated by its own tag; the other coding's tag names the same version.
        for tag in (zipped.headers["etag"], plain.headers["etag"]):
            again = client.get(path, headers={**GZIP, "if-none-match": tag})
            assert again.status_code == 304


@pytest.mark.parametrize(
    "header", ["gzip;q=0", "gzip; q=0.0, identity", "*;q=0, identity", "identity"]
)
def test_gzip_refused_with_q0_is_not_sent(client: TestClient, header: str) -> None:
    for path in ("/claims", "/api/v1/claims?limit=200", "/claims"):
        response = client.get(path, headers={**HTML, "accept-encoding": header})
        assert response.status_code == 200
        assert "content-encoding" not in response.headers, (path, header)
