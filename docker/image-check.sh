#!/usr/bin/env bash
# `make image-check`: build the image and run it, with no Docker engine and no Docker Hub.
#
#   1. Tools: buildah, podman, runc and mmdebstrap from Debian (apt-get, as .ci/run installs
#      Chromium); podman-compose from pyproject's dev extras (make setup).
#   2. Base images made from Debian's own packages with mmdebstrap, from the mirror apt uses
#      here: Python 3.11 (PYTHON_IMAGE) and Node.js with npm (NODE_IMAGE).
#   3. The image, built by buildah (chroot isolation, vfs storage) from the Dockerfile with
#      those bases as build arguments. The host's CA bundle is a build secret: npm and pip
#      trust it during their steps, and the check proves the image does not keep it.
#   4. The container on a throwaway database of the local PostgreSQL: /readyz (and how long
#      it took to migrate, seed and be ready), a page, an API write with a token, and a run of
#      a bundled scenario finishing.
#   5. The compose stack (app and worker, no `db` profile) with podman-compose against another
#      throwaway database: the same checks, the run executed by the worker service.
#   6. Everything torn down: containers, images, the storage and the databases.
#
# Settings (environment, all optional):
#   IMAGE_CHECK_POSTGRES_URL  an admin URL of the PostgreSQL to use (default:
#                             $LEDGER_TEST_POSTGRES_URL, else postgres@127.0.0.1:5432)
#   IMAGE_CHECK_CA_BUNDLE     CA bundle for the build steps (default: the host's, if present)
#   IMAGE_CHECK_BASE_MAX_AGE_DAYS  reuse base root filesystems made at most this many days
#                             ago (default 7; 0 makes them again every time)
#   IMAGE_CHECK_KEEP=1        keep the image and the storage afterwards (for debugging)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CONF="$ROOT/docker/image-check"
PYTHON="$ROOT/.venv/bin/python"
PODMAN_COMPOSE="$ROOT/.venv/bin/podman-compose"

export CONTAINERS_STORAGE_CONF="$CONF/storage.conf"
export CONTAINERS_CONF="$CONF/containers.conf"
export BUILDAH_ISOLATION=chroot
STORAGE_ROOT=/var/lib/ai-day-ledger-image-check
RUN_ROOT=/run/ai-day-ledger-image-check
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/ai-day-ledger/image-check"

SUITE=bookworm
PYTHON_BASE=localhost/ai-day-ledger-base/python:3.11-$SUITE
NODE_BASE=localhost/ai-day-ledger-base/node:$SUITE
IMAGE=localhost/ai-day-ledger:image-check
PROJECT=ledger-image-check
CONTAINER=$PROJECT-app
ADMIN_URL="${IMAGE_CHECK_POSTGRES_URL:-${LEDGER_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}}"
SECONDS=0

say() { printf '== image-check [%3ss] %s\n' "$SECONDS" "$*"; }
probe() { "$PYTHON" "$CONF/probe.py" "$@"; }

# --- 1. tools ---------------------------------------------------------------------------
if [ "$(id -u)" != 0 ]; then
    echo "image-check: run as root (buildah's chroot isolation and mmdebstrap's root mode)" >&2
    exit 2
fi
missing=()
for tool in buildah podman runc mmdebstrap; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        buildah podman runc mmdebstrap uidmap >/dev/null
fi
if [ ! -x "$PODMAN_COMPOSE" ] || [ ! -x "$PYTHON" ]; then
    echo "image-check: .venv lacks podman-compose; run \`make setup\` first" >&2
    exit 2
fi

# One check at a time on a machine: the storage and the container names are fixed.
exec 9>/run/lock/ai-day-ledger-image-check.lock
flock 9

