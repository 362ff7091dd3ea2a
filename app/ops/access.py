"""Who may read the operations endpoints' details: `/metrics` and the body of `/readyz`.

`LEDGER_METRICS_TOKEN` protects `/metrics` (Prometheus sends it as a bearer token). `/readyz`
tells anyone whether the app is ready; its details (database reachability and its error,
revisions, workers) go only to that token or to a valid API token.
"""

import hmac

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.auth import service as auth_service
from app.core.config import get_settings


def bearer_of(request: Request) -> str | None:
    """Return the bearer credential of a request, or None."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def is_metrics_token(credential: str | None) -> bool:
    """Whether a credential is the configured metrics token (never when none is set)."""
    configured = get_settings().metrics_token
    if configured is None or credential is None:
        return False
    return hmac.compare_digest(credential.encode(), configured.get_secret_value().encode())


def metrics_allowed(request: Request) -> bool:
    """`/metrics` is open unless a token is configured; then only that token may scrape."""
    if get_settings().metrics_token is None:
        return True
    return is_metrics_token(bearer_of(request))


def may_see_details(request: Request, session: Session) -> bool:
    """The metrics token or any live API token may read the probes' details."""
    credential = bearer_of(request)
    if credential is None:
        return False
    if is_metrics_token(credential):
        return True
    try:
        return auth_service.verify(session, credential) is not None
    except SQLAlchemyError:  # the database is down: the token cannot be checked
        session.rollback()
        return False
