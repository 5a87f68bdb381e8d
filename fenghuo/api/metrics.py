"""`/metrics`: Prometheus text format, from a registry of the app's own.

Each app has its own `CollectorRegistry` (not prometheus_client's global one), so several apps in
one process (tests, `fenghuo up`) do not clash. Requests are counted and timed by method, route
template (`/api/v1/alerts/{alert_id}`, never the raw path: ids must not become label values) and
status. Failed authentications and rate-limited requests come from the limiter's counters;
`fenghuo_store_up` says whether the store answers.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Iterable

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fenghuo.api.ratelimit import AuthFailureLimiter
from fenghuo.intel.reports.model import ReportState
from fenghuo.intel.reports.repository import ReportQuery
from fenghuo.store.base import AlertQuery, Store
from fenghuo.store.base import Scope as StoreScope

log = logging.getLogger(__name__)

UNMATCHED = "<unmatched>"


class _AuthCollector(Collector):
    def __init__(self, limiter: AuthFailureLimiter) -> None:
        self.limiter = limiter

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(
            "fenghuo_auth_failures",
            "Failed authentications (401 answers)",
            value=self.limiter.failures_total,
        )
        yield CounterMetricFamily(
            "fenghuo_auth_rate_limited",
            "Requests refused (429) after too many failed authentications from their address",
            value=self.limiter.limited_total,
        )


class _StoreCollector(Collector):
    """Whether the store answers, at scrape time (a failing store reads as 0).

    No figures about the store's contents: /metrics answers without a key (scrapers), and even
    cloud-wide alert counts would let a tenant subtract its own and learn about the others."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterable[Metric]:
        try:
            self.store.alerts.count(StoreScope.everything(), _NOTHING)
        except Exception:  # the scrape must answer; the failure is logged and exposed
            log.exception("store probe for /metrics failed")
            up = 0
        else:
            up = 1
        yield GaugeMetricFamily("fenghuo_store_up", "The store answered the scrape", value=up)


class _ReportsCollector(Collector):
    """Regulator reports past their deadline and not submitted, cloud-wide: one number with no
    tenant label (an operator alerts on it; it names no tenant and no incident)."""

    def __init__(self, store: Store, clock: Callable[[], dt.datetime]) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterable[Metric]:
        try:
            overdue = self.store.reports.count(StoreScope.everything(), _OVERDUE, self.clock())
        except Exception:  # the scrape must answer; fenghuo_store_up says the store failed
            log.exception("overdue report count for /metrics failed")
            return
        yield GaugeMetricFamily(
            "fenghuo_reports_overdue",
            "Regulator reports past their deadline and not submitted",
            value=overdue,
        )


_OVERDUE = ReportQuery(states=frozenset({ReportState.OVERDUE}))
# A query that selects nothing, cheaply: the probe only asks whether the store answers.
_NOTHING = AlertQuery(host_id="\x00no host")


class ApiMetrics:
    def __init__(
        self,
        store: Store,
        limiter: AuthFailureLimiter,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "fenghuo_http_requests", "HTTP requests answered", labels, registry=self.registry
        )
        self.latency = Histogram(
            "fenghuo_http_request_duration_seconds",
            "Time to answer an HTTP request",
            labels,
            registry=self.registry,
        )
        self.registry.register(_AuthCollector(limiter))
        self.registry.register(_StoreCollector(store))
        self.registry.register(_ReportsCollector(store, clock))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class RouteTemplates:
    """The route template of a request path, from the app's published paths (FastAPI keeps an
    included router's prefix out of the matched route object), compiled on first use."""

    def __init__(self, paths: Callable[[], Iterable[str]]) -> None:
        self._paths = paths
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, scope: Scope) -> str:
        if self._compiled is None:
            self._compiled = [(compile_path(p)[0], p) for p in self._paths()]
        path = scope["path"]
        for regex, template in self._compiled:
            if regex.match(path):
                return template
        # A route outside the published document (e.g. include_in_schema=False) at the top.
        route = scope.get("route")
        own = getattr(route, "path", None)
        if isinstance(own, str):
            # A mounted app's route (the TAXII server) is relative to its mount point.
            for template in (own, f"{scope.get('root_path', '')}{own}"):
                if compile_path(template)[0].match(path):
                    return template
        return UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request (pure ASGI: streaming bodies pass untouched)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, templates: RouteTemplates) -> None:
        self.app = app
        self.metrics = metrics
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.observe(
                scope["method"], self.templates.of(scope), status, time.perf_counter() - start
            )


router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (text format)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "The metrics"}},
)
async def metrics(request: Request) -> Response:
    registry: ApiMetrics = request.app.state.metrics
    body = await run_in_threadpool(registry.exposition)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
