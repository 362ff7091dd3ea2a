"""Per-route request counts and latencies, recorded by a lean pure-ASGI middleware.

The metric definitions are prometheus-fastapi-instrumentator's own (`metrics.requests()` and
`metrics.latency()`: `http_requests_total{handler,method,status}` and
`http_request_duration_seconds{handler,method}`), so dashboards built for it work unchanged.
They are counted in plain dictionaries on the event loop and turned into those series when
scraped: prometheus_client's labelled, locked series cost more per request than a cached read.
Its middleware, though, re-matches every route before each request and builds Request and
Response objects; this one reads the route template that the router stores in
`scope["route"]` after dispatch. Requests answered before routing (the response cache of
`app.core.cache`) are matched once per path and remembered.

With several processes (`PROMETHEUS_MULTIPROC_DIR` set, as the container entrypoint does),
a process's dictionaries are out of reach of the scrape, which another worker may answer:
there the same series are counted with prometheus_client's multi-process counters and
histograms, which write to that folder and are added up by `/metrics` over all workers.
"""

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from time import perf_counter, time
from typing import Any, cast

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import metrics as pfi_metrics
from prometheus_fastapi_instrumentator import routing as pfi_routing
from starlette.requests import Request
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ops.metrics import multiprocess_dir

Instrumentation = Callable[[pfi_metrics.Info], None]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "none"


class HttpObservations(Collector):
    """Requests by handler, method and status, and durations by handler and method.

    Counted on the event loop in dictionaries and exported at scrape time under the names and
    labels of prometheus-fastapi-instrumentator's `metrics.requests()` and `metrics.latency()`.
    """

    def __init__(self, registry: CollectorRegistry, namespace: str = "ledger") -> None:
        self.prefix = f"{namespace}_" if namespace else ""
        self.requests: dict[tuple[str, str, str], int] = {}
        # Per handler and method: a count per bucket (the last one is +Inf), then the sum.
        self.latency: dict[tuple[str, str], list[float]] = {}
        self.created = time()
        registry.register(self)

    def __call__(self, info: pfi_metrics.Info) -> None:
        key = (info.modified_handler, info.method, info.modified_status)
        self.requests[key] = self.requests.get(key, 0) + 1
        row = self.latency.get(key[:2])
        if row is None:
            row = self.latency[key[:2]] = [0.0] * (len(LATENCY_BUCKETS) + 2)
        seconds = info.modified_duration
        row[bisect_left(LATENCY_BUCKETS, seconds)] += 1  # the first bucket it fits (le)
        row[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        """Return the series as they are now (called by the scrape, in another thread)."""
        requests = CounterMetricFamily(
            self.prefix + "http_requests",
            "Total number of requests by method, status and handler.",
            labels=("handler", "method", "status"),
        )
        for series, count in list(self.requests.items()):
            requests.add_metric(series, count, created=self.created)
        yield requests
        latency = HistogramMetricFamily(
            self.prefix + "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            labels=("handler", "method"),
        )
        bounds = [*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf"]
        for pair, row in list(self.latency.items()):
            cumulative, buckets = 0.0, []
            for bound, in_bucket in zip(bounds, row[:-1], strict=True):
                cumulative += in_bucket
                buckets.append((bound, cumulative))
            latency.add_metric(pair, buckets, row[-1])
        yield latency


class SharedHttpObservations:
    """The same series as `HttpObservations`, kept by prometheus_client's own metrics.

    Used in multi-process mode: their values live in `PROMETHEUS_MULTIPROC_DIR`, where the
    scrape of any worker reads them all. Each labelled series is looked up once and kept.
    """

    def __init__(self, registry: CollectorRegistry, namespace: str = "ledger") -> None:
        self.requests = Counter(
            "http_requests_total",
            "Total number of requests by method, status and handler.",
            labelnames=("handler", "method", "status"),
            namespace=namespace,
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            labelnames=("handler", "method"),
            buckets=LATENCY_BUCKETS,
            namespace=namespace,
            registry=registry,
        )
        self.request_series: dict[tuple[str, str, str], Any] = {}
        self.latency_series: dict[tuple[str, str], Any] = {}

    def __call__(self, info: pfi_metrics.Info) -> None:
        key = (info.modified_handler, info.method, info.modified_status)
        series = self.request_series.get(key)
        if series is None:
            series = self.request_series[key] = self.requests.labels(*key)
        series.inc()
        timed = self.latency_series.get(key[:2])
        if timed is None:
            timed = self.latency_series[key[:2]] = self.latency.labels(*key[:2])
        timed.observe(info.modified_duration)


def default_instrumentations(
    registry: CollectorRegistry, namespace: str = "ledger"
) -> list[Instrumentation]:
    """Request counts per route/method/status and latency histograms per route/method.

    In one process, dictionaries exported at scrape time; with several (a multi-process
    folder is configured), prometheus_client's metrics, which every worker's scrape adds up.
    """
    if multiprocess_dir():
        return [SharedHttpObservations(registry, namespace)]
    return [HttpObservations(registry, namespace)]


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
