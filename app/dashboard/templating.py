"""Templates, filters and the full-page-or-block rendering rule shared by every page."""

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup
from sqlmodel import Session
from starlette.responses import Response

from app.core import as_of, cache
from app.core.assets import STATIC_DIR, static_url
from app.core.db import get_engine
from app.core.schema import LEVEL_RANK, Level, shown_date
from app.core.versions import Shows
from app.dashboard import auth
from app.evidence.checks import is_check
from app.status.rules import load_ladder
from app.status.verdicts import load_rules

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
templates = Jinja2Blocks(directory=str(PROJECT_ROOT / "templates"))
env = templates.env


class SeedLabels(Mapping[str, str]):
    """Labels read from the seed folder's files, so LEDGER_SEED_DIR moves them.

    The files are read once per process and folder (app.status.rules, app.status.verdicts);
    the labels are picked from them once per file read, not on every lookup.
    """

    def __init__(self, load: Callable[[], Any], pick: Callable[[Any], Mapping[str, str]]) -> None:
        self._load = load
        self._pick = pick
        self._picked: tuple[object, Mapping[str, str]] | None = None

    def _labels(self) -> Mapping[str, str]:
        source = self._load()
        picked = self._picked
        if picked is None or picked[0] is not source:
            picked = (source, self._pick(source))
            self._picked = picked
        return picked[1]

    def __getitem__(self, code: str) -> str:
        return self._labels()[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels())

    def __len__(self) -> int:
        return len(self._labels())


def _lowered(labels: Mapping[str, str]) -> dict[str, str]:
    """Return labels as they read inside a sentence ("searched, not found")."""
    return {code: label[:1].lower() + label[1:] for code, label in labels.items()}


LEVEL_LABELS = SeedLabels(load_ladder, lambda ladder: ladder.labels)
LADDER = [level.value for level in Level]
# In the order the verdicts are tried: a new verdict appears by itself.
VERDICT_LABELS = SeedLabels(load_rules, lambda rules: rules.verdict_labels)
STANCE_LABELS = SeedLabels(load_rules, lambda rules: _lowered(rules.stance_labels))
PROMISE_LABELS = SeedLabels(load_rules, lambda rules: rules.promise_labels)
ORIGIN_LABELS = SeedLabels(load_rules, lambda rules: rules.origin_labels)
GRADE_LABELS = {
    "P": "P · Tesla-authored",
    "S": "S · secondary source",
    "F": "F · forum only",
    "D": "D · own arithmetic",
}


def dated(url: str) -> str:
    """Return a link that keeps the day this page shows the ledger as of (?as_of=)."""
    day = as_of.current()
    if day is None:
        return url
    path, _, fragment = url.partition("#")
    joined = f"{path}{'&' if '?' in path else '?'}as_of={day.isoformat()}"
    return joined + (f"#{fragment}" if fragment else "")


def level_label(code: str | None) -> str:
    """Return the human label of a ladder level."""
    return LEVEL_LABELS.get(code or "not_assessed", code or "")


def level_rank(code: str | None) -> int:
    """Return the rank of a ladder level (0 = not assessed)."""
    try:
        return LEVEL_RANK[Level(code or "not_assessed")]
    except ValueError:
        return 0


def humanize(code: str | None) -> str:
    """Turn a snake_case code into words."""
    return (code or "").replace("_", " ")


def fmt_number(value: float | int | None, digits: int = 6) -> str:
    """Format a figure with grouped digits, at most `digits` significant, never in e-notation."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if float(value).is_integer() and abs(value) < 10**digits:
        return f"{int(value):,}"
    rounded = Decimal(repr(float(value)))
    if rounded:
        rounded = round(rounded, max(0, digits - 1 - rounded.adjusted()))
    text = f"{rounded:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_date(value: dt.date | dt.datetime | str | None, precision: str | None = "day") -> str:
    """Format a date as precisely as its source gives it: 2021-08-19, Aug 2021 or 2021."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return shown_date(value, precision or "day")


def video_link(url: str | None, offset: int | None) -> str | None:
    """Return the source URL pointing at the video time offset, when there is one."""
    if not url:
        return None
    if not offset:
        return url
    parts = urlsplit(url)
    if "youtube.com" in parts.netloc or "youtu.be" in parts.netloc:
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "t"] + [("t", f"{offset}s")]
        return urlunsplit(parts._replace(query=urlencode(query)))
    return urlunsplit(parts._replace(fragment=f"t={offset}"))


