"""Every router and every exported table, registered in plain code.

The web app (`app.main`), the CLI (`ledger export`/`import`) and the worker all read these
lists, so each entry point sees the same parts. Adding a table to the export is one line here.
"""

from fastapi import APIRouter

from app.auth.models import ApiToken, WebSession
from app.benchmarks.models import BenchmarkRun, BenchmarkWorker
from app.benchmarks.routes import router as benchmarks_router
from app.capabilities.models import Capability
from app.capabilities.routes import router as capabilities_router
from app.claims.models import Claim
from app.claims.routes import router as claims_router
from app.core.docs import router as docs_router
from app.dashboard import auth as dashboard_auth
from app.dashboard import compare as dashboard_compare
from app.dashboard import edit as dashboard_edit
from app.dashboard import feeds as dashboard_feeds
from app.dashboard import question_forms as dashboard_question_forms
from app.dashboard import runs as dashboard_runs
from app.dashboard import views as dashboard_views
from app.events.models import Event
from app.events.routes import router as events_router
from app.evidence.models import Evidence
from app.evidence.routes import router as evidence_router
from app.exports import rows
from app.exports.table import ExportTable
from app.history.models import DataChange, DataVersion, StatusChange
from app.ladder.models import StatusLevel
from app.ladder.routes import router as ladder_router
from app.ops.health import router as health_router
from app.questions.models import Question
from app.questions.routes import router as questions_router
from app.sources.models import Source
from app.sources.routes import router as sources_router

# In matching order: the JSON API, the probes, then the dashboard's pages and feeds.
ROUTERS: tuple[APIRouter, ...] = (
    docs_router,
    capabilities_router,
    claims_router,
    evidence_router,
    events_router,
    ladder_router,
    sources_router,
    questions_router,
    health_router,
    benchmarks_router,
    dashboard_views.router,
    dashboard_edit.router,
    dashboard_question_forms.router,
    dashboard_runs.router,
    dashboard_auth.router,
    dashboard_feeds.router,
    dashboard_compare.router,
)

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
