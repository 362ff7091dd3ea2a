"""Evidence: an item bearing on a claim or a capability."""

import datetime as dt
from enum import StrEnum

from pydantic import model_validator
from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.core.schema import (
    DatePrecision,
    EnumText,
    Grade,
    IsoDate,
    Level,
    LongText,
    PartialUpdate,
    ShortText,
    Slug,
    Url,
    not_null_fields,
    precision_problem,
    utcnow,
)


class EvidenceKind(StrEnum):
    photo = "photo"
    live_demo = "live_demo"
    slide = "slide"
    paper = "paper"
    earnings_call = "earnings_call"
    third_party_report = "third_party_report"
    benchmark_result = "benchmark_result"
    analytical_check = "analytical_check"
    simulation_run = "simulation_run"
    filing = "filing"


class Origin(StrEnum):
    """Where an item comes from, relative to the claimant of the claim it bears on."""

    claimant = "claimant"  # the claimant itself: its staff, slides, papers, filings, calls
    reported = "reported"  # a third party repeating or paraphrasing what the claimant said
    independent = "independent"  # a third party that observed, measured or tore down the thing
    computed = "computed"  # the ledger's own arithmetic or simulation


class Stance(StrEnum):
    """How an item bears on its claim; the verdict rules say what each one decides."""

    supports = "supports"
    contradicts = "contradicts"
    inconclusive = "inconclusive"  # holds only under a named assumption
    not_found = "not_found"  # searched for and absent: never contradicts
    partial = "partial"  # part of what was claimed or promised was delivered, not all of it


def stance_problem(stance: str | None, assumption: str | None) -> str | None:
    """Return why a stance and its assumption do not fit together, or None."""
    if stance == Stance.inconclusive and not (assumption or "").strip():
        return "assumption: an inconclusive item must name the assumption it holds under"
    return None


class EvidenceBase(SQLModel):
    title: ShortText
    summary: LongText | None = None
    kind: EvidenceKind
    origin: Origin = Field(
        description="Where the item comes from, relative to the claim's claimant: the claimant, "
        "a third party reporting it, an independent third party, or the ledger's own computation."
    )
    grade: Grade
    source_key: str | None = Field(default=None, max_length=20)
    url: Url | None = None
    archived_url: Url | None = None
    date: IsoDate
    date_precision: DatePrecision = Field(
        default=DatePrecision.day,
        description="How much of the date the source gives; month and year start on day 1.",
    )
    stance: Stance
    assumption: LongText | None = Field(
        default=None, description="The reading under which an inconclusive item holds."
    )
    level: Level | None = Field(
        default=None, description="The ladder level this item supports (stance 'supports')."
    )


class EvidenceCreate(EvidenceBase):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "Dojo cabinet shown on stage",
                    "kind": "photo",
                    "origin": "claimant",
                    "grade": "S",
                    "url": "https://newsotp.com/teslas-dojo-supercomputer-tripped-the-grid",
                    "date": "2022-09-30",
                    "stance": "supports",
                    "level": "built",
                    "capability": "dojo-cabinet",
                }
            ]
        }
    }

    slug: Slug | None = Field(default=None, description="Generated from the title when omitted.")
    capability: Slug
    claim: Slug | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "EvidenceCreate":
        problem = stance_problem(self.stance, self.assumption) or precision_problem(
            self.date, self.date_precision
        )
        if problem:
            raise ValueError(problem)
        return self


class EvidenceUpdate(PartialUpdate):
    not_null = not_null_fields(EvidenceBase)

    title: ShortText | None = None
    summary: LongText | None = None
    kind: EvidenceKind | None = None
    origin: Origin | None = None
    grade: Grade | None = None
    source_key: str | None = Field(default=None, max_length=20)
    url: Url | None = None
    archived_url: Url | None = None
    date: IsoDate | None = None
    date_precision: DatePrecision | None = None
    stance: Stance | None = None
    assumption: LongText | None = None
    level: Level | None = None
    claim: Slug | None = None


class Evidence(EvidenceBase, table=True):
    # The lists' default order, read a page at a time (keyset on the date, then the id).
    __table_args__ = (
        Index("ix_evidence_date_id", "date", "id"),
        # Covers the unit of work's count of the kinds of evidence meeting the ladder, so a
        # status write reads an index, not every item under its hierarchy.
        Index("ix_evidence_ladder", "capability_id", "stance", "level", "origin", "kind", "grade"),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    capability_id: int = Field(foreign_key="capability.id", index=True)
    claim_id: int | None = Field(default=None, foreign_key="claim.id", index=True)
    kind: EvidenceKind = Field(sa_type=EnumText(EvidenceKind, 40), index=True)
    origin: Origin = Field(sa_type=EnumText(Origin, 12))
    grade: Grade = Field(sa_type=EnumText(Grade, 2), index=True)
    stance: Stance = Field(sa_type=EnumText(Stance, 20))
    date_precision: DatePrecision = Field(
        default=DatePrecision.day, sa_type=EnumText(DatePrecision, 5)
    )
    level: Level | None = Field(default=None, sa_type=EnumText(Level, 20))
    # Set for evidence written by the benchmark runner; links back to the run.
    benchmark_run_id: int | None = Field(default=None, index=True)
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class EvidencePublic(EvidenceBase):
    id: int
    slug: str
    capability: str
    claim: str | None
    benchmark_run_id: int | None
    counts_toward_status: bool = Field(description="Meets the exit criteria of its level.")
    version: int
