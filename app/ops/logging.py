"""Structured logging with structlog: JSON lines in production, readable lines in development.

Every record, whether it comes from structlog or from the standard library (Uvicorn, Alembic,
SQLAlchemy), goes through one handler on the root logger, so it gets the same timestamp, level
and context (such as the `request_id` bound by the request-id middleware).
"""

import logging
import sys
import traceback
from typing import Any, Protocol, TextIO

import structlog
from structlog.typing import EventDict, ExcInfo, Processor, WrappedLogger

_HANDLER_MARK = "_ledger_ops_handler"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# A traceback keeps its innermost frames and at most this many characters. Never local
# variables: a 500 holding a huge or deeply nested value once wrote megabytes per error and
# held the event loop long enough to stall /healthz.
MAX_TRACEBACK_FRAMES = 40
MAX_TRACEBACK_CHARS = 16_000
_MAX_MESSAGE_CHARS = 2_000


def _short(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return (
        f"{text[: limit // 2]}\n... [{len(text) - limit} characters cut] ...\n{text[-limit // 2 :]}"
    )


def format_bounded_traceback(exc_info: ExcInfo) -> str:
    """Format an exception without locals, keeping the innermost frames and a bounded size."""
    _type, value, tb = exc_info
    if value is None:
        return ""
    lines = traceback.format_exception(
        type(value), value, tb, limit=-MAX_TRACEBACK_FRAMES, chain=True
    )
    # An exception's own message may embed a huge value: cut each piece before joining.
    return _short("".join(_short(line, _MAX_MESSAGE_CHARS) for line in lines), MAX_TRACEBACK_CHARS)


def _write_bounded_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    sio.write("\n" + format_bounded_traceback(exc_info))


class LoggingSettings(Protocol):
    """The part of the settings that logging reads."""

    log_level: str
    log_json: bool


def _uvicorn_access_fields(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    """Turn Uvicorn's access-log arguments into fields (client, method, path, status)."""
    record = event_dict.get("_record")
    args = event_dict.pop("positional_args", None)
    is_access = record is not None and record.name == "uvicorn.access"
    if is_access and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        event_dict.update(
            client=client,
            method=method,
            path=path,
            http_version=http_version,
            status=status,
        )
        event_dict["event"] = "request"
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """Route structlog and standard-library logs through one formatter on the root logger.

    Safe to call more than once (each app instance calls it): the handler installed by an
    earlier call is replaced, handlers installed by others (pytest's caplog) are kept.
    """
    level = logging.getLevelName(str(settings.log_level).upper())
    if not isinstance(level, int):
        level = logging.INFO
    shared = _shared_processors()
    renderer: Processor
    if settings.log_json:
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.ExceptionRenderer(format_bounded_traceback),
            renderer,
        ]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=_write_bounded_traceback
        )
        final = [structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _uvicorn_access_fields],
        processors=final,
        pass_foreign_args=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    setattr(handler, _HANDLER_MARK, True)

    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, _HANDLER_MARK, False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Uvicorn installs its own handlers; send its records through ours instead.
    for name in _UVICORN_LOGGERS:
        uv = logging.getLogger(name)
        uv.handlers.clear()
        uv.propagate = True
        uv.setLevel(level)


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """Return a structlog logger bound to `initial` values."""
    return structlog.get_logger(name, **initial)
