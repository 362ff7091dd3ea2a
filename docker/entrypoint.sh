#!/bin/sh
# Container entrypoint for AI Day Ledger.
#
#   serve (default)  wait for the database, migrate (`ledger db upgrade`), seed an empty
#                    database, then exec Uvicorn with LEDGER_WORKERS processes.
#   worker           wait for the database, migrate, then exec `ledger worker`.
#   anything else    exec'd as given (`ledger export`, `dask scheduler`, `sh`, ...).
#
# Settings (all optional):
#   LEDGER_DB_WAIT_SECONDS  how long to wait for the database (default 60)
#   LEDGER_SEED_ON_START    seed an empty database on start: true|false (default true)
#   LEDGER_WORKERS          Uvicorn worker processes (default 2)
#   LEDGER_HOST, LEDGER_PORT  listen address (default 0.0.0.0:8000)
#   PYTHON                  interpreter for the bootstrap steps (default: python)
set -eu

PYTHON="${PYTHON:-python}"
LEDGER=ledger

log() {
    printf 'entrypoint: %s\n' "$*" >&2
}

wait_and_migrate() {
    log "waiting for the database (up to ${LEDGER_DB_WAIT_SECONDS:-60}s)"
    "$PYTHON" -m app.ops.bootstrap wait-db --timeout "${LEDGER_DB_WAIT_SECONDS:-60}"
    log "migrating the schema to head"
    # The lock makes replicas that start together migrate one after the other (PostgreSQL).
    "$PYTHON" -m app.ops.bootstrap with-lock -- "$LEDGER" db upgrade
}

prepare_metrics_dir() {
    # Uvicorn workers share Prometheus metrics through files in this folder; it must start empty.
    if [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
        PROMETHEUS_MULTIPROC_DIR="${TMPDIR:-/tmp}/ledger-metrics-$$"
    fi
    rm -rf "$PROMETHEUS_MULTIPROC_DIR"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
    export PROMETHEUS_MULTIPROC_DIR
}

command="${1:-serve}"
case "$command" in
    serve)
        if [ "$#" -gt 0 ]; then shift; fi
        # First: every Python step below may load the metrics, which need this folder.
        prepare_metrics_dir
        wait_and_migrate
        case "${LEDGER_SEED_ON_START:-true}" in
            true | 1 | yes)
                "$PYTHON" -m app.ops.bootstrap seed-if-empty
                ;;
            *)
                log "LEDGER_SEED_ON_START=${LEDGER_SEED_ON_START}; not seeding"
                ;;
        esac
        log "serving on ${LEDGER_HOST:-0.0.0.0}:${LEDGER_PORT:-8000} with ${LEDGER_WORKERS:-2} workers"
        exec "$LEDGER" serve \
            --host "${LEDGER_HOST:-0.0.0.0}" \
            --port "${LEDGER_PORT:-8000}" \
            --workers "${LEDGER_WORKERS:-2}" \
            "$@"
        ;;
    worker)
        shift
        wait_and_migrate
        log "starting the benchmark worker"
        exec "$LEDGER" worker "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
