"""Serve GET responses (JSON reads, rendered pages) from a per-process cache on the data version.

Every write bumps the data version stored in the database, so several processes never
serve stale data: each reads the version (one primary-key row) before using its cache.
An entry is stored once, with its gzip twin, and served to every client that may share it.
"""

import contextlib
import gzip
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
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.db import get_engine
from app.core.encoding import accepts_gzip, gzip_etag, matching_tag
from app.status.snapshot import today

_MAX_ENTRIES = 512
_MAX_BYTES = 64 * 1024 * 1024  # pages are larger than JSON lists; bound the memory, not the count
_GZIP_MIN_BYTES = 1024
_lock = threading.Lock()


@dataclass(frozen=True)
class _Entry:
    """One rendered response, with its gzip twin and raw headers prepared once."""

    version: str
    body: bytes
    gzipped: bytes | None
    media_type: str
    extra: dict[str, str]
    etag: str
    raw_headers: list[tuple[bytes, bytes]]
    # Served from the middleware only to requests without this cookie (a signed-in browser
    # may need its own rendering); None: shared by everyone.
    unless_cookie: bytes | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


def _etag(key: str, version: str) -> str:
    return '"' + hashlib.sha1(f"{key}|{version}".encode()).hexdigest()[:20] + '"'


_entries: "OrderedDict[str, _Entry]" = OrderedDict()
_stored_bytes = 0
_VERSION_SQL_TEXT = "SELECT counter FROM data_version WHERE id = 1"


def clear() -> None:
    """Drop every cached response (tests switch databases)."""
    global _stored_bytes
    with _lock:
        _entries.clear()
        _stored_bytes = 0
    _probe.close()


def _header(scope: Scope, name: bytes) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == name), None)


def cache_key(scope: Scope) -> str:
    """Return the cache key of a GET: its URL, and which htmx fragment it asks for, if any.

    The host is part of it: a page may print absolute URLs (ClaimReview), and one client's
    Host header must never end up in the page served to everyone else.
    """
    host = (_header(scope, b"host") or b"").decode("latin-1")
    key = host + scope["path"] + "?" + scope.get("query_string", b"").decode("latin-1")
    if (
        _header(scope, b"hx-request") == b"true"
        and _header(scope, b"hx-history-restore-request") != b"true"
    ):
        key += "|hx:" + (_header(scope, b"hx-target") or b"").decode("latin-1")
    return key


def _accepts_gzip(scope: Scope) -> bool:
    return accepts_gzip(_header(scope, b"accept-encoding"))


def _has_cookie(scope: Scope, cookie: bytes) -> bool:
    return cookie + b"=" in (_header(scope, b"cookie") or b"")


def _store(key: str, entry: _Entry) -> None:
    global _stored_bytes
    with _lock:
        old = _entries.pop(key, None)
        if old is not None:
            _stored_bytes -= old.size
        _entries[key] = entry
        _stored_bytes += entry.size
        while _entries and (len(_entries) > _MAX_ENTRIES or _stored_bytes > _MAX_BYTES):
            _stored_bytes -= _entries.popitem(last=False)[1].size


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
            except engine.dialect.loaded_dbapi.Error as exc:
                self.close()  # the server dropped us (restart, failover): reconnect once
                if attempt:
                    # As SQLAlchemy's error, so an outage answers 503 like any other query.
                    raise OperationalError(_VERSION_SQL_TEXT, None, exc) from exc
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

    def render() -> tuple[bytes, dict[str, str]]:
        with Session(get_engine()) as session:
            payload, more = build(session)
            return orjson.dumps(jsonable_encoder(payload)), more

    return await cached_response(request, render, media_type="application/json")


async def cached_response(
    request: Request,
    render: Callable[[], tuple[bytes, dict[str, str]]],
    *,
    media_type: str,
    unless_cookie: str | None = None,
) -> Response:
    """Return this URL's body at the current data version, rendering it (in a thread) on a miss.

    The body must be the same for every client that sends this URL and these htmx headers:
    nothing per user (no CSRF token, no session) may be in it.
    """
    version = _version_key(request.app)
    key = cache_key(request.scope)
    etag = _etag(key, version)
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    held = matching_tag(request.headers.get("if-none-match"), etag)
    if held is not None:
        # The client holds this version in one coding or the other; the 304 names that one.
        return Response(status_code=304, headers={**headers, "ETag": held})
    with _lock:
        hit = _entries.get(key)
    if hit is None or hit.version != version:
        body, extra = await run_in_threadpool(render)
        zipped = (
            await run_in_threadpool(gzip.compress, body, 6, mtime=0)
            if len(body) >= _GZIP_MIN_BYTES
            else None
        )
        raw = [(k.lower().encode(), v.encode()) for k, v in {**headers, **extra}.items()]
        hit = _Entry(
            version,
            body,
            zipped,
            media_type,
            extra,
            etag,
            raw,
            unless_cookie.encode() if unless_cookie else None,
        )
        _store(key, hit)
    response = Response(content=hit.body, media_type=media_type, headers={**headers, **hit.extra})
    if hit.gzipped is not None and _accepts_gzip(request.scope):
        response.body = hit.gzipped
        response.headers["content-encoding"] = "gzip"
        response.headers["content-length"] = str(len(hit.gzipped))
        response.headers["ETag"] = gzip_etag(hit.etag)
    return response


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
        with _lock:
            hit = _entries.get(cache_key(scope))
        if hit is None or (hit.unless_cookie is not None and _has_cookie(scope, hit.unless_cookie)):
            await self.app(scope, receive, send)
            return
        try:
            version = _version_key(scope["app"])
        except OperationalError:
            version = None  # the database is away: the route answers (503), not the cache
        if hit.version != version:
            await self.app(scope, receive, send)
            return
        headers = list(hit.raw_headers)
        gzipped = hit.gzipped is not None and _accepts_gzip(scope)
        inm = _header(scope, b"if-none-match")
        held = matching_tag(inm.decode("latin-1"), hit.etag) if inm is not None else None
        if gzipped or held is not None:
            # The gzip body has its own ETag; a 304 names the one the client holds.
            tag = (held or gzip_etag(hit.etag)).encode()
            headers = [(k, tag if k == b"etag" else v) for k, v in headers]
        if held is not None:
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        body = hit.body
        if gzipped:
            assert hit.gzipped is not None
            body = hit.gzipped
            headers.append((b"content-encoding", b"gzip"))
        headers += [
            (b"content-type", hit.media_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
