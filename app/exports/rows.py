"""One schema per exported table that validates every column of an imported row.

Each reuses its entity's Base schema (enums, grades, bounds) and adds the columns only the
table has. Unknown columns are refused, and a test checks that every table column is covered.
"""

import datetime as dt
from typing import Annotated, Any

from pydantic import ConfigDict, Field, model_validator
from sqlmodel import SQLModel

from app.benchmarks.models import BenchmarkRunBase
from app.capabilities.models import CapabilityBase, ReasonCode
from app.claims.models import ClaimBase
from app.core.limits import JsonObject, check_json_value
from app.core.schema import DbId, Grade, Level, LongText, ShortText, Slug
from app.events.models import EventBase
from app.evidence.models import EvidenceBase, EvidenceKind
from app.history.models import StatusChangeBase
from app.questions.models import QuestionBase
from app.sources.models import SourceBase, SourceKey

Version = Annotated[int, Field(ge=1, le=2**63 - 1)]
Label = Annotated[str, Field(max_length=120)]


class RowSchema(SQLModel):
    """Refuse unknown columns; check every string and number of the raw row first."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]

    @model_validator(mode="before")
    @classmethod
    def _generic_bounds(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            check_json_value(raw)
        return raw


class Timestamps(RowSchema):
    created_at: dt.datetime
    updated_at: dt.datetime


class StatusLevelRow(RowSchema):
    id: DbId
    code: Level
    rank: int = Field(ge=0, le=100)
    label: ShortText = Field(max_length=60)
    description: LongText
    exit_criteria: LongText
    accepted_evidence_kinds: list[EvidenceKind]
    accepted_grades: list[Grade]


class SourceRow(SourceBase, RowSchema):
    id: DbId
    key: SourceKey


class EventRow(EventBase, Timestamps):
    id: DbId
    slug: Slug
    version: Version


class CapabilityRow(CapabilityBase, Timestamps):
    id: DbId
    slug: Slug
    parent_id: DbId | None
    status_override: Level | None
    override_reason: LongText | None = Field(max_length=2_000)
    version: Version


class ClaimRow(ClaimBase, Timestamps):
    id: DbId
    slug: Slug
    capability_id: DbId
    event_id: DbId
    restates_id: DbId | None
    metric: Label | None
    value: float | None
    unit: Annotated[str, Field(max_length=60)] | None
    datatype: Annotated[str, Field(max_length=60)] | None
    scale: Label | None
    version: Version


class EvidenceRow(EvidenceBase, Timestamps):
    id: DbId
    slug: Slug
    capability_id: DbId
    claim_id: DbId | None
    benchmark_run_id: DbId | None
    version: Version


class StatusChangeRow(StatusChangeBase, RowSchema):
    id: DbId
    capability_id: DbId
    reason_code: ReasonCode
    evidence_ids: list[DbId]


class BenchmarkRunRow(BenchmarkRunBase, RowSchema):
    id: DbId
    progress: float = Field(ge=0, le=1)
    spec: JsonObject
    result: JsonObject | None
    environment: JsonObject
    worker_id: Label | None
    heartbeat_at: dt.datetime | None
    cancel_requested: bool
    attempts: int = Field(ge=0, le=1_000_000)


class QuestionRow(QuestionBase, Timestamps):
    id: DbId
    slug: Slug
    version: Version
