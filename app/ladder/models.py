"""The status ladder and its exit criteria, stored as data."""

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class StatusLevelBase(SQLModel):
    code: str = Field(max_length=20)
    rank: int = Field(ge=0, le=100)  # the ladder has five levels; the import row says so too
    label: str = Field(max_length=60)
    description: str
    exit_criteria: str
    accepted_evidence_kinds: list[str] = Field(default_factory=list)
    accepted_grades: list[str] = Field(default_factory=list)


class StatusLevel(StatusLevelBase, table=True):
    __tablename__ = "status_level"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=20)
    accepted_evidence_kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    accepted_grades: list[str] = Field(default_factory=list, sa_column=Column(JSON))


class StatusLevelPublic(StatusLevelBase):
    pass
