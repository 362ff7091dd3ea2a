"""Dashboard sign-in with an API token, server-side sessions, CSRF, and token management."""

import hmac
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session
from starlette.responses import Response

from app.auth import service as auth_service
from app.auth import sessions as auth_sessions
from app.auth.models import ApiToken
from app.core.bounds import token_actor
from app.core.config import get_settings
from app.core.db import SessionDep

COOKIE_NAME = "ledger_session"
SESSION_MAX_AGE = int(auth_sessions.SESSION_LIFETIME.total_seconds())


class NotSignedIn(Exception):
    """The page needs a signed-in editor; the handler redirects to the sign-in form."""

    def __init__(self, next_url: str, scope: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.scope = scope


class CsrfError(Exception):
    """A form arrived without the session's CSRF token."""


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="ledger-dashboard-session")


def session_key(request: Request) -> str:
    """Return this browser's random session key (a new one when the cookie is absent or bad).

    The cookie holds only this key, signed. Who is signed in lives in the `web_session` table,
    so sign-out and token revocation end a session on the server.
    """
    cached = getattr(request.state, "session_key", None)
    if cached is not None:
        return cached
    key: str | None = None
    raw = request.cookies.get(COOKIE_NAME)
    if raw:
        try:
            loaded = _serializer().loads(raw, max_age=SESSION_MAX_AGE)
            if isinstance(loaded, str) and 0 < len(loaded) <= 100:
                key = loaded
        except BadSignature:
            key = None
    if key is None:
        key = auth_sessions.new_key()
        request.state.session_key_dirty = True
    request.state.session_key = key
    return key


def expected_csrf(request: Request) -> str:
    """Return the CSRF token of this browser's session (derived from its key, never stored)."""
    secret = get_settings().secret_key.encode()
    return hmac.new(secret, b"csrf:" + session_key(request).encode(), "sha256").hexdigest()


def replace_key(request: Request, key: str) -> None:
    request.state.session_key = key
    request.state.session_key_dirty = True


def attach_session(request: Request, response: Response) -> None:
    """Write the session cookie when the key is new or changed."""
    if not getattr(request.state, "session_key_dirty", False):
        return
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps(request.state.session_key),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def current_editor(request: Request, session: Session) -> ApiToken | None:
    """Return the live token of this browser's live server-side session, or None."""
    if hasattr(request.state, "editor"):
        return request.state.editor
    editor = None
    if not getattr(request.state, "session_key_dirty", False):
        editor = auth_sessions.token_for(session, session_key(request))
    request.state.editor = editor
    return editor


def viewer(request: Request, session: SessionDep) -> ApiToken | None:
    """Dependency of every page: load the session and who is signed in (if anyone)."""
    return current_editor(request, session)


def require_editor(request: Request, session: Session, scope: str = "write") -> ApiToken:
    """Return the signed-in token with `scope`, or send the browser to the sign-in form."""
    editor = current_editor(request, session)
    if editor is None or not auth_service.has_scope(editor, scope):
        raise NotSignedIn(
            request.url.path + (f"?{request.url.query}" if request.url.query else ""), scope
        )
    return editor


def actor_name(editor: ApiToken) -> str:
    """Return the history actor of a dashboard edit."""
    return token_actor(editor.name, dashboard=True)


def verify_csrf(request: Request, submitted: str | None) -> None:
    """Reject a form whose CSRF token does not match this browser's session."""
    if not submitted or not hmac.compare_digest(str(submitted), expected_csrf(request)):
        raise CsrfError()


def template_context(request: Request) -> dict[str, Any]:
    """Return what every template needs: the CSRF token and the signed-in editor."""
    editor = getattr(request.state, "editor", None)
    return {
        "csrf_token": expected_csrf(request),
        "editor": editor,
        "can_edit": editor is not None and auth_service.has_scope(editor, "write"),
        "is_admin": editor is not None and auth_service.has_scope(editor, "admin"),
    }


def safe_next(url: str | None) -> str:
    """Return a local path to go to after signing in (never another site)."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


def redirect(request: Request, url: str) -> Response:
    """Redirect with 303 after a POST (htmx follows it too)."""
    response = RedirectResponse(url, status_code=303)
    attach_session(request, response)
    return response


def signin_redirect(request: Request, exc: NotSignedIn) -> Response:
    """Send the browser to the sign-in form, coming back afterwards."""
    return redirect(request, f"/signin?next={quote(exc.next_url, safe='/')}&scope={exc.scope}")