DATABASES=()
compose_containers() {
    podman ps --all --filter "label=io.podman.compose.project=$PROJECT" "$@"
}
service_container() {
    compose_containers --filter "label=com.docker.compose.service=$1" --format '{{.Names}}'
}
remove_everything() {
    podman rm --force --time 30 "$CONTAINER" >/dev/null 2>&1
    compose_containers --quiet | xargs -r podman rm --force --time 30 >/dev/null 2>&1
    for db in "${DATABASES[@]}"; do probe dropdb "$ADMIN_URL" "$db"; done
    DATABASES=()
    if [ "${IMAGE_CHECK_KEEP:-0}" != 1 ]; then
        podman rmi --all --force >/dev/null 2>&1
        rm -rf "$STORAGE_ROOT" "$RUN_ROOT"
    fi
}
cleanup() {
    status=$?
    set +e
    if [ "$status" != 0 ]; then
        say "FAILED; the containers' last log lines:"
        for name in "$CONTAINER" $(compose_containers --format '{{.Names}}' 2>/dev/null); do
            podman container exists "$name" || continue
            echo "--- $name"
            podman logs --tail 30 "$name" 2>&1
        done
    fi
    remove_everything
    say "torn down (exit $status)"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 2. base images ---------------------------------------------------------------------
# The mirror (and suites) apt uses here; Debian's own otherwise.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    MIRROR=/etc/apt/sources.list.d/debian.sources
elif [ -s /etc/apt/sources.list ]; then
    MIRROR=/etc/apt/sources.list
else
    MIRROR="deb http://deb.debian.org/debian $SUITE main"
fi
MMDEBSTRAP_OPTIONS=(
    --variant=minbase
    --aptopt='Acquire::Languages "none"'
    --dpkgopt=force-unsafe-io
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
)
# name, packages: what the official python:3.11-slim and node:20-bookworm-slim give the
# Dockerfile (`python` is Python 3.11 with venv; node with npm), from Debian's packages.
declare -A PACKAGES=(
    [python]=python3,python3-venv,python-is-python3,ca-certificates,passwd
    [node]=nodejs,npm,ca-certificates
)
declare -A TAGS=([python]=$PYTHON_BASE [node]=$NODE_BASE)

make_base() {
    local name=$1 key tarball
    key=$(printf '%s\n' "$SUITE" "${PACKAGES[$name]}" "${MMDEBSTRAP_OPTIONS[@]}" \
        "$(cat "$MIRROR" 2>/dev/null || echo "$MIRROR")" | sha256sum | cut -c1-16)
    tarball="$CACHE/$name-$SUITE-$key.tar"
    if [ -n "$(find "$tarball" -mtime "-${IMAGE_CHECK_BASE_MAX_AGE_DAYS:-7}" 2>/dev/null)" ]; then
        echo "reusing $tarball"
    else
        rm -rf "$CACHE/$name-$SUITE-"*.tar "$CACHE/$name-$SUITE-"*.part
        mmdebstrap "${MMDEBSTRAP_OPTIONS[@]}" --format=tar --include="${PACKAGES[$name]}" \
            "$SUITE" "$tarball.part" "$MIRROR"
        mv "$tarball.part" "$tarball"
    fi
    podman import --quiet "$tarball" "${TAGS[$name]}"
}

say "base images with mmdebstrap from $MIRROR"
mkdir -p "$CACHE"
remove_everything # what an interrupted check may have left
make_base python >"$CACHE/python.log" 2>&1 &
python_job=$!
make_base node >"$CACHE/node.log" 2>&1 &
node_job=$!
# Wait for both (none is left running behind the check), then look at how they ended.
failed=0
for job in "python:$python_job" "node:$node_job"; do
    wait "${job#*:}" || { failed=1; tail -20 "$CACHE/${job%%:*}.log" >&2; }
done
[ "$failed" = 0 ] || exit 1
grep -h reusing "$CACHE/python.log" "$CACHE/node.log" || true
say "bases ready"

# --- 3. the image -----------------------------------------------------------------------
BUILD_SECRET=()
CA="${IMAGE_CHECK_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
if [ -s "$CA" ]; then
    BUILD_SECRET=(--secret "id=build_ca,src=$CA")
fi
build_started=$SECONDS
buildah bud --pull=never --isolation chroot \
    --build-arg "PYTHON_IMAGE=$PYTHON_BASE" --build-arg "NODE_IMAGE=$NODE_BASE" \
    "${BUILD_SECRET[@]}" --tag "$IMAGE" . >"$CACHE/build.log" 2>&1 \
    || { tail -40 "$CACHE/build.log" >&2; exit 1; }
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "image built in $((SECONDS - build_started)) s: $IMAGE, $((size / 1000000)) MB"

# The image keeps no CA that only this machine trusts (certificates added under
# /usr/local/share/ca-certificates, as a local HTTPS proxy's is): one line of each is searched
# for in every file of the image that could hold a CA (grep: 0 found, 1 not found).
patterns=()
for cert in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$cert" ] && patterns+=(-e "$(sed -n '2p' "$cert")")
done
if [ "${#patterns[@]}" -gt 0 ]; then
    status=0
    podman run --rm --user 0 --entrypoint grep "$IMAGE" -rqsF "${patterns[@]}" \
        /etc /opt /app /usr/lib/ssl /usr/share/ca-certificates /usr/local || status=$?
    if [ "$status" != 1 ]; then
        echo "image-check: the image keeps a CA of this machine's (grep exit $status)" >&2
        exit 1
    fi
    say "the image keeps none of this machine's $((${#patterns[@]} / 2)) local CAs"
fi

# --- 4. the container on a throwaway database ---------------------------------------------
# Sets DATABASE_URL to a new, empty database (named in DATABASES, which the teardown drops).
new_database() {
    local name
    name="ledger_image_check_$(date +%s)_$RANDOM"
    DATABASES+=("$name")
    DATABASE_URL=$(probe createdb "$ADMIN_URL" "$name")
}
SECRET=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(48))')

