"""Serve GET responses (JSON reads, rendered pages) from a per-process cache on data versions.

Every write moves a version stored in the database: the ledger's, or the run queue's
(`app.core.versions`). An entry keys on the versions of what it shows, read without I/O on
the event loop and at most `versions.FRESH_S` behind another process's write. An entry is
stored once, with its gzip twin, and served to every client that may share it.
"""

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
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core import versions
from app.core.db import get_engine
from app.core.encoding import accepts_gzip, gzip_etag, matching_tag
from app.core.versions import Shows

_MAX_ENTRIES = 512
_MAX_BYTES = 64 * 1024 * 1024  # pages are larger than JSON lists; bound the memory, not the count
_GZIP_MIN_BYTES = 1024
_lock = threading.Lock()


@dataclass(frozen=True)
class _Entry:
    """One rendered response, with its gzip twin and raw headers prepared once."""

    version: str
    shows: Shows
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
# Per URL: the entry, and the headers the layers between the middleware and the route added
# to it (security headers), seen once on its way out and replayed on every hit.
_outer: dict[str, tuple[_Entry, list[tuple[bytes, bytes]]]] = {}
_OWN_HEADERS = frozenset((b"content-length", b"content-type", b"content-encoding"))


def clear() -> None:
    """Drop every cached response (tests switch databases)."""
    global _stored_bytes
    with _lock:
        _entries.clear()
        _outer.clear()
        _stored_bytes = 0
    versions.watch.reset()


_HEADERS = "ledger.cache.headers"


def _header(scope: Scope, name: bytes) -> bytes | None:
    # A GET's headers as a dictionary, built once per request (the first of a repeated name).
    found = scope.get(_HEADERS)
    if found is None:
        found = scope[_HEADERS] = dict(reversed(scope["headers"]))
    return found.get(name)


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


async def cached_json(
    request: Request,
    build: Callable[[Session], tuple[Any, dict[str, str]]],
    *,
    shows: Shows = Shows.ledger,
) -> Response:
    """Return the JSON for this URL at the versions of what it `shows`, with ETag and 304 support.

    Only a cache miss (or a version read past its staleness bound) goes to a thread.
    """

    def render() -> tuple[bytes, dict[str, str]]:
        with Session(get_engine()) as session:
            payload, more = build(session)
            return orjson.dumps(jsonable_encoder(payload)), more

    return await cached_response(request, render, media_type="application/json", shows=shows)


async def cached_response(
    request: Request,
    render: Callable[[], tuple[bytes, dict[str, str]]],
    *,
    media_type: str,
    unless_cookie: str | None = None,
    shows: Shows = Shows.ledger,
) -> Response:
    """Return this URL's body at the versions of what it `shows`, rendering it (in a thread) on a miss.

    The body must be the same for every client that sends this URL and these htmx headers:
    nothing per user (no CSRF token, no session) may be in it.
    """
    version = (await versions.watch.current()).keys[shows]
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
            shows,
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


def cached_responses(app: Any, inner: ASGIApp) -> ASGIApp:
    """Answer cache hits outside the stack Starlette builds (error handling, input limits,
    compression, security headers); the request ids and metrics sit outside it in turn.

    A hit then costs none of those layers: their headers come with the entry (see below).
    """
    return CachedResponseMiddleware(inner)


class CachedResponseMiddleware:
    """Answer GETs of URLs already in the cache at their current versions, before routing.

    Only URLs that a route validated and rendered once are ever in the cache, so skipping
    FastAPI's parameter handling on a hit loses nothing; a miss goes through as usual. It sits
    outside the layers Starlette builds: the headers they add to an entry's response (the
    security headers) are taken from its first answer on the way out and replayed on hits,
    so those layers must add only headers that are the same for every request of a URL.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        key = cache_key(scope)
        with _lock:
            hit = _entries.get(key)
            outer = _outer.get(key)
        if hit is None or (hit.unless_cookie is not None and _has_cookie(scope, hit.unless_cookie)):
            await self._through(key, scope, receive, send)
            return
        try:
            known = versions.watch.fresh() or await versions.watch.current()
            version = known.keys[hit.shows]
        except OperationalError:
            version = None  # the database is away: the route answers (503), not the cache
        if hit.version != version or outer is None or outer[0] is not hit:
            await self._through(key, scope, receive, send)
            return
        headers = [*hit.raw_headers, *outer[1]]
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

    async def _through(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the app answer; if it stored this URL's entry, keep the headers added to it."""
        started: list[list[tuple[bytes, bytes]]] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                started.append(list(message.get("headers", ())))
            await send(message)

        await self.app(scope, receive, watch)
        if not started:
            return
        with _lock:
            entry = _entries.get(key)
        if entry is None or (b"etag", entry.etag.encode()) not in started[0]:
            return  # not the shared entry's answer (a signed-in editor's page, say)
        own = {name for name, _ in entry.raw_headers} | _OWN_HEADERS
        added = [(name, value) for name, value in started[0] if name.lower() not in own]
        with _lock:
            if len(_outer) > 2 * _MAX_ENTRIES:
                _outer.clear()  # evicted entries' leftovers; live ones come back on a miss
            _outer[key] = (entry, added)
