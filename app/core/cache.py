"""Serve GET list responses from a per-process cache keyed on the data version.

Every write bumps the data version stored in the database, so several processes never
serve stale data: each reads the version (one primary-key row) before using its cache.
"""

import contextlib
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.db import get_engine
from app.status.snapshot import today

_MAX_ENTRIES = 512
_lock = threading.Lock()


@dataclass(frozen=True)
class _Entry:
    """One rendered response, with its raw headers prepared once."""

    version: str
    body: bytes
    extra: dict[str, str]
    etag: str
    raw_headers: list[tuple[bytes, bytes]]


def _etag(key: str, version: str) -> str:
    return '"' + hashlib.sha1(f"{key}|{version}".encode()).hexdigest()[:20] + '"'


_entries: "OrderedDict[str, _Entry]" = OrderedDict()
_VERSION_SQL_TEXT = "SELECT counter FROM data_version WHERE id = 1"


def clear() -> None:
    """Drop every cached response (tests switch databases)."""
    with _lock:
        _entries.clear()
    _probe.close()


def _autocommit(driver_connection: Any, dialect: str) -> None:
    # Leave no transaction open: a long-lived reader must not pin old snapshots or locks.
    if dialect == "sqlite":
        driver_connection.isolation_level = None
    else:
        driver_connection.autocommit = True


class _VersionProbe:
    """Hold one autocommit DBAPI connection for reading the data version cheaply.

    A pooled checkout costs a ping and a rollback, and SQLAlchemy's execute path several
    times the read itself; this is the hot path of every cached read.
    """

    def __init__(self) -> None:
        self._raw: Any = None
        self._engine: Engine | None = None

    def read(self) -> int:
        engine = get_engine()
        for attempt in range(2):
            try:
                if self._raw is None or self._engine is not engine:
                    self.close()
                    self._raw = engine.raw_connection()
                    _autocommit(self._raw.driver_connection, engine.dialect.name)
                    self._engine = engine
                cursor = self._raw.cursor()
                try:
                    cursor.execute(_VERSION_SQL_TEXT)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
                return int(row[0]) if row else 0
            except engine.dialect.loaded_dbapi.Error:
                self.close()  # the server dropped us (restart, failover): reconnect once
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.invalidate()  # never hand an autocommit connection back to the pool
        self._raw = None


# Only the event-loop thread probes, so one connection per process is enough.
_probe = _VersionProbe()


def _version_key(app: Any) -> str:
    """Return what a cached response must match: data version, day (overdue counts), app."""
    return f"{_probe.read()}:{today().isoformat()}:{app.state.cache_salt}"


async def cached_json(
    request: Request, build: Callable[[Session], tuple[Any, dict[str, str]]]
) -> Response:
    """Return the JSON for this URL at the current data version, with ETag and 304 support.

    The version probe runs on the event loop on purpose: it is one indexed read, far cheaper
    than the thread hand-offs a sync route costs under load. Only a cache miss goes to a thread.
    """
    version = _version_key(request.app)
    key = request.scope["path"] + "?" + request.scope.get("query_string", b"").decode("latin-1")
    etag = _etag(key, version)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    with _lock:
        hit = _entries.get(key)
    if hit is not None and hit.version == version:
        body, extra = hit.body, hit.extra
    else:

        def render() -> tuple[bytes, dict[str, str]]:
            with Session(get_engine()) as session:
                payload, more = build(session)
                return orjson.dumps(jsonable_encoder(payload)), more

        body, extra = await run_in_threadpool(render)
        with _lock:
            raw = [(b"etag", etag.encode()), (b"cache-control", b"no-cache")]
            raw += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
            _entries[key] = _Entry(version, body, extra, etag, raw)
            _entries.move_to_end(key)
            while len(_entries) > _MAX_ENTRIES:
                _entries.popitem(last=False)
    return Response(content=body, media_type="application/json", headers={**headers, **extra})


class CachedResponseMiddleware:
    """Answer GETs of URLs already in the cache at the current data version, before routing.

    Only URLs that a route validated and rendered once are ever in the cache, so skipping
    FastAPI's parameter handling on a hit loses nothing; a miss goes through as usual.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        key = scope["path"] + "?" + scope.get("query_string", b"").decode("latin-1")
        with _lock:
            hit = _entries.get(key)
        if hit is None:
            await self.app(scope, receive, send)
            return
        version = _version_key(scope["app"])
        if hit.version != version:
            await self.app(scope, receive, send)
            return
        headers = list(hit.raw_headers)
        if_none_match = next((v for k, v in scope["headers"] if k == b"if-none-match"), None)
        if if_none_match == hit.etag.encode():
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = hit.body
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
