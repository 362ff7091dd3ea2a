"""Checks: the ledger's own arithmetic and simulations, kept apart from evidence about the world.

A check (an arithmetic consistency check, or a simulation run recorded by the runner) is not
evidence that the hardware exists or performs: lists of evidence leave checks out unless the
reader asks for them, and pages show them in their own section. This module is the one place
that says which items are checks; when evidence records its `origin`, `CHECK_COLUMNS` becomes
("origin",) and both predicates `origin == "computed"`.
"""

from typing import Any, Literal

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.evidence.models import Evidence

COMPUTED_KINDS = ("analytical_check", "simulation_run")
# A claimant's own statement about its simulations ("we simulated Dojo on FPGA") is evidence
# about the world, not a check the ledger computed.
CLAIMANT_PROVENANCES = ("vendor_statement", "vendor_demo", "vendor_paper")

# Which items a list shows: evidence about the world only, everything, or checks only.
ChecksFilter = Literal["exclude", "include", "only"]
CHECKS_FILTERS: tuple[ChecksFilter, ...] = ("exclude", "include", "only")


# The columns that tell a check apart, for code that reads rows column by column.
CHECK_COLUMNS = ("kind", "provenance")


def is_check_row(kind: Any, provenance: Any) -> bool:
    """Whether an item with these CHECK_COLUMNS values is one of the ledger's computations."""
    return kind in COMPUTED_KINDS and provenance not in CLAIMANT_PROVENANCES


def is_check(item: Any) -> bool:
    """Whether an evidence item (row or public view) is one of the ledger's own computations."""
    return is_check_row(*(getattr(item, name) for name in CHECK_COLUMNS))


def check_clause() -> ColumnElement[bool]:
    """The SQL condition that is true of exactly the items `is_check` is true of."""
    return and_(
        col(Evidence.kind).in_(COMPUTED_KINDS),
        col(Evidence.provenance).not_in(CLAIMANT_PROVENANCES),
    )
