"""Production refuses the development secret; the bootstrap steps refuse to start with it."""

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from app.core.config import DEVELOPMENT_SECRET, Settings
from tests.ops.helpers import ROOT


@pytest.fixture(autouse=True)
def no_ledger_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LEDGER_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("secret", [DEVELOPMENT_SECRET, "short-but-not-default"])
def test_production_refuses_a_weak_or_default_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="LEDGER_SECRET_KEY"):
        Settings(_env_file=None, env="production", secret_key=secret)  # type: ignore[call-arg]


def test_production_refuses_the_default_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_ENV", "production")
    with pytest.raises(ValidationError, match="LEDGER_SECRET_KEY"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_production_accepts_a_long_random_secret() -> None:
    settings = Settings(_env_file=None, env="production", secret_key="k" * 16 + "9f3a" * 5)  # type: ignore[call-arg]
    assert settings.env == "production"


def test_development_runs_with_the_default() -> None:
    assert Settings(_env_file=None).secret_key == DEVELOPMENT_SECRET  # type: ignore[call-arg]


def test_container_start_up_refuses_the_default_secret(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        LEDGER_ENV="production",
        LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
    )
    result = subprocess.run(
        [sys.executable, "-m", "app.ops.bootstrap", "wait-db", "--timeout", "1"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LEDGER_SECRET_KEY" in result.stderr
