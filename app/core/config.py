"""Application settings, read from the environment with the LEDGER_ prefix."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_SECRET = "dev-insecure-secret-change-me"


class Settings(BaseSettings):
    """Every setting the ledger reads; documented in `.env.example`."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./ledger.db"
    secret_key: str = DEVELOPMENT_SECRET
    seed_dir: str = "seed_data"
    host: str = "127.0.0.1"
    port: int = 8000
    # Where readers reach the ledger; absolute links in the Atom feed and JSON-LD use it, never
    # the request's Host header (which any client can set).
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
    )
    workers: int = 1
    # Seconds an idle keep-alive connection stays open. Longer than a client's or a proxy's own
    # idle expiry (httpx 5 s, nginx 75 s, most load balancers 60 s): a server that closes first
    # races the client's next request on that connection, and the request is lost unanswered.
    keep_alive_seconds: int = Field(default=90, ge=1, le=3_600)
    # Run benchmark jobs in a thread of the web process unless a separate `ledger worker` is used.
    inprocess_worker: bool = True
    dask_scheduler: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
    # The run queue's bounds (docs/OPERATIONS.md, "Run limits"). Per token: how many of its
    # runs may wait or run at once, and how many it may submit per minute (else 429).
    runs_queued_per_token: int = Field(default=5, ge=1, le=10_000)
    runs_per_minute_per_token: int = Field(default=10, ge=1, le=10_000)
    # Each run executes in a child process with these limits (RLIMIT_CPU, RLIMIT_AS), per mode.
    run_cpu_seconds_evaluate: int = Field(default=60, ge=1, le=86_400)
    run_cpu_seconds_sweep: int = Field(default=300, ge=1, le=86_400)
    run_memory_mb_evaluate: int = Field(default=1_536, ge=256, le=1_048_576)
    run_memory_mb_sweep: int = Field(default=3_072, ge=256, le=1_048_576)
    # A run that failed this many attempts the same way (killed, or its result not stored) is
    # failed for good instead of requeued.
    run_max_attempts: int = Field(default=3, ge=1, le=100)
    # Results larger than this many bytes of JSON are stored gzip-compressed.
    run_result_compress_bytes: int = Field(default=64_000, ge=1_024, le=2**30)
    # When set, `/metrics` answers only `Authorization: Bearer <this>`, and `/readyz` shows its
    # details (checks, revisions, workers) to it as to any API token; unset, `/metrics` is open.
    metrics_token: SecretStr | None = Field(default=None, min_length=16, max_length=200)
    # Fixes "today" for overdue computations in tests and reproducible exports.
    today: str | None = None

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def refuse_unsafe_production(self) -> "Settings":
        """Refuse development defaults when running in production."""
        weak = self.secret_key == DEVELOPMENT_SECRET or len(self.secret_key) < 32
        if self.env == "production" and weak:
            raise ValueError(
                "LEDGER_SECRET_KEY must be set to a random value of at least 32 characters "
                "when LEDGER_ENV=production"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings."""
    return Settings()


PROJECT_ROOT = Path(__file__).resolve().parents[2]


def seed_folder(seed_dir: Path | None = None) -> Path:
    """Return the seed folder: `seed_dir`, else `LEDGER_SEED_DIR` (default `seed_data`).

    Every seed file is read from here, the verdict rules and the ladder too. A relative folder
    that is not in the working directory is the project's.
    """
    return _seed_folder_named(str(seed_dir or get_settings().seed_dir))


@lru_cache
def _seed_folder_named(name: str) -> Path:
    """Resolve a seed folder once: pages look labels up in it thousands of times a request."""
    folder = Path(name)
    if not folder.is_absolute() and not folder.exists():
        folder = PROJECT_ROOT / folder
    return folder.resolve()
