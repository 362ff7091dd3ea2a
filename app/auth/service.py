"""Create, verify and revoke API tokens (stored as SHA-256 hashes)."""

import hashlib
import hmac
import re
import secrets

from sqlmodel import Session, col, select

from app.auth import sessions
from app.auth.models import ApiToken, ApiTokenCreate
from app.core.errors import ProblemError
from app.core.schema import utcnow

TOKEN_PREFIX = "ldg"
KNOWN_SCOPES = {"read", "write", "admin"}
_PREFIX_SHAPE = re.compile(r"[0-9a-f]{8}")


def _hash(secret: str) -> str:
    # Tokens carry 256 bits of entropy, so a plain SHA-256 is enough (no password stretching).
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, *, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext, which is never stored."""
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise ValueError(f"Unknown scope(s): {', '.join(sorted(unknown))}")
    # The name's bounds (it becomes the history actor) are checked here, for every caller.
    ApiTokenCreate(name=name, scopes=" ".join(sorted(set(scopes))))
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        name=name, scopes=" ".join(sorted(set(scopes))), prefix=prefix, token_hash=_hash(secret)
    )
    session.add(token)
    session.commit()
    session.refresh(token)
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


def verify(session: Session, plaintext: str) -> ApiToken | None:
    """Return the live token matching the plaintext, updating its last-used time."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not _PREFIX_SHAPE.fullmatch(parts[1]):
        return None
    token = session.exec(select(ApiToken).where(ApiToken.prefix == parts[1])).first()
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash, _hash(parts[2])):
        return None
    now = utcnow()
    # Only write when the minute changes, so reads under load do not all contend for a row lock.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() >= 60:
        token.last_used_at = now
        session.add(token)
        session.commit()
        session.refresh(token)
    return token


def revoke(session: Session, *, token_id: int | None = None, prefix: str | None = None) -> ApiToken:
    """Revoke a token by id or prefix, ending every dashboard session opened with it."""
    statement = select(ApiToken)
    if token_id is not None:
        statement = statement.where(ApiToken.id == token_id)
    elif prefix is not None:
        statement = statement.where(ApiToken.prefix == prefix)
    else:
        raise ValueError("Give a token id or prefix.")
    token = session.exec(statement).first()
    if token is None:
        raise ProblemError(404, "Not found", "No such token.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
    assert token.id is not None
    sessions.end_all_for_token(session, token.id)
    session.commit()
    session.refresh(token)
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """List every token, newest first."""
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id).desc())).all())


def has_scope(token: ApiToken, scope: str) -> bool:
    """Return whether the token grants a scope (admin grants everything)."""
    scopes = set(token.scopes.split())
    return scope in scopes or "admin" in scopes
