"""Import every table so that SQLModel.metadata is complete (Alembic and tests use this)."""

from app.auth.models import ApiToken, WebSession
from app.benchmarks.models import BenchmarkRun, BenchmarkWorker
from app.capabilities.models import Capability
from app.claims.models import Claim
from app.events.models import Event
from app.evidence.models import Evidence
from app.history.models import DataChange, DataVersion, StatusChange
from app.ladder.models import StatusLevel
from app.questions.models import Question
from app.sources.models import Source

__all__ = [
    "ApiToken",
    "BenchmarkRun",
    "BenchmarkWorker",
    "Capability",
    "Claim",
    "DataChange",
    "DataVersion",
    "Event",
    "Evidence",
    "Question",
    "Source",
    "StatusChange",
    "StatusLevel",
    "WebSession",
]