new_database
PORT=$(probe free-port)
say "running the image on 127.0.0.1:$PORT"
created=$SECONDS
podman run --detach --name "$CONTAINER" --hostname "$CONTAINER" --network host --memory 1g \
    -e LEDGER_DATABASE_URL="$DATABASE_URL" -e LEDGER_SECRET_KEY="$SECRET" \
    -e LEDGER_HOST=127.0.0.1 -e LEDGER_PORT="$PORT" -e LEDGER_WORKERS=2 \
    -e LEDGER_INPROCESS_WORKER=true "$IMAGE" >/dev/null
say "container created and started in $((SECONDS - created)) s (vfs copies the image)"
probe wait "http://127.0.0.1:$PORT" --since "$(podman inspect --format '{{.State.StartedAt.Unix}}' "$CONTAINER")"
TOKEN=$(podman exec "$CONTAINER" ledger token create image-check --scope write 2>/dev/null)
probe check "http://127.0.0.1:$PORT" --token "$TOKEN" --worker "$CONTAINER"
podman rm -f -t 30 "$CONTAINER" >/dev/null

# --- 5. the compose stack (app and worker) against the local PostgreSQL -------------------
new_database
PORT=$(probe free-port)
say "podman-compose: app and worker on 127.0.0.1:$PORT"
compose() {
    LEDGER_DATABASE_URL="$DATABASE_URL" LEDGER_SECRET_KEY="$SECRET" COMPOSE_PROFILES='' \
        LEDGER_IMAGE_TAG=image-check IMAGE_CHECK_PORT="$PORT" \
        "$PODMAN_COMPOSE" --env-file /dev/null --in-pod false -p "$PROJECT" \
        -f docker-compose.yml -f "$CONF/compose.yml" "$@"
}
created=$SECONDS
compose up --detach --no-build >"$CACHE/compose.log" 2>&1 \
    || { tail -40 "$CACHE/compose.log" >&2; exit 1; }
for service in app worker; do
    [ -n "$(service_container "$service")" ] \
        || { echo "image-check: podman-compose did not start $service" >&2; exit 1; }
done
say "compose up took $((SECONDS - created)) s"
started=$(podman inspect --format '{{.State.StartedAt.Unix}}' "$(service_container app)")
probe wait "http://127.0.0.1:$PORT" --since "$started"
TOKEN=$(podman exec "$(service_container app)" ledger token create image-check --scope write 2>/dev/null)
# The app runs no run itself (LEDGER_INPROCESS_WORKER=false): the worker service must.
probe check "http://127.0.0.1:$PORT" --token "$TOKEN" --worker ledger-image-check-worker
compose down --timeout 30 >>"$CACHE/compose.log" 2>&1
[ -z "$(compose_containers --quiet)" ] \
    || { echo "image-check: podman-compose down left containers" >&2; exit 1; }

say "passed: image $((size / 1000000)) MB"
