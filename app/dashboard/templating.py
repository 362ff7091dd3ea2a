"""Templates, filters and the full-page-or-block rendering rule shared by every page."""

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request
from jinja2_fragments.fastapi import Jinja2Blocks
from markupsafe import Markup
from starlette.responses import Response

from app.core.schema import LEVEL_RANK, Level

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
templates = Jinja2Blocks(directory=str(PROJECT_ROOT / "templates"))
env = templates.env

LEVEL_LABELS = {
    "not_assessed": "Not assessed",
    "aspirational": "Aspirational",
    "built": "Built",
    "tested": "Tested",
    "benchmarked": "Benchmarked",
}
LADDER = [level.value for level in Level]
VERDICT_LABELS = {
    "supported": "Supported",
    "contradicted": "Contradicted",
    "disputed": "Disputed",
    "unresolved": "Unresolved",
    "unverified": "Unverified",
}
STANCE_LABELS = {
    "supports": "supports",
    "contradicts": "contradicts",
    "inconclusive": "inconclusive",
    "not_found": "searched, not found",
}
GRADE_LABELS = {
    "P": "P · Tesla-authored",
    "S": "S · secondary source",
    "F": "F · forum only",
    "D": "D · own arithmetic",
}


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


def fmt_number(value: float | int | None) -> str:
    """Format a figure without trailing zeros and with thousands separators."""
    if value is None:
        return ""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.6g}" if abs(value) >= 1 else f"{value:.4g}"


def fmt_date(value: dt.date | dt.datetime | str | None, precision: str | None = "day") -> str:
    """Format a date as precisely as its source gives it: 2021-08-19, Aug 2021 or 2021."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if precision == "year":
        return str(value.year)
    if precision == "month":
        return value.strftime("%b %Y")
    return value.isoformat()


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
    video_link=video_link,
    query_with=query_with,
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
    from app.dashboard import auth

    context = {**auth.template_context(request), **context}
    if block is not None:
        response = templates.TemplateResponse(
            request, name, context, block_name=block, status_code=status_code
        )
    else:
        response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Vary"] = "HX-Request, HX-Target, Cookie"
    auth.attach_session(request, response)
    return response
