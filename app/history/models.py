"""Append-only status history and the data version that keys caches."""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field as FieldInfo
from pydantic import StringConstraints
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.core.bounds import ACTOR_MAX
from app.core.schema import EnumText, Level, utcnow


class ReasonCode(StrEnum):
    """Why a status change was recorded: the one list of reason codes (labels in REASON_LABELS)."""

    # Recorded by the ledger itself.
    seed = "seed"
    created = "created"
    edited = "edited"
    claim_added = "claim_added"
    claim_edited = "claim_edited"
    evidence_edited = "evidence_edited"
    rollup = "rollup"
    # Derived from a status update's fields: a status to override, or clear_override.
    override = "override"
    override_cleared = "override_cleared"
    # Chosen by an editor or a script when linking evidence.
    evidence_added = "evidence_added"
    correction = "correction"
    new_information = "new_information"
    editorial_review = "editorial_review"

    @property
    def label(self) -> str:
        """Return the code in words."""
        return REASON_LABELS[self]


REASON_LABELS = {
    ReasonCode.seed: "Replayed from the seed data",
    ReasonCode.created: "Capability created",
    ReasonCode.edited: "Capability edited",
    ReasonCode.claim_added: "Claim added",
    ReasonCode.claim_edited: "Claim edited",
    ReasonCode.evidence_edited: "Evidence edited",
    ReasonCode.rollup: "Roll-up after a change in a related part",
    ReasonCode.override: "Manual override",
    ReasonCode.override_cleared: "Manual override cleared",
    ReasonCode.evidence_added: "New evidence linked",
    ReasonCode.correction: "Correction of an earlier assessment",
    ReasonCode.new_information: "New public information",
    ReasonCode.editorial_review: "Editorial review",
}
# What a status update may name; the override codes follow its status fields.
CHOSEN_REASONS = (
    ReasonCode.evidence_added,
    ReasonCode.correction,
    ReasonCode.new_information,
    ReasonCode.editorial_review,
)
OVERRIDE_REASONS = (ReasonCode.override, ReasonCode.override_cleared)
# A code outside the enum, as history rows and exports written before it may hold, and as
# scripts may still send for one release (deprecated: stored as-is, with a Deprecation header).
LegacyReasonCode = Annotated[str, StringConstraints(pattern=r"^[a-z_]{3,40}$")]
AnyReasonCode = Annotated[ReasonCode | LegacyReasonCode, FieldInfo(union_mode="left_to_right")]


def reason_label(code: str) -> str:
    """Return a reason code in words; a legacy code outside the enum is shown as it is."""
    known = {reason.value: label for reason, label in REASON_LABELS.items()}
    return known.get(code) or code.replace("_", " ")


class StatusChangeBase(SQLModel):
    from_status: Level
    to_status: Level
    reason_code: str = Field(max_length=40, description="A `ReasonCode`, or a legacy code.")
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
