"""One schema per exported table that validates every column of an imported row.

Each reuses its entity's Base schema (enums, grades, bounds) and adds the columns only the
table has. Unknown columns are refused, and a test checks that every table column is covered.
"""

import datetime as dt
import types
import typing
from typing import Annotated, Any

from pydantic import Field, model_validator
from sqlmodel import SQLModel

from app.benchmarks.models import BenchmarkRunBase
from app.capabilities.models import CapabilityBase
from app.claims.models import ClaimBase
from app.core.bounds import RowVersion
from app.core.limits import JsonObject, check_json_value
from app.core.schema import DbId, Grade, Level, LongText, ShortText, Slug
from app.events.models import EventBase
from app.evidence.models import EvidenceBase, EvidenceKind
from app.history.models import AnyReasonCode, StatusChangeBase
from app.questions.models import QuestionBase
from app.sources.models import SourceBase, SourceKey

Label = Annotated[str, Field(max_length=120)]


class RowSchema(SQLModel):
    """Refuse unknown columns; check every string and number of the raw row first."""

    model_config = {"extra": "forbid"}

    @model_validator(mode="before")
    @classmethod
    def _generic_bounds(cls, raw: Any) -> Any:
        if isinstance(raw, dict):
            check_json_value(raw)
            for name, value in raw.items():
                field = cls.model_fields.get(name)
                if field is not None:
                    _check_strict(name, _scalar_type(field.annotation), value)
        return raw


def _scalar_type(annotation: Any) -> Any:
    """The int, float or bool a field holds (through Optional, Annotated and list), or None."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return None
            annotation = members[0]
        elif origin is list:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation if annotation in (int, float, bool) else None


def _check_strict(name: str, kind: Any, value: Any) -> None:
    """Refuse what lax validation would coerce: "1" for 1, 1 for true, 7.0 for 7."""
    if kind is None or value is None:
        return
    if isinstance(value, list):
        for item in value:
            _check_strict(name, kind, item)
        return
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok:
        wanted = {bool: "true or false", int: "an integer", float: "a number"}[kind]
        raise ValueError(f"{name}: must be {wanted} (JSON), not {value!r}")


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
    version: RowVersion


class CapabilityRow(CapabilityBase, Timestamps):
    id: DbId
    slug: Slug
    parent_id: DbId | None
    status_override: Level | None
    override_reason: LongText | None = Field(max_length=2_000)
    version: RowVersion


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
    version: RowVersion


class EvidenceRow(EvidenceBase, Timestamps):
    id: DbId
    slug: Slug
    capability_id: DbId
    claim_id: DbId | None
    benchmark_run_id: DbId | None
    version: RowVersion


class StatusChangeRow(StatusChangeBase, RowSchema):
    id: DbId
    capability_id: DbId
    reason_code: AnyReasonCode  # legacy codes are read and written back unchanged
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
    reproduces_run_id: DbId | None = None  # absent from exports made before it existed


class QuestionRow(QuestionBase, Timestamps):
    id: DbId
    slug: Slug
    version: RowVersion
