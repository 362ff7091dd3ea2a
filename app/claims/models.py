"""Claim: a statement made at an event about a capability, with an optional figure."""

import datetime as dt

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel

from app.core.schema import Grade, IsoDate, Level, LongText, Number, Slug, Url, WholeNumber, utcnow


class Figure(SQLModel):
    metric: str = Field(min_length=1, max_length=120)
    value: Number
    unit: str = Field(min_length=1, max_length=60)
    datatype: str | None = Field(default=None, max_length=60)
    scale: str | None = Field(default=None, max_length=120)


class ClaimBase(SQLModel):
    text: LongText = Field(min_length=3)
    implied_status: Level
    stated_on: IsoDate
    source_key: str | None = Field(default=None, max_length=20)
    source_url: Url | None = None
    grade: Grade
    video_offset_s: WholeNumber | None = Field(default=None, ge=0, le=86_400)
    deadline: IsoDate | None = None


class ClaimCreate(ClaimBase):
    model_config = ConfigDict(  # type: ignore[assignment]  # SQLModel types it as its own dict
        json_schema_extra={
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
    )

    slug: Slug
    capability: Slug
    event: Slug
    figure: Figure | None = None
    restates: Slug | None = None


class ClaimUpdate(SQLModel):
    text: LongText | None = Field(default=None, min_length=3)
    implied_status: Level | None = None
    stated_on: IsoDate | None = None
    source_key: str | None = Field(default=None, max_length=20)
    source_url: Url | None = None
    grade: Grade | None = None
    video_offset_s: WholeNumber | None = Field(default=None, ge=0, le=86_400)
    deadline: IsoDate | None = None
    figure: Figure | None = None
    restates: Slug | None = None


class Claim(ClaimBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    capability_id: int = Field(foreign_key="capability.id", index=True)
    event_id: int = Field(foreign_key="event.id", index=True)
    restates_id: int | None = Field(default=None, foreign_key="claim.id")
    implied_status: str = Field(max_length=20)  # type: ignore[assignment]
    grade: str = Field(max_length=2, index=True)  # type: ignore[assignment]
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
        default=None, description="Days past the deadline with no supporting evidence."
    )
    contradicted: bool = Field(description="Some evidence contradicts this claim.")
    version: int
