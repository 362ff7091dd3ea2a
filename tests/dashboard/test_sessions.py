"""Dashboard sessions live on the server: sign-out and token revocation end them for good."""

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.auth.models import WebSession
from app.auth.service import create_token, revoke
from app.core.db import get_engine
from app.dashboard.auth import COOKIE_NAME, _serializer
from tests.dashboard.test_pages import HTML, csrf_of, sign_in


def _admin_token() -> tuple[int, str]:
    with Session(get_engine()) as s:
        token, plaintext = create_token(s, name="admin", scopes=["admin"])
        assert token.id is not None
        return token.id, plaintext


def _tokens_page(client: TestClient, cookie: str) -> int:
    client.cookies.clear()
    client.cookies.set(COOKIE_NAME, cookie)
    return client.get("/tokens", headers=HTML, follow_redirects=False).status_code


def _session_rows() -> list[WebSession]:
    with Session(get_engine()) as s:
        return list(s.exec(select(WebSession)).all())


def test_a_cookie_replayed_after_sign_out_is_refused(client: TestClient) -> None:
    _id, admin = _admin_token()
    sign_in(client, admin)
    saved = client.cookies[COOKIE_NAME]
    page = client.get("/tokens", headers=HTML)
    assert page.status_code == 200
    assert len(_session_rows()) == 1

    signed_out = client.post(
        "/signout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert signed_out.status_code == 303
    assert _session_rows() == []
    # The saved cookie is still correctly signed and within its max-age, yet opens nothing.
    assert _tokens_page(client, saved) == 303


def test_revoking_a_token_ends_its_sessions(client: TestClient) -> None:
    token_id, admin = _admin_token()
    sign_in(client, admin)
    saved = client.cookies[COOKIE_NAME]
    assert _tokens_page(client, saved) == 200
    with Session(get_engine()) as s:
        revoke(s, token_id=token_id)
    assert _session_rows() == []
    assert _tokens_page(client, saved) == 303


def test_the_cookie_holds_only_a_signed_random_key(client: TestClient) -> None:
    token_id, admin = _admin_token()
    sign_in(client, admin)
    key = _serializer().loads(client.cookies[COOKIE_NAME])
    assert isinstance(key, str) and len(key) >= 40
    (row,) = _session_rows()
    assert row.token_id == token_id and key not in row.key_hash and admin not in key


def test_sign_in_rotates_the_key(client: TestClient) -> None:
    _id, admin = _admin_token()
    client.get("/signin", headers=HTML)
    before = _serializer().loads(client.cookies[COOKIE_NAME])
    sign_in(client, admin)
    after = _serializer().loads(client.cookies[COOKIE_NAME])
    assert before != after
    # The pre-sign-in key (which an attacker could have planted) opens nothing.
    assert _tokens_page(client, _serializer().dumps(before)) == 303
