"""Every request and import schema admits only what its column holds (issue 19 §2).

The test walks every table model, finds the schemas of its entity (``<Entity>Base``,
``<Entity>Create``, ``<Entity>Update`` in its module, and its export row schema) and, for each
field that is a column, tries the values the column refuses: text one character longer than
the VARCHAR, integers beyond INTEGER (32-bit) or BIGINT, and null in a NOT NULL column of an
update. A schema that admits one of them fails the test, naming the field.
"""

import sys
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy import JSON, BigInteger, Boolean, Integer, String
from sqlalchemy import inspect as sa_inspect
from sqlmodel import SQLModel

import app.main  # noqa: F401  (imports every model)
from app.exports.table import EXPORT_TABLES

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def _tables() -> list[type[SQLModel]]:
    found = []
    for mapper in SQLModel._sa_registry.mappers:  # type: ignore[attr-defined]
        found.append(mapper.class_)
    return sorted(found, key=lambda m: m.__name__)


def _schemas(model: type[SQLModel]) -> list[tuple[str, type[BaseModel]]]:
    """The request schemas of a table's entity and its import row schema."""
    module = sys.modules[model.__module__]
    out = []
    for suffix in ("Base", "Create", "Update"):
        schema = getattr(module, model.__name__ + suffix, None)
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            out.append((f"{model.__name__}{suffix}", schema))
    for table in EXPORT_TABLES:
        if table.model is model:
            out.append((table.row_schema.__name__, table.row_schema))
    return out


def _adapter(schema: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = schema.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])  # type: ignore[name-defined]


def _admits(adapter: TypeAdapter[Any], value: Any) -> bool:
    try:
        adapter.validate_python(value)
    except (ValidationError, ValueError):
        return False
    return True


def _too_long(length: int) -> list[str]:
    # Shapes that pass the usual patterns (slugs, URLs, plain text), one character too long.
    return [
        "a" * (length + 1),
        "https://example.org/" + "a" * length,
        "P" * (length + 1),
    ]


CASES = [
    (model, column, label, schema)
    for model in _tables()
    for column in sa_inspect(model).columns
    for label, schema in _schemas(model)
    if column.key in schema.model_fields
]


@pytest.mark.parametrize(
    ("model", "column", "label", "schema"),
    CASES,
    ids=[f"{label}.{column.key}" for _m, column, label, _s in CASES],
)
def test_no_schema_admits_what_its_column_refuses(
    model: type[SQLModel], column: Any, label: str, schema: type[BaseModel]
) -> None:
    adapter = _adapter(schema, column.key)
    kind = column.type
    if isinstance(kind, String) and kind.length:
        for value in _too_long(kind.length):
            assert not _admits(adapter, value), (
                f"{label}.{column.key} admits {len(value)} characters; "
                f"the column {model.__tablename__}.{column.key} holds {kind.length}"
            )
    elif isinstance(kind, Integer) and not isinstance(kind, Boolean):
        ceiling = INT64_MAX if isinstance(kind, BigInteger) else INT32_MAX
        assert not _admits(adapter, ceiling + 1), (
            f"{label}.{column.key} admits {ceiling + 1}; the column "
            f"{model.__tablename__}.{column.key} is {'BIGINT' if ceiling == INT64_MAX else 'INTEGER'}"
        )
    elif isinstance(kind, JSON):
        pass  # JSON documents are bounded by app.core.limits (depth, size, int64)
    if label.endswith("Update") and not column.nullable and not column.primary_key:
        # An update's fields are all optional, so the whole schema can be tried with one.
        assert not _admits(TypeAdapter(schema), {column.key: None}), (
            f"{label}.{column.key} admits null; the column {model.__tablename__}.{column.key} "
            "is NOT NULL"
        )


def test_the_walk_covers_the_entities() -> None:
    """A renamed schema must not silently drop out of the walk."""
    labels = {label for _m, _c, label, _s in CASES}
    for expected in (
        "EvidenceCreate",
        "EvidenceUpdate",
        "ClaimUpdate",
        "CapabilityUpdate",
        "EventUpdate",
        "ApiTokenCreate",
        "BenchmarkRunCreate",
        "StatusChangeRow",
        "BenchmarkRunRow",
    ):
        assert expected in labels, expected


def test_a_token_name_fits_every_actor_column_it_becomes() -> None:
    """A token writes as "token:<name> (dashboard)"; the longest name must fit the columns."""
    from app.auth.models import ApiTokenCreate
    from app.benchmarks.models import BenchmarkRun
    from app.history.models import StatusChange

    longest = max(n for n in range(1, 1000) if _admits(_adapter(ApiTokenCreate, "name"), "n" * n))
    actor = f"token:{'n' * longest} (dashboard)"
    for model in (StatusChange, BenchmarkRun):
        column = sa_inspect(model).columns["actor"]
        assert len(actor) <= column.type.length, (model.__tablename__, len(actor))
