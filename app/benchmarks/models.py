"""Benchmark runs: a simulated workload as a record, from queue to result."""

import datetime as dt
import hashlib
import json
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.core.bounds import ACTOR_MAX, SEED_MAX, seed_field
from app.core.compressed import CompressedJSON
from app.core.limits import JsonObject
from app.core.schema import EnumText, utcnow


class RunState(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


FINISHED_STATES = {RunState.succeeded, RunState.failed, RunState.cancelled}


class RunMode(StrEnum):
    evaluate = "evaluate"
    sweep = "sweep"


SPEC_DIGEST_LENGTH = 64


def spec_digest(mode: str, spec: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of a run's mode and spec, with keys sorted: what it computes."""
    canonical = json.dumps({"mode": mode, "spec": spec}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class BenchmarkRunBase(SQLModel):
    scenario_id: str | None = Field(default=None, max_length=120)
    mode: RunMode = Field(
        default=RunMode.evaluate,
        description="'evaluate' the spec, or 'sweep' its tp/pp/dp/micro-batch layouts.",
    )
    title: str = Field(default="", max_length=300)
    hardware: str = Field(default="", max_length=200)
    runner_version: str = Field(default="", max_length=40)
    seed: int = Field(default=0, ge=0, le=SEED_MAX)
    state: RunState = RunState.queued
    progress: float = 0.0
    progress_message: str = Field(default="", max_length=300)
    error: str | None = None
    capability_slugs: list[str] = Field(default_factory=list)
    claim_slugs: list[str] = Field(default_factory=list)
    spec: dict[str, Any] = Field(default_factory=dict)
    result: dict[str, Any] | None = None
    environment: dict[str, Any] = Field(default_factory=dict)
    actor: str = Field(default="", max_length=ACTOR_MAX)
    spec_digest: str | None = Field(
        default=None,
        max_length=SPEC_DIGEST_LENGTH,
        description="SHA-256 of the mode and the spec: runs with the same one compute the same.",
    )
    created_at: dt.datetime = Field(default_factory=utcnow)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class BenchmarkRunCreate(SQLModel):
    """Start a run from a scenario id, or from a spec of your own."""

    scenario_id: str | None = Field(default=None, max_length=120)
    spec: JsonObject | None = None
    mode: RunMode = RunMode.evaluate
    title: str | None = Field(default=None, max_length=300)


class BenchmarkRun(BenchmarkRunBase, table=True):
    __tablename__ = "benchmark_run"
    # What the run lists filter on, newest first (a capability is found through the scenarios
    # that bear on it), and what a token's quota counts.
    __table_args__ = (
        Index("ix_benchmark_run_scenario_id_id", "scenario_id", "id"),
        Index("ix_benchmark_run_state_id", "state", "id"),
        Index("ix_benchmark_run_actor_created_at", "actor", "created_at"),
        # The latest run of a spec, which a finishing run of it may repeat.
        Index("ix_benchmark_run_spec_digest_id", "spec_digest", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    state: RunState = Field(default=RunState.queued, sa_type=EnumText(RunState, 20), index=True)
    mode: RunMode = Field(default=RunMode.evaluate, sa_type=EnumText(RunMode, 20))
    capability_slugs: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    claim_slugs: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # Large results are stored gzip-compressed; reading the column decompresses them.
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(CompressedJSON))
    environment: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    worker_id: str | None = Field(default=None, max_length=120)
    heartbeat_at: dt.datetime | None = None
    cancel_requested: bool = False
    seed: int = seed_field(default=0)
    attempts: int = 0
    # The earlier run of the same spec whose checks this one repeated, figure for figure: it
    # recorded no evidence of its own, since a computation run again confirms nothing new.
    reproduces_run_id: int | None = Field(default=None, foreign_key="benchmark_run.id")


class BenchmarkRunPublic(BenchmarkRunBase):
    id: int
    worker_id: str | None
    cancel_requested: bool
    attempts: int
    reproduces_run_id: int | None = Field(
        default=None,
        description="The earlier run of the same spec whose checks this run repeated, figure "
        "for figure; it then recorded no evidence of its own.",
    )


class BenchmarkWorker(SQLModel, table=True):
    """One worker's sign of life, so every process can tell which workers are alive."""

    __tablename__ = "benchmark_worker"

    worker_id: str = Field(primary_key=True, max_length=120)
    kind: str = Field(default="process", max_length=20)  # "process" or "inprocess"
    state: str = Field(default="idle", max_length=20)  # idle, running, retrying, stopped
    run_id: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    started_at: dt.datetime = Field(default_factory=utcnow)
    last_seen_at: dt.datetime = Field(default_factory=utcnow, index=True)
