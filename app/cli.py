"""The `ledger` command line: serve, db, seed, token, export, import, bench, worker."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from alembic import command
from alembic.config import Config
from sqlmodel import Session

from app.benchmarks.cli import bench_app
from app.core.config import PROJECT_ROOT, get_settings, seed_folder
from app.core.db import get_engine

cli = typer.Typer(
    help="AI Day Ledger: claims against evidence for AI hardware.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for writes.", no_args_is_help=True)
data_app = typer.Typer(help="The sourced seed data.", no_args_is_help=True)
cli.add_typer(db_app, name="db")
cli.add_typer(token_app, name="token")
cli.add_typer(data_app, name="data")


def alembic_config() -> Config:
    """Return the Alembic config pointing at this project's migrations."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))
    return config


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Upgrade the schema (default: to head)."""
    command.upgrade(alembic_config(), revision)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target, e.g. -1 or base.")) -> None:
    """Downgrade the schema."""
    command.downgrade(alembic_config(), revision)


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision."""
    command.current(alembic_config())


@cli.command()
def seed(
    seed_dir: Annotated[Path | None, typer.Option(help="Folder of seed YAML files.")] = None,
) -> None:
    """Load the sourced seed data and queue the bundled scenarios (idempotent)."""
    from app.benchmarks.service import queue_bundled_scenarios
    from app.seed.service import seed as run_seed

    folder = seed_folder(seed_dir)
    with Session(get_engine()) as session:
        added = run_seed(session, folder)
    with Session(get_engine()) as session:
        queued = queue_bundled_scenarios(session)
    typer.echo(json.dumps(added))
    typer.echo(f"queued {len(queued)} runs of the bundled scenarios", err=True)


@data_app.command("check")
def data_check(
    seed_dir: Annotated[Path | None, typer.Option(help="Folder of seed YAML files.")] = None,
) -> None:
    """Validate the seed data; print each problem as file:line and exit 1 if any."""
    from app.seed.check import check

    folder = seed_folder(seed_dir)
    problems = check(folder)
    for problem in problems:
        typer.echo(f"{folder / problem.file}:{problem.line}: {problem.message}", err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {folder}", err=True)
        raise typer.Exit(1)
    typer.echo(f"{folder}: ok")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    workers: Annotated[int | None, typer.Option(help="Uvicorn worker processes.")] = None,
    reload: bool = False,
) -> None:
    """Serve the dashboard and API with Uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        reload=reload,
        proxy_headers=True,
        server_header=False,  # no "server: uvicorn": name nothing an attacker can look up
        timeout_graceful_shutdown=20,
        timeout_keep_alive=settings.keep_alive_seconds,
        # A worker process importing the app on a busy host can take longer than Uvicorn's 5 s
        # default to answer its first health check; it would be killed and restarted forever.
        timeout_worker_healthcheck=60,
    )


@token_app.command("create")
def token_create(
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", help="read, write or admin.")] = ["read"],  # noqa: B006
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from app.auth.service import create_token

    with Session(get_engine()) as session:
        try:
            token, plaintext = create_token(session, name=name, scopes=scope)
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    typer.echo(plaintext)
    typer.echo(f"token {token.prefix} ({token.scopes}) created; it is not shown again.", err=True)


@token_app.command("revoke")
def token_revoke(
    prefix: Annotated[
        str | None, typer.Argument(help="The token's prefix, as `token list` shows it.")
    ] = None,
    token_id: Annotated[
        int | None, typer.Option("--id", help="The token's id instead of its prefix.")
    ] = None,
) -> None:
    """Revoke a token by its prefix, or by its id with --id."""
    from app.auth.service import revoke
    from app.core.errors import ProblemError

    # A prefix is eight hex digits and may be all decimal digits, so it is never read as an id.
    if (prefix is None) == (token_id is None):
        typer.echo("error: give a token prefix or --id, not both.", err=True)
        raise typer.Exit(2)
    with Session(get_engine()) as session:
        try:
            token = revoke(session, token_id=token_id, prefix=prefix)
        except ProblemError as exc:
            typer.echo(f"error: {exc.detail}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"revoked {token.prefix} ({token.name})")


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from app.auth.service import list_tokens

    with Session(get_engine()) as session:
        for t in list_tokens(session):
            state = f"revoked {t.revoked_at}" if t.revoked_at else "active"
            typer.echo(
                f"{t.id}\t{t.prefix}\t{t.name}\t{t.scopes}\t{state}\tlast used {t.last_used_at}"
            )


@cli.command("export")
def export_command(
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write a full JSON dump (every table but tokens and sessions) to a file or stdout."""
    from app.exports.service import ExportFailure, dumps, export_data

    with Session(get_engine()) as session:
        try:
            text = dumps(export_data(session))
        except ExportFailure as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    if output:
        output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


@cli.command("import")
def import_command(source: Path) -> None:
    """Load a JSON dump into an empty database: every row checked, all or nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.exports.service import ImportFailure, import_file

    with Session(get_engine()) as session:
        try:
            counts = import_file(session, source)
        except ImportFailure as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
        except SQLAlchemyError as exc:  # e.g. the schema is not migrated yet
            reason = str(getattr(exc, "orig", exc)).splitlines()[0]
            typer.echo(f"error: {source}: database error: {reason}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(json.dumps(counts))


@cli.command()
def worker(
    poll: Annotated[float, typer.Option(help="Seconds between queue polls.")] = 0.5,
    heartbeat: Annotated[float, typer.Option(help="Seconds between heartbeats.")] = 2.0,
    stale_after: Annotated[float, typer.Option(help="Requeue runs silent this long.")] = 15.0,
) -> None:
    """Execute queued benchmark runs until SIGTERM (the run in hand goes back to the queue)."""
    from app.benchmarks.worker import Worker, run_until_signalled
    from app.ops.logging import configure_logging

    configure_logging(get_settings())
    run_until_signalled(
        Worker(get_engine(), poll_s=poll, heartbeat_s=heartbeat, stale_after_s=stale_after)
    )


cli.add_typer(bench_app, name="bench", help="Simulated hardware workloads.")


def main() -> None:
    """Run the CLI."""
    cli()
