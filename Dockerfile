# syntax=docker/dockerfile:1
# AI Day Ledger: front-end assets built with npm, served by a slim Python runtime.
#
# Build arguments (all optional):
#   PYTHON_IMAGE  base of the Python stages: Debian bookworm with Python 3.11 as `python`
#                 (default: the official python:3.11-slim)
#   NODE_IMAGE    base of the assets stage: any image with node and npm
#                 (default: the official node:20-bookworm-slim)
# `make image-check` passes bases it makes with mmdebstrap from Debian's own packages.
#
# Where HTTPS goes through a local certificate authority, pass its bundle as the `build_ca`
# secret (`--secret id=build_ca,src=/etc/ssl/certs/ca-certificates.crt`): npm and pip trust it
# during their steps only; a secret is never stored in a layer, so the image does not keep it.
ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:20-bookworm-slim

# --- Stage 1: front-end vendor files (htmx, Chart.js) into static/vendor -------------------
FROM ${NODE_IMAGE} AS assets
WORKDIR /src
COPY package.json package-lock.json ./
# `npm ci` runs the postinstall script, which copies the vendor files into static/vendor/.
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build_ca; fi \
    && npm ci --no-audit --no-fund && ls -l static/vendor

# --- Stage 2: Python dependencies in a virtual environment ---------------------------------
FROM ${PYTHON_IMAGE} AS python-deps
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"
WORKDIR /app
# Install the dependencies from pyproject.toml alone (a stub package), so that this layer is
# rebuilt only when the dependencies change, not on every code change.
COPY pyproject.toml ./
RUN --mount=type=secret,id=build_ca \
    if [ -s /run/secrets/build_ca ]; then export PIP_CERT=/run/secrets/build_ca; fi \
    && mkdir app && touch app/__init__.py README.md \
    && pip install "setuptools==80.9.0" "wheel==0.45.1" \
    && pip install . \
    && pip uninstall --yes ai-day-ledger \
    && rm -rf app README.md build ./*.egg-info

# --- Stage 3: runtime ----------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="AI Day Ledger" \
      org.opencontainers.image.description="Claims against evidence for AI hardware announcements"
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LEDGER_ENV=production \
    LEDGER_HOST=0.0.0.0 \
    LEDGER_PORT=8000 \
    LEDGER_LOG_JSON=true \
    LEDGER_DATABASE_URL=sqlite:////data/ledger.db
RUN groupadd --system --gid 10001 ledger \
    && useradd --system --uid 10001 --gid ledger --home-dir /app --shell /usr/sbin/nologin ledger \
    && mkdir -p /data \
    && chown ledger:ledger /data
COPY --from=python-deps /opt/venv /opt/venv
WORKDIR /app
COPY --chown=root:root . .
COPY --from=assets /src/static/vendor ./static/vendor
# Editable install: the code stays in /app next to migrations/, seed_data/ and static/, which
# the app finds relative to its source; this also creates the `ledger` command.
RUN pip install --no-deps --no-build-isolation -e . \
    && chmod 0755 docker/entrypoint.sh \
    && python -m compileall -q app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('LEDGER_PORT', '8000'), timeout=4)"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["serve"]
