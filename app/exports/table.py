"""How a table takes part in export and import."""

from dataclasses import dataclass, field

from sqlmodel import SQLModel


@dataclass(frozen=True)
class ExportTable:
    """A table in the export: its key in the file, its model, the schema that checks a row.

    `references` names links the database does not enforce: column -> referenced export key.
    """

    name: str
    model: type[SQLModel]
    row_schema: type[SQLModel]
    references: dict[str, str] = field(default_factory=dict)
