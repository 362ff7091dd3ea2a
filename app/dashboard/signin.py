"""The sign-in and token pages: start and end a dashboard session, manage API tokens."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request

from app.auth import service as auth_service
from app.auth import sessions as auth_sessions
from app.auth.models import ApiToken
from app.core.bounds import TOKEN_NAME_MAX
from app.core.db import SessionDep
from app.core.http import IdPath
from app.dashboard import auth
from app.dashboard.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/signin")
def signin_form(
    request: Request,
    _viewer: Annotated[ApiToken | None, Depends(auth.viewer)],
    next: str = "/",
    scope: str = "write",
):
    """Show the sign-in form (paste an API token created with `ledger token create`)."""
    return render(
        request,
        "signin.html",
        {"next": auth.safe_next(next), "scope": scope if scope in ("write", "admin") else "write"},
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
    auth.verify_csrf(request, csrf_token)
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
            {"next": auth.safe_next(next), "error": message, "scope": "write"},
            status_code=401,
        )
    # A fresh key on sign-in, so a key fixed before sign-in is useless afterwards.
    auth.replace_key(request, auth_sessions.start(session, found))
    return auth.redirect(request, auth.safe_next(next))


@router.post("/signout")
def signout(
    request: Request, session: SessionDep, csrf_token: Annotated[str, Form(max_length=200)] = ""
):
    """End the session on the server; the browser gets a fresh, signed-out key."""
    auth.verify_csrf(request, csrf_token)
    auth_sessions.end(session, auth.session_key(request))
    auth.replace_key(request, auth_sessions.new_key())
    return auth.redirect(request, "/")


@router.get("/tokens")
def tokens_page(request: Request, session: SessionDep):
    """List API tokens and offer to create or revoke them (admin scope)."""
    auth.require_editor(request, session, "admin")
    return render(request, "tokens.html", {"tokens": auth_service.list_tokens(session)})


@router.post("/tokens")
def tokens_create(
    request: Request,
    session: SessionDep,
    name: Annotated[str, Form(max_length=TOKEN_NAME_MAX)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
):
    """Create a token and show its secret once."""
    auth.require_editor(request, session, "admin")
    auth.verify_csrf(request, csrf_token)
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
    auth.require_editor(request, session, "admin")
    auth.verify_csrf(request, csrf_token)
    auth_service.revoke(session, token_id=token_id)
    return auth.redirect(request, "/tokens")
