"""Dashboard sessions stored on the server: sign-in creates one, sign-out and revocation end it."""

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete
from sqlmodel import Session, col, select

from app.auth.models import ApiToken, WebSession
from app.core.schema import utcnow

SESSION_LIFETIME = dt.timedelta(hours=8)


def new_key() -> str:
    """Return a fresh random session key (256 bits)."""
    return secrets.token_urlsafe(32)


def _hash(key: str) -> str:
    # The keys are random, so a plain hash keeps a leaked table from opening sessions.
    return hashlib.sha256(key.encode()).hexdigest()


def start(session: Session, token: ApiToken) -> str:
    """Open a session for a token and return its key; expired sessions are swept on the way."""
    assert token.id is not None
    now = utcnow()
    session.exec(delete(WebSession).where(col(WebSession.expires_at) <= now))
    key = new_key()
    session.add(
        WebSession(key_hash=_hash(key), token_id=token.id, expires_at=now + SESSION_LIFETIME)
    )
    session.commit()
    return key


def token_for(session: Session, key: str) -> ApiToken | None:
    """Return the live token of a live session, or None."""
    row = session.exec(
        select(ApiToken)
        .join(WebSession, col(WebSession.token_id) == col(ApiToken.id))
        .where(WebSession.key_hash == _hash(key))
        .where(col(WebSession.expires_at) > utcnow())
        .where(col(ApiToken.revoked_at).is_(None))
    ).first()
    return row


def end(session: Session, key: str) -> None:
    """End one session (sign-out)."""
    session.exec(delete(WebSession).where(col(WebSession.key_hash) == _hash(key)))
    session.commit()


def end_all_for_token(session: Session, token_id: int) -> None:
    """End every session opened with a token; the caller commits."""
    session.exec(delete(WebSession).where(col(WebSession.token_id) == token_id))
