"""API tokens: stored hashed, with scopes, revocable, with a last-used time."""

import datetime as dt

from sqlmodel import Field, SQLModel

from app.core.bounds import TOKEN_NAME_MAX
from app.core.schema import utcnow


class ApiTokenBase(SQLModel):
    # The column stays 120 wide (tokens made before the bound keep their names); a new name
    # must fit the actor it becomes (ApiTokenCreate).
    name: str = Field(min_length=1, max_length=120)
    scopes: str = Field(default="read", max_length=200, description="Space-separated scopes.")


class ApiTokenCreate(ApiTokenBase):
    name: str = Field(min_length=1, max_length=TOKEN_NAME_MAX)


class ApiToken(ApiTokenBase, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(unique=True, index=True, max_length=16)
    token_hash: str = Field(max_length=128)
    created_at: dt.datetime = Field(default_factory=utcnow)
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None


class ApiTokenPublic(ApiTokenBase):
    id: int
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class WebSession(SQLModel, table=True):
    """A signed-in dashboard session; the browser holds only a random key, stored here hashed."""

    __tablename__ = "web_session"

    id: int | None = Field(default=None, primary_key=True)
    key_hash: str = Field(unique=True, index=True, max_length=64)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    created_at: dt.datetime = Field(default_factory=utcnow)
    expires_at: dt.datetime = Field(index=True)
