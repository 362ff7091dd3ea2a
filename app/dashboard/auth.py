"""Dashboard sign-in with an API token, a signed session cookie, CSRF, and token management."""

import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session
from starlette.responses import Response

from app.auth import service as auth_service
from app.auth.models import ApiToken
from app.core.config import get_settings
from app.core.db import get_session
from app.core.http import IdPath

COOKIE_NAME = "ledger_session"
SESSION_MAX_AGE = 8 * 3600
router = APIRouter(include_in_schema=False)
SessionDep = Annotated[Session, Depends(get_session)]


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


def web_session(request: Request) -> dict[str, Any]:
    """Return this browser's session data (a CSRF nonce, and the signed-in token's id)."""
    cached = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    data: dict[str, Any] | None = None
    raw = request.cookies.get(COOKIE_NAME)
    if raw:
        try:
            loaded = _serializer().loads(raw, max_age=SESSION_MAX_AGE)
            if isinstance(loaded, dict) and isinstance(loaded.get("n"), str):
                data = loaded
        except BadSignature:
            data = None
    if data is None:
        data = {"n": secrets.token_urlsafe(24)}
        request.state.web_session_dirty = True
    request.state.web_session = data
    return data


def _replace_session(request: Request, data: dict[str, Any]) -> None:
    request.state.web_session = data
    request.state.web_session_dirty = True


def attach_session(request: Request, response: Response) -> None:
    """Write the session cookie when it is new or changed."""
    if not getattr(request.state, "web_session_dirty", False):
        return
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps(request.state.web_session),
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def current_editor(request: Request, session: Session) -> ApiToken | None:
    """Return the live token this browser signed in with, or None."""
    if hasattr(request.state, "editor"):
        return request.state.editor
    data = web_session(request)
    editor = None
    token_id = data.get("t")
    if isinstance(token_id, int):
        token = session.get(ApiToken, token_id)
        if token is not None and token.revoked_at is None:
            editor = token
        else:
            _replace_session(request, {"n": data["n"]})
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
    return f"token:{editor.name} (dashboard)"


def verify_csrf(request: Request, submitted: str | None) -> None:
    """Reject a form whose CSRF token does not match this browser's session."""
    expected = web_session(request).get("n", "")
    if not submitted or not hmac.compare_digest(str(submitted), str(expected)):
        raise CsrfError()


def template_context(request: Request) -> dict[str, Any]:
    """Return what every template needs: the CSRF token and the signed-in editor."""
    editor = getattr(request.state, "editor", None)
    return {
        "csrf_token": web_session(request)["n"],
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


# ---- Routes -------------------------------------------------------------------------------


@router.get("/signin")
def signin_form(
    request: Request,
    _viewer: Annotated[ApiToken | None, Depends(viewer)],
    next: str = "/",
    scope: str = "write",
):
    """Show the sign-in form (paste an API token created with `ledger token create`)."""
    from app.dashboard.templating import render

    return render(
        request,
        "signin.html",
        {"next": safe_next(next), "scope": scope if scope in ("write", "admin") else "write"},
    )


@router.post("/signin")
def signin(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Check the pasted token and start a signed session."""
    from app.dashboard.templating import render

    verify_csrf(request, csrf_token)
    found = auth_service.verify(session, token.strip()) if token.strip() else None
    if found is None or not auth_service.has_scope(found, "write"):
        message = (
            "That token is unknown or revoked."
            if found is None
            else "That token can only read; editing needs the 'write' scope."
        )
        return render(
            request,
            "signin.html",
            {"next": safe_next(next), "error": message, "scope": "write"},
            status_code=401,
        )
    # A fresh nonce on sign-in, so a session fixed before sign-in is useless afterwards.
    _replace_session(request, {"n": secrets.token_urlsafe(24), "t": found.id})
    return redirect(request, safe_next(next))


@router.post("/signout")
def signout(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = ""):
    """End the session."""
    verify_csrf(request, csrf_token)
    _replace_session(request, {"n": secrets.token_urlsafe(24)})
    return redirect(request, "/")


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep):
    """List API tokens and offer to create or revoke them (admin scope)."""
    from app.dashboard.templating import render

    require_editor(request, session, "admin")
    return render(request, "tokens.html", {"tokens": auth_service.list_tokens(session)})


@router.post("/tokens")
def tokens_create(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=120)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Create a token and show its secret once."""
    from app.dashboard.templating import render

    require_editor(request, session, "admin")
    verify_csrf(request, csrf_token)
    chosen = [s for s in (scopes or ["read"]) if s in auth_service.KNOWN_SCOPES] or ["read"]
    error = None
    created = plaintext = None
    if not name.strip():
        error = "Give the token a name, so you know later what uses it."
    else:
        created, plaintext = auth_service.create_token(session, name=name.strip(), scopes=chosen)
    return render(
        request,
        "tokens.html",
        {
            "tokens": auth_service.list_tokens(session),
            "created": created,
            "plaintext": plaintext,
            "error": error,
            "form_name": name,
            "form_scopes": chosen,
        },
        status_code=422 if error else 201,
    )


@router.post("/tokens/{token_id}/revoke")
def tokens_revoke(
    request: Request,
    session: SessionDep,
    token_id: IdPath,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Revoke a token."""
    require_editor(request, session, "admin")
    verify_csrf(request, csrf_token)
    auth_service.revoke(session, token_id=token_id)
    return redirect(request, "/tokens")
