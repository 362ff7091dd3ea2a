""".env.example documents every setting, and no secret is committed."""

import re
import subprocess

from app.core.config import Settings
from tests.ops.helpers import ROOT

ENV_EXAMPLE = ROOT / ".env.example"
# `NAME=value` lines, commented out or not.
DOCUMENTED = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$", re.MULTILINE)
SECRETS = ("LEDGER_SECRET_KEY", "POSTGRES_PASSWORD")


def documented() -> dict[str, str]:
    return {m.group(1): m.group(2).strip() for m in DOCUMENTED.finditer(ENV_EXAMPLE.read_text())}


def test_every_settings_field_is_documented() -> None:
    names = documented()
    missing = [
        f"LEDGER_{field.upper()}"
        for field in Settings.model_fields
        if f"LEDGER_{field.upper()}" not in names
    ]
    assert not missing, f".env.example does not document {missing}"


def test_every_compose_and_entrypoint_variable_is_documented() -> None:
    names = documented()
    compose = (ROOT / "docker-compose.yml").read_text()
    entrypoint = (ROOT / "docker" / "entrypoint.sh").read_text()
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)[:}?-]", compose))
    used |= set(re.findall(r"\$\{(LEDGER_[A-Z0-9_]*)[:}?-]", entrypoint))
    assert used, "expected ${...} variables in docker-compose.yml"
    missing = sorted(used - set(names))
    assert not missing, f".env.example does not document {missing}"


def test_no_secret_value_is_committed() -> None:
    names = documented()
    for secret in SECRETS:
        assert names.get(secret) == "", f"{secret} must be left empty in .env.example"
    compose = (ROOT / "docker-compose.yml").read_text()
    for secret in SECRETS:
        # Mandatory, with no default: `${NAME:?message}`.
        assert re.search(r"\$\{" + secret + r":\?[^}]+\}", compose), secret
        assert not re.search(r"\$\{" + secret + r":-", compose), f"{secret} has a default"


def test_env_files_never_reach_git_or_the_image() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False
    ).returncode
    assert ignored == 0, ".env must be in .gitignore"
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore and "!.env.example" in dockerignore
