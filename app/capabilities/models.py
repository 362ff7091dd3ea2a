"""Capability: one presented thing, in a hierarchy (ExaPOD > cabinet > tray > tile > D1 > node)."""

import datetime as dt
from enum import StrEnum

from pydantic import field_validator
from sqlmodel import Field, SQLModel

from app.core.schema import (
    DbId,
    EnumText,
    IsoDate,
    Level,
    LongText,
    PartialUpdate,
    ShortText,
    Slug,
    not_null_fields,
    utcnow,
)
from app.history.models import CHOSEN_REASONS, OVERRIDE_REASONS, AnyReasonCode, ReasonCode


class CapabilityKind(StrEnum):
    chip = "chip"
    node = "node"
    tile = "tile"
    tray = "tray"
    cabinet = "cabinet"
    system = "system"
    interface_processor = "interface_processor"
    computer = "computer"
    cluster = "cluster"


class Outcome(StrEnum):
    active = "active"
    abandoned = "abandoned"
    superseded = "superseded"


class CapabilityBase(SQLModel):
    name: ShortText
    kind: CapabilityKind
    critical: bool = Field(default=True, description="Counts in its parent's roll-up.")
    description: LongText | None = None
    outcome: Outcome = Outcome.active
    outcome_date: IsoDate | None = None
    outcome_note: LongText | None = None


class CapabilityCreate(CapabilityBase):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "slug": "dojo-3",
                    "name": "Dojo 3",
                    "kind": "system",
                    "critical": False,
                    "description": "Restarted in 2026 as space-based compute.",
                }
            ]
        }
    }

    slug: Slug
    parent: Slug | None = Field(default=None, description="Slug of the parent capability.")


class CapabilityUpdate(PartialUpdate):
    not_null = not_null_fields(CapabilityBase)

    name: ShortText | None = None
    kind: CapabilityKind | None = None
    critical: bool | None = None
    description: LongText | None = None
    parent: Slug | None = None
    outcome: Outcome | None = None
    outcome_date: IsoDate | None = None
    outcome_note: LongText | None = None


class Capability(CapabilityBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    kind: CapabilityKind = Field(sa_type=EnumText(CapabilityKind, 40), index=True)
    outcome: Outcome = Field(default=Outcome.active, sa_type=EnumText(Outcome, 20))
    parent_id: int | None = Field(default=None, foreign_key="capability.id", index=True)
    status_override: str | None = Field(default=None, max_length=20)
    override_reason: str | None = Field(default=None, max_length=2_000)
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class OverdueClaim(SQLModel):
    slug: str
    text: str
    deadline: IsoDate
    days_overdue: int


class StatusAssessment(SQLModel):
    """What the evidence supports, what the claims implied, and why."""

    evidence_status: Level = Field(description="Highest level the capability's own evidence meets.")
    inherited_status: Level = Field(
        default=Level.not_assessed,
        description="Highest level evidence about an assembly containing it meets.",
    )
    inherited_from: str | None = Field(
        default=None, description="Slug of the assembly whose evidence raised it, if any."
    )
    parts_status: Level | None = Field(
        default=None, description="Status of its weakest critical part (null without parts)."
    )
    rolled_up_status: Level = Field(
        description="The lower of its evidence level (own or inherited) and its parts' status; "
        "not assessed without evidence about it or anything containing it."
    )
    status: Level = Field(description="Status shown: the override if set, else the roll-up.")
    qualifier: str | None = Field(
        default=None, description="'vendor-reported' or 'independent' when benchmarked."
    )
    claimed_status: Level = Field(description="Highest status implied by the claims.")
    gap: int = Field(description="Ladder steps the claims sit above the status (negative: below).")
    has_direct_evidence: bool
    limited_by: str | None = Field(
        default=None,
        description="Slug of the weakest critical part, when it caps this capability or when "
        "there is no evidence for the assembly itself.",
    )
    overridden: bool = False
    override_reason: str | None = None
    overdue: list[OverdueClaim] = Field(
        default=[], description="Its promises that are overdue (not kept, broken or pending)."
    )
    contradicted_claims: int = Field(
        default=0, description="Its claims that deciding evidence contradicts and none supports."
    )
    disputed_claims: int = Field(
        default=0, description="Its claims with independent support and a contradiction."
    )


class CapabilityPublic(CapabilityBase):
    id: int
    slug: str
    parent: str | None
    children: list[str]
    version: int
    assessment: StatusAssessment


class StatusUpdate(SQLModel):
    """A status change request: an override, new evidence links, or both."""

    status: Level | None = Field(
        default=None,
        description="Manual override level; `null` with `clear_override` removes the override.",
    )
    clear_override: bool = False
    evidence_ids: list[DbId] = Field(default_factory=list, max_length=100)
    reason_code: AnyReasonCode = Field(
        default=ReasonCode.evidence_added,
        description="Machine-readable reason: evidence_added, correction, new_information or "
        "editorial_review (override and override_cleared follow `status` and `clear_override`). "
        "Deprecated: any other code of 3 to 40 lowercase letters and underscores is stored "
        "as-is for this release, answered with `Deprecation: true` and a `Warning` header.",
    )
    reason: str = Field(min_length=3, max_length=2_000, description="Why, in words.")

    @field_validator("reason_code")
    @classmethod
    def _chosen(cls, code: ReasonCode | str) -> ReasonCode | str:
        """Refuse a code the ledger records by itself (seed, created, rollup, ...)."""
        if isinstance(code, ReasonCode) and code not in (*CHOSEN_REASONS, *OVERRIDE_REASONS):
            chosen = ", ".join(CHOSEN_REASONS)
            raise ValueError(f"'{code}' is recorded by the ledger itself; send one of {chosen}")
        return code

    @property
    def legacy_reason(self) -> bool:
        """Return whether the reason code is a deprecated one outside `ReasonCode`."""
        return not isinstance(self.reason_code, ReasonCode)