def fmt_offset(offset: int | None) -> str:
    """Format a video offset in seconds as h:mm:ss."""
    if not offset:
        return ""
    hours, rest = divmod(offset, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def json_script(data: Any) -> Markup:
    """Serialise data for a `<script type="application/json">` block, safe against `</script>`."""
    text = json.dumps(data, default=str, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def json_attr(data: Any) -> str:
    """Serialise data for a data-* attribute; autoescaping makes it safe inside the quotes."""
    return json.dumps(data, default=str, ensure_ascii=False, separators=(",", ":"))


def query_with(request: Request, **changes: Any) -> str:
    """Return the current query string with some parameters replaced (None removes them)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return ("?" + urlencode(params)) if params else "?"


@lru_cache(maxsize=1)
def inline_css() -> tuple[Markup, str]:
    """Return the stylesheet to inline in every page, and its CSP source ('sha256-…').

    Inlined, it does not block the first paint on a round trip; the hash keeps the CSP strict.
    """
    text = (STATIC_DIR / "css" / "app.css").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return Markup(text), f"'sha256-{digest}'"


env.filters.update(
    level_label=level_label,
    level_rank=level_rank,
    humanize=humanize,
    num=fmt_number,
    date=fmt_date,
    offset=fmt_offset,
    json_script=json_script,
    json_attr=json_attr,
)
env.globals.update(
    LADDER=LADDER,
    LEVEL_LABELS=LEVEL_LABELS,
    GRADE_LABELS=GRADE_LABELS,
    VERDICT_LABELS=VERDICT_LABELS,
    STANCE_LABELS=STANCE_LABELS,
    PROMISE_LABELS=PROMISE_LABELS,
    ORIGIN_LABELS=ORIGIN_LABELS,
    video_link=video_link,
    is_check=is_check,
    query_with=query_with,
    static_url=static_url,
    dated=dated,
    as_of_day=as_of.current,
    inline_css=lambda: inline_css()[0],
)


def is_fragment_request(request: Request, target: str | None = None) -> bool:
    """Return whether htmx asked for a part of the page (never on a history restore)."""
    if request.headers.get("hx-request") != "true":
        return False
    if request.headers.get("hx-history-restore-request") == "true":
        return False
    return target is None or request.headers.get("hx-target") == target


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    """Render a full page, or only `block` of it when given (for htmx swaps)."""
    context = {**auth.template_context(request), **context}
    if block is not None:
        response = templates.TemplateResponse(
            request, name, context, block_name=block, status_code=status_code
        )
    else:
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Vary"] = "HX-Request, HX-Target, Cookie"
    response.headers["Cache-Control"] = "private, no-cache"
    auth.attach_session(request, response)
    return response


class _NoCsrfToken:
    """Stands in for the CSRF token on a shared page: printing it would leak it, so it raises."""

    def __html__(self) -> str:
        raise RuntimeError("a page from the shared cache must not carry a CSRF token")

    __str__ = __html__


SHARED_CONTEXT: dict[str, Any] = {
    "csrf_token": _NoCsrfToken(),
    "editor": None,
    "can_edit": False,
    "is_admin": False,
}
HTML = "text/html; charset=utf-8"


def _signed_in(request: Request) -> bool:
    if not hasattr(request.state, "editor"):
        with Session(get_engine()) as session:
            auth.current_editor(request, session)
    return request.state.editor is not None


async def page(
    request: Request,
    name: str,
    build: Callable[[Session], dict[str, Any]],
    *,
    block: str | None = None,
    shows: Shows = Shows.ledger,
) -> Response:
    """Render a read page: one shared, cached copy for readers, a fresh one for an editor.

    `shows` names what the page shows (the ledger, the run queue, or both): its cached copy
    lasts until that changes.

    A browser without the session cookie cannot be signed in, so the cache middleware serves
    it before routing; with a cookie, the session is checked first. A signed-in editor's page
    carries their controls and CSRF token and never enters the shared cache.
    """
    if auth.COOKIE_NAME in request.cookies and await run_in_threadpool(_signed_in, request):

        def personal() -> Response:
            with Session(get_engine()) as session:
                context = {**build(session), "fragment": block is not None}
                return render(request, name, context, block=block)

        return await run_in_threadpool(personal)

    def shared() -> tuple[bytes, dict[str, str]]:
        with Session(get_engine()) as session:
            context = {**build(session), **SHARED_CONTEXT, "fragment": block is not None}
            response = templates.TemplateResponse(request, name, context, block_name=block)
        return bytes(response.body), {"Vary": "HX-Request, HX-Target, Cookie, Accept-Encoding"}

    return await cache.cached_response(
        request, shared, media_type=HTML, unless_cookie=auth.COOKIE_NAME, shows=shows
    )
