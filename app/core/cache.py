"""Serve GET responses from a per-process cache keyed on the data version.

Every write bumps the data version stored in the database, so several processes never
serve stale data: each checks the version (one primary-key read) before using its cache.
"""

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.encoders import jsonable_encoder
from sqlmodel import Session

from app.capabilities.snapshot import today
from app.history.service import data_version

_MAX_ENTRIES = 512
_lock = threading.Lock()
_entries: "OrderedDict[str, tuple[str, bytes, dict[str, str]]]" = OrderedDict()


def clear() -> None:
    """Drop every cached response (tests switch databases)."""
    with _lock:
        _entries.clear()


def cached_json(
    request: Request,
    session: Session,
    build: Callable[[], tuple[Any, dict[str, str]]],
) -> Response:
    """Return the JSON for this URL at the current data version, with ETag and 304 support."""
    version = f"{data_version(session)}:{today().isoformat()}:{request.app.state.cache_salt}"
    key = str(request.url.path) + "?" + str(request.url.query)
    etag = '"' + hashlib.sha1(f"{key}|{version}".encode()).hexdigest()[:20] + '"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    with _lock:
        hit = _entries.get(key)
    if hit is not None and hit[0] == version:
        body, extra = hit[1], hit[2]
    else:
        payload, extra = build()
        body = orjson.dumps(jsonable_encoder(payload))
        with _lock:
            _entries[key] = (version, body, extra)
            _entries.move_to_end(key)
            while len(_entries) > _MAX_ENTRIES:
                _entries.popitem(last=False)
    return Response(content=body, media_type="application/json", headers={**headers, **extra})
