"""Checks: the ledger's own arithmetic and simulations, kept apart from evidence about the world.

A check (an arithmetic consistency check, or a simulation run recorded by the runner) is not
evidence that the hardware exists or performs: lists of evidence leave checks out unless the
reader asks for them, and pages show them in their own section. This module is the one place
that says which items are checks: those whose `origin` is `computed`. (A claimant's own word
about its simulations, such as "we simulated Dojo on FPGA", has another origin: it is evidence
about the world.)
"""

from typing import Any, Literal

from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from app.evidence.models import Evidence

# Kinds that only computations have; filtering on one asks for checks.
COMPUTED_KINDS = ("analytical_check", "simulation_run")
COMPUTED = "computed"

# Which items a list shows: evidence about the world only, everything, or checks only.
ChecksFilter = Literal["exclude", "include", "only"]
CHECKS_FILTERS: tuple[ChecksFilter, ...] = ("exclude", "include", "only")

# The columns that tell a check apart, for code that reads rows column by column.
CHECK_COLUMNS = ("origin",)


def is_check_row(origin: Any) -> bool:
    """Whether an item with these CHECK_COLUMNS values is one of the ledger's computations."""
    return bool(origin == COMPUTED)


def is_check(item: Any) -> bool:
    """Whether an evidence item (row or public view) is one of the ledger's own computations."""
    return is_check_row(*(getattr(item, name) for name in CHECK_COLUMNS))


def check_clause() -> ColumnElement[bool]:
    """The SQL condition that is true of exactly the items `is_check` is true of."""
    return col(Evidence.origin) == COMPUTED
