"""Per-route request counts and latencies, recorded by a lean pure-ASGI middleware.

The metric definitions are prometheus-fastapi-instrumentator's own (`metrics.requests()` and
`metrics.latency()`: `http_requests_total{handler,method,status}` and
`http_request_duration_seconds{handler,method}`), so dashboards built for it work unchanged;
each labelled series is looked up once and kept, since `labels()` costs more than the cached
read it would measure.
Its middleware, though, re-matches every route before each request and builds Request and
Response objects; this one reads the route template that the router stores in
`scope["route"]` after dispatch. Requests answered before routing (the response cache of
`app.core.cache`) are matched once per path and remembered.
"""

from collections.abc import Callable, Iterable, Sequence
from time import perf_counter
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_fastapi_instrumentator import metrics as pfi_metrics
from prometheus_fastapi_instrumentator import routing as pfi_routing
from starlette.requests import Request
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Instrumentation = Callable[[pfi_metrics.Info], None]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "none"


class _Requests:
    """`metrics.requests()`: requests by handler, method and status, each series kept."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        self.metric = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            labelnames=("handler", "method", "status"),
            namespace=namespace,
            registry=registry,
        )
        self.series: dict[tuple[str, str, str], Any] = {}

    def __call__(self, info: pfi_metrics.Info) -> None:
        key = (info.modified_handler, info.method, info.modified_status)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = self.metric.labels(*key)
        series.inc()


class _Latency:
    """`metrics.latency(should_include_status=False)`: durations by handler and method."""

    def __init__(self, registry: CollectorRegistry, namespace: str) -> None:
        self.metric = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            labelnames=("handler", "method"),
            buckets=LATENCY_BUCKETS,
            namespace=namespace,
            registry=registry,
        )
        self.series: dict[tuple[str, str], Any] = {}

    def __call__(self, info: pfi_metrics.Info) -> None:
        key = (info.modified_handler, info.method)
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = self.metric.labels(*key)
        series.observe(info.modified_duration)


def default_instrumentations(
    registry: CollectorRegistry, namespace: str = "ledger"
) -> list[Instrumentation]:
    """Request counts per route/method/status and latency histograms per route/method."""
    return [_Requests(registry, namespace), _Latency(registry, namespace)]


def _template_of(route: object) -> str | None:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else None


def match_route(scope: Scope) -> str:
    """Find the route template the way prometheus-fastapi-instrumentator does (slow path)."""
    # A mount rewrote root_path on its way in; match from the application's own root.
    probe = dict(scope)
    probe["root_path"] = scope.get("app_root_path", "")
    name = pfi_routing.get_route_name(Request(probe), should_include_root_path=False)
    if name:
        return name
    # A mounted app without routes of its own (static files): label it with the mount path.
    for route in getattr(getattr(scope.get("app"), "router", None), "routes", ()):
        if isinstance(route, Mount) and route.matches(dict(probe))[0] is Match.FULL:
            return route.path or UNMATCHED
    return UNMATCHED


class RouteTemplates:
    """Route template of a request: from `scope["route"]`, else matched once per path."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._memo: dict[tuple[str, str], str] = {}

    def __call__(self, scope: Scope) -> str:
        template = _template_of(scope.get("route"))
        if template is not None:
            return template
        # Answered before routing (the response cache) or by no route: match it ourselves,
        # once per method and path.
        key = (scope["method"], scope["path"])
        template = self._memo.get(key)
        if template is None:
            try:
                template = match_route(scope)
            except Exception:  # a metrics label must never fail a request
                template = UNMATCHED
            if len(self._memo) >= self.max_entries:
                self._memo.clear()
            self._memo[key] = template
        return template


class HttpMetricsMiddleware:
    """Observe every HTTP request once it is answered (500 when the app raised)."""

    def __init__(
        self,
        app: ASGIApp,
        instrumentations: Sequence[Instrumentation],
        excluded_handlers: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.instrumentations = tuple(instrumentations)
        self.excluded = frozenset(excluded_handlers)
        self.route_template = RouteTemplates()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500
        first_byte = 0.0

        async def send_observed(message: Message) -> None:
            nonlocal status, first_byte
            if message["type"] == "http.response.start":
                status = message["status"]
                first_byte = perf_counter()
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            handler = self.route_template(scope)
            if handler not in self.excluded:
                ended = perf_counter()
                info = pfi_metrics.Info(
                    request=cast(Any, None),
                    response=None,
                    method=scope["method"],
                    modified_handler=handler,
                    modified_status=str(int(status)),
                    modified_duration=ended - started,
                    modified_duration_without_streaming=(first_byte or ended) - started,
                )
                for instrumentation in self.instrumentations:
                    instrumentation(info)
