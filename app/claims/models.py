"""Claim: a statement made at an event about a capability, with an optional figure."""

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints, model_validator
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.schema import (
    CleanText,
    DatePrecision,
    EnumText,
    Grade,
    IsoDate,
    Level,
    LongText,
    Number,
    PartialUpdate,
    Slug,
    Url,
    WholeNumber,
    not_null_fields,
    precision_problem,
    utcnow,
)

# A claimant's name: a company, a person or an outlet (the column holds 120 characters).
ShortName = Annotated[
    str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True), CleanText
]


class Verdict(StrEnum):
    """A claim's computed verdict; seed_data/verdict_rules.yaml says when each applies."""

    supported = "supported"
    documented = "documented"
    contradicted = "contradicted"
    disputed = "disputed"
    unresolved = "unresolved"
    unverified = "unverified"


class Doubt(StrEnum):
    """What puts a claim in doubt; seed_data/verdict_rules.yaml says when each applies."""

    contradicted = "contradicted"
    disputed = "disputed"
    forum_only = "forum_only"
    unresolved = "unresolved"


class ClaimantKind(StrEnum):
    """Who made a claim: the company, one of its executives or staff, or someone reading it."""

    company = "company"
    executive = "executive"
    employee = "employee"
    press = "press"
    analyst = "analyst"
    forum = "forum"


class PromiseState(StrEnum):
    """Where a dated commitment stands; seed_data/verdict_rules.yaml says when each applies."""

    pending = "pending"
    overdue = "overdue"
    kept = "kept"
    kept_late = "kept_late"
    partly_kept = "partly_kept"
    broken = "broken"


class Promise(SQLModel):
    """The state of a claim with a deadline."""

    state: PromiseState
    deadline: IsoDate
    resolved_on: IsoDate | None = Field(
        default=None,
        description="When it was kept, partly kept or broken; null while pending or overdue.",
    )
    days_late: int | None = Field(
        default=None,
        description="Days past the deadline: fixed once kept late, partly kept or broken, "
        "counting while overdue, null while pending.",
    )


class Consistency(StrEnum):
    """What a computation says of a figure against the other claimed figures."""

    consistent = "consistent"
    inconsistent = "inconsistent"
    inconclusive = "inconclusive"


class Figure(SQLModel):
    metric: str = Field(min_length=1, max_length=120)
    value: Number
    unit: str = Field(min_length=1, max_length=60)
    datatype: str | None = Field(default=None, max_length=60)
    scale: str | None = Field(default=None, max_length=120)


class ClaimBase(SQLModel):
    text: LongText = Field(min_length=3)
    claimant: ShortName = Field(
        default="Tesla", description="Who made the claim: the company, a person or an outlet."
    )
    claimant_kind: ClaimantKind = ClaimantKind.company
    implied_status: Level
    stated_on: IsoDate
    date_precision: DatePrecision = Field(
        default=DatePrecision.day,
        description="How much of stated_on the source gives; month and year start on day 1.",
    )
    source_key: str | None = Field(default=None, max_length=20)
    source_url: Url | None = None
    grade: Grade
    video_offset_s: WholeNumber | None = Field(default=None, ge=0, le=86_400)
    deadline: IsoDate | None = None


class ClaimCreate(ClaimBase):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "slug": "exapod-peak-1-1-eflops-restated",
                    "capability": "dojo-exapod",
                    "event": "ai-day-2022",
                    "text": "An ExaPOD delivers 1.1 EFLOPS (BF16/CFP8).",
                    "figure": {
                        "metric": "peak_compute",
                        "value": 1.1,
                        "unit": "EFLOPS",
                        "datatype": "BF16/CFP8",
                        "scale": "per ExaPOD",
                    },
                    "implied_status": "aspirational",
                    "stated_on": "2022-09-30",
                    "grade": "S",
                    "deadline": "2023-03-31",
                }
            ]
        }
    }

    slug: Slug
    capability: Slug
    event: Slug
    figure: Figure | None = None
    restates: Slug | None = None

    @model_validator(mode="after")
    def _precise_enough(self) -> "ClaimCreate":
        problem = precision_problem(self.stated_on, self.date_precision)
        if problem:
            raise ValueError(problem)
        return self


class ClaimUpdate(PartialUpdate):
    not_null = not_null_fields(ClaimBase)

    text: LongText | None = Field(default=None, min_length=3)
    claimant: ShortName | None = None
    claimant_kind: ClaimantKind | None = None
    implied_status: Level | None = None
    stated_on: IsoDate | None = None
    date_precision: DatePrecision | None = None
    source_key: str | None = Field(default=None, max_length=20)
    source_url: Url | None = None
    grade: Grade | None = None
    video_offset_s: WholeNumber | None = Field(default=None, ge=0, le=86_400)
    deadline: IsoDate | None = None
    figure: Figure | None = None
    restates: Slug | None = None


class Claim(ClaimBase, table=True):
    # The lists' default order, read a page at a time (keyset on the date, then the id).
    __table_args__ = (Index("ix_claim_stated_on_id", "stated_on", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    capability_id: int = Field(foreign_key="capability.id", index=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    restates_id: int | None = Field(default=None, foreign_key="claim.id")
    implied_status: Level = Field(sa_type=EnumText(Level, 20))
    claimant: str = Field(default="Tesla", max_length=120)
    claimant_kind: ClaimantKind = Field(
        default=ClaimantKind.company, sa_type=EnumText(ClaimantKind, 12)
    )
    grade: Grade = Field(sa_type=EnumText(Grade, 2), index=True)
    date_precision: DatePrecision = Field(
        default=DatePrecision.day, sa_type=EnumText(DatePrecision, 5)
    )
    metric: str | None = Field(default=None, max_length=120)
    value: float | None = None
    unit: str | None = Field(default=None, max_length=60)
    datatype: str | None = Field(default=None, max_length=60)
    scale: str | None = Field(default=None, max_length=120)
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class ClaimPublic(ClaimBase):
    id: int
    slug: str
    capability: str
    event: str
    figure: Figure | None
    restates: str | None
    overdue_days: int | None = Field(
        default=None, description="Days past the deadline while the promise is overdue."
    )
    promise: Promise | None = Field(
        default=None, description="For a claim with a deadline: kept, broken, overdue or pending."
    )
    contradicted: bool = Field(
        description="Deciding evidence contradicts this claim and none supports it."
    )
    verdict: Verdict = Field(description="What the evidence decides about the claim.")
    verdict_reasons: list[str] = Field(description="Why, item by item.")
    consistency: Consistency | None = Field(
        default=None,
        description="What the ledger's own arithmetic or simulation says about the figure, on a "
        "line of its own: consistent, inconsistent or inconclusive. It never supports a claim.",
    )
    version: int
