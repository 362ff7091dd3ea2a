"""Event: a presentation, paper, call or report at which claims were made."""

import datetime as dt
from enum import StrEnum

from pydantic import model_validator
from sqlmodel import Field, SQLModel

from app.core.schema import (
    DatePrecision,
    EnumText,
    IsoDate,
    LongText,
    PartialUpdate,
    ShortText,
    Slug,
    Url,
    not_null_fields,
    precision_problem,
    utcnow,
)


class EventKind(StrEnum):
    presentation = "presentation"
    conference = "conference"
    earnings_call = "earnings_call"
    report = "report"
    news = "news"
    social_post = "social_post"


class EventBase(SQLModel):
    name: ShortText
    kind: EventKind
    date: IsoDate
    date_precision: DatePrecision = Field(
        default=DatePrecision.day,
        description="How much of the date the source gives; month and year start on day 1.",
    )
    venue: str | None = Field(default=None, max_length=300)
    url: Url | None = None
    description: LongText | None = None


class EventCreate(EventBase):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "slug": "q3-2026-earnings-call",
                    "name": "Tesla Q3 2026 earnings call",
                    "kind": "earnings_call",
                    "date": "2026-10-21",
                }
            ]
        }
    }

    slug: Slug

    @model_validator(mode="after")
    def _precise_enough(self) -> "EventCreate":
        problem = precision_problem(self.date, self.date_precision)
        if problem:
            raise ValueError(problem)
        return self


class EventUpdate(PartialUpdate):
    not_null = not_null_fields(EventBase)

    name: ShortText | None = None
    kind: EventKind | None = None
    date: IsoDate | None = None
    date_precision: DatePrecision | None = None
    venue: str | None = Field(default=None, max_length=300)
    url: Url | None = None
    description: LongText | None = None


class Event(EventBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, index=True, max_length=120)
    kind: EventKind = Field(sa_type=EnumText(EventKind, 40), index=True)
    date_precision: DatePrecision = Field(
        default=DatePrecision.day, sa_type=EnumText(DatePrecision, 5)
    )
    version: int = 1
    created_at: dt.datetime = Field(default_factory=utcnow)
    updated_at: dt.datetime = Field(default_factory=utcnow)


class EventPublic(EventBase):
    id: int
    slug: str
    version: int
