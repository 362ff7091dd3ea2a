"""Application settings, read from the environment with the LEDGER_ prefix."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
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
    # Run benchmark jobs in a thread of the web process unless a separate `ledger worker` is used.
    inprocess_worker: bool = True
    dask_scheduler: str | None = None
    log_level: str = "INFO"
    log_json: bool = False
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
