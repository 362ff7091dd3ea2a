"""Shared pieces of every entity's schema family."""

import re
import types
import typing
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import String, TypeDecorator
from sqlmodel import SQLModel

import app.core.db  # noqa: F401  (installs the naming convention before any table is declared)
from app.core.limits import check_number, check_text

E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E], Generic[E]):
    """A str enum stored as its value in a VARCHAR (no database enum type), read back as a member.

    Tables declare such columns with their enum type, so the code reads what the schema says.
    """

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        """Store the value itself ("supports", not "Stance.supports")."""
        return None if value is None else str(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        """Read a stored value back as its member; a value the enum lacks is a ValueError."""
        return None if value is None else self.enum(value)


SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, min_length=1, max_length=120)]
CleanText = AfterValidator(check_text)
ShortText = Annotated[
    str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True), CleanText
]
LongText = Annotated[str, StringConstraints(max_length=10_000), CleanText]
Url = Annotated[
    str,
    StringConstraints(pattern=r"^https?://\S+$", max_length=2_000, strip_whitespace=True),
    CleanText,
]


# Ids are 32-bit integers on PostgreSQL; larger numbers can only be "not found", never a crash.
DbId = Annotated[int, Field(ge=1, le=2_147_483_647)]


def _iso_date_only(value: object) -> object:
    # Lax pydantic would read 0 as 1970-01-01; an API client sending a number meant something else.
    if isinstance(value, int | float):
        raise ValueError("must be an ISO date string (YYYY-MM-DD)")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _plain_number(value: object) -> object:
    # Lax pydantic reads true as 1 and "3" as 3; a figure must be sent as a JSON number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    return value


# Finite, and integers within int64: NaN is not a figure, and PostgreSQL stores 64 bits.
Number = Annotated[float, BeforeValidator(_plain_number), AfterValidator(check_number)]
WholeNumber = Annotated[int, BeforeValidator(_plain_number), AfterValidator(check_number)]


def utcnow() -> datetime:
    """Return the current UTC time, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def slugify(text: str) -> str:
    """Turn free text into a slug."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:120] or "item"


class Level(StrEnum):
    """The status ladder codes, lowest first."""

    not_assessed = "not_assessed"
    aspirational = "aspirational"
    built = "built"
    tested = "tested"
    benchmarked = "benchmarked"


LEVEL_RANK = {level: rank for rank, level in enumerate(Level)}


class DatePrecision(StrEnum):
    """How much of a date its source gives; the stored date is the first day of that period."""

    day = "day"
    month = "month"
    year = "year"
    # The source gives no date: the stored date only places the item (usually at the event it
    # concerns), pages say "date not given", and it never counts as earlier than anything.
    none = "none"


def period_end(start: date, precision: str) -> date:
    """Return the last day a date known to this precision can stand for."""
    if precision == DatePrecision.none:
        return date.max
    if precision == DatePrecision.year:
        return date(start.year, 12, 31)
    if precision == DatePrecision.month:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)
    return start


def shown_date(day: date, precision: str) -> str:
    """Format a date no more precisely than known: 2021-08-19, Aug 2021, 2021 or not given."""
    if precision == DatePrecision.none:
        return "date not given"
    if precision == DatePrecision.year:
        return str(day.year)
    if precision == DatePrecision.month:
        return day.strftime("%b %Y")
    return day.isoformat()


def iso_date(day: date, precision: str) -> str:
    """Return ISO 8601 at the precision known (2021-08-19, 2021-08 or 2021), for machines."""
    if precision == DatePrecision.none:
        return ""
    if precision == DatePrecision.year:
        return f"{day.year:04d}"
    if precision == DatePrecision.month:
        return f"{day.year:04d}-{day.month:02d}"
    return day.isoformat()


def precision_problem(value: date | None, precision: str) -> str | None:
    """Return why a date does not fit its precision (it must be the period's first day)."""
    if value is None:
        return None
    if precision == DatePrecision.month and value.day != 1:
        return "a date known to the month is stored as the month's first day"
    if precision == DatePrecision.year and (value.month, value.day) != (1, 1):
        return "a date known to the year is stored as 1 January"
    return None


class Grade(StrEnum):
    """Source grade: Tesla-authored, secondary, forum, own arithmetic."""

    P = "P"
    S = "S"
    F = "F"
    D = "D"


def _admits_none(annotation: Any) -> bool:
    if annotation is None or annotation is type(None):
        return True
    if typing.get_origin(annotation) is Annotated:
        return _admits_none(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(_admits_none(arg) for arg in typing.get_args(annotation))
    return False


def not_null_fields(base: type[BaseModel]) -> frozenset[str]:
    """Return the fields of an entity's Base schema that may not be null (NOT NULL columns)."""
    return frozenset(
        name for name, info in base.model_fields.items() if not _admits_none(info.annotation)
    )


class PartialUpdate(SQLModel):
    """A PATCH body: an omitted field is left alone, and null is refused where null is no value.

    ``not_null`` names the fields whose column is NOT NULL (``not_null_fields(Base)``); setting
    one of them to null is a 422 naming the field, not a database error.
    """

    not_null: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("may not be null; omit the field to leave it unchanged")
        return value
