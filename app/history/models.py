"""Append-only status history and the data version that keys caches."""

import datetime as dt

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.core.bounds import ACTOR_MAX
from app.core.schema import EnumText, Level, utcnow


class StatusChangeBase(SQLModel):
    from_status: Level
    to_status: Level
    reason_code: str = Field(max_length=40)
    reason: str
    evidence_ids: list[int] = Field(default_factory=list)
    actor: str = Field(max_length=ACTOR_MAX)
    effective_on: dt.date = Field(description="When the change happened in the world.")
    recorded_at: dt.datetime = Field(description="When the ledger recorded it (UTC).")


class StatusChange(StatusChangeBase, table=True):
    __tablename__ = "status_change"

    id: int | None = Field(default=None, primary_key=True)
    capability_id: int = Field(foreign_key="capability.id", index=True)
    from_status: Level = Field(sa_type=EnumText(Level, 20))
    to_status: Level = Field(sa_type=EnumText(Level, 20))
    evidence_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    recorded_at: dt.datetime = Field(default_factory=utcnow, index=True)


class StatusChangePublic(StatusChangeBase):
    id: int
    capability: str


class DataVersion(SQLModel, table=True):
    """One row whose counter grows on every write; response caches key on it."""

    __tablename__ = "data_version"

    id: int = Field(default=1, primary_key=True)
    counter: int = 0


class DataChange(SQLModel, table=True):
    """What one step of the data version touched, so readers refresh only that part."""

    __tablename__ = "data_change"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # The capabilities whose hierarchies (their claims, evidence and assessments) changed.
    capability_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON))
    # The claim and evidence rows it added or changed; None (a row logged before they were
    # kept): not known, so a reader loads everything again.
    claim_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))
    evidence_ids: list[int] | None = Field(default=None, sa_column=Column(JSON))
    events: bool = False
    everything: bool = False
