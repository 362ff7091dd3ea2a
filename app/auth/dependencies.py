"""Request dependencies: who is calling, and may they write."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import service
from app.auth.models import ApiToken
from app.core.bounds import token_actor
from app.core.db import SessionDep
from app.core.edge import raise_input_problem
from app.core.errors import ProblemError, unauthorized

bearer = HTTPBearer(auto_error=False, description="An API token from `ledger token create`.")


def require_scope(scope: str) -> Callable[..., ApiToken]:
    """Return a dependency that demands a bearer token with `scope` (401 / 403 otherwise).

    It also raises any problem the input-limits middleware found, after authenticating: a
    caller without a valid token learns nothing about how its body was judged.
    """

    def dependency(
        request: Request,
        session: SessionDep,
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
    ) -> ApiToken:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise unauthorized("Send 'Authorization: Bearer <token>' to write.")
        token = service.verify(session, credentials.credentials)
        if token is None:
            raise unauthorized("The token is unknown or revoked.")
        if not service.has_scope(token, scope):
            raise ProblemError(403, "Forbidden", f"The token lacks the '{scope}' scope.")
        raise_input_problem(request)
        request.state.actor = token_actor(token.name)
        return token

    return dependency


# The one writer dependency: a bearer token with the write scope.
Writer = Annotated[ApiToken, Depends(require_scope("write"))]


def actor_of(token: ApiToken) -> str:
    """Return the history actor name for a token."""
    return token_actor(token.name)
