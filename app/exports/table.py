"""How a table takes part in export and import, and every table that does.

The CLI (`ledger export`/`import`), the container's `seed-if-empty` and the tests read these
lists. Adding a table to the export is one line here plus its row schema in `rows.py`.
"""

from dataclasses import dataclass, field

from sqlmodel import SQLModel

from app.auth.models import ApiToken, WebSession
from app.benchmarks.models import BenchmarkRun, BenchmarkWorker
from app.capabilities.models import Capability
from app.claims.models import Claim
from app.events.models import Event
from app.evidence.models import Evidence
from app.exports import rows
from app.history.models import DataChange, DataVersion, StatusChange
from app.ladder.models import StatusLevel
from app.questions.models import Question
from app.sources.models import Source


@dataclass(frozen=True)
class ExportTable:
    """A table in the export: its key in the file, its model, the schema that checks a row.

    `references` names links the database does not enforce: column -> referenced export key.
    """

    name: str
    model: type[SQLModel]
    row_schema: type[SQLModel]
    references: dict[str, str] = field(default_factory=dict)


# In insert order: referenced tables first (self-references are patched after insert).
EXPORT_TABLES: tuple[ExportTable, ...] = (
    ExportTable("status_levels", StatusLevel, rows.StatusLevelRow),
    ExportTable("sources", Source, rows.SourceRow),
    ExportTable("events", Event, rows.EventRow),
    ExportTable("capabilities", Capability, rows.CapabilityRow),
    ExportTable("claims", Claim, rows.ClaimRow),
    ExportTable("benchmark_runs", BenchmarkRun, rows.BenchmarkRunRow),
    ExportTable(
        "evidence", Evidence, rows.EvidenceRow, references={"benchmark_run_id": "benchmark_runs"}
    ),
    ExportTable(
        "status_changes",
        StatusChange,
        rows.StatusChangeRow,
        references={"evidence_ids": "evidence"},
    ),
    ExportTable("questions", Question, rows.QuestionRow),
)

# Tables left out of the export on purpose: credentials, sessions, the cache counter, and the
# workers' liveness records (operational state, not ledger data).
NOT_EXPORTED: tuple[type, ...] = (ApiToken, WebSession, DataVersion, DataChange, BenchmarkWorker)
