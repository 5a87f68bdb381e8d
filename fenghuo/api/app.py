"""The FastAPI application: built from explicit services so tests and `fenghuo up` wire it the
same way."""

from __future__ import annotations

from fastapi import FastAPI

from fenghuo import __version__
from fenghuo.api.console import ConsoleFiles, console_dir
from fenghuo.api.deps import Services
from fenghuo.api.limits import INGEST_PREFIX, BodyLimit, RequestId
from fenghuo.api.metrics import ApiMetrics, MetricsMiddleware, RouteTemplates
from fenghuo.api.metrics import router as metrics_router
from fenghuo.api.problems import install_problem_handlers
from fenghuo.api.ratelimit import AuthFailureLimiter
from fenghuo.api.routes import (
    alerts,
    audit,
    collections,
    detectors,
    evidence,
    feed,
    health,
    hosts,
    incidents,
    ingest,
    keys,
    live,
    reports,
    stats,
    suppressions,
    tenants,
)
from fenghuo.api.schemas import install_openapi
from fenghuo.api.stream import StreamHub
from fenghuo.intel.taxii import MOUNT_PATH, create_taxii_app


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="Fenghuo",
        version=__version__,
        description="Situational awareness and early warning for multi-tenant public clouds.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.services = services
    app.state.stream_hub = StreamHub(services)  # live updates (GET /api/v1/stream)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(ingest.router, prefix="/api/v1")
    app.include_router(alerts.router, prefix="/api/v1")
    app.include_router(evidence.router, prefix="/api/v1")
    app.include_router(incidents.router, prefix="/api/v1")
    app.include_router(suppressions.router, prefix="/api/v1")
    app.include_router(reports.router, prefix="/api/v1")
    app.include_router(feed.router, prefix="/api/v1")
    for ops in (tenants, hosts, detectors, stats, audit, keys, collections, live):
        app.include_router(ops.router, prefix="/api/v1")
    app.include_router(metrics_router)
    # Outermost last: request id, then metrics (which see the body limit's 413s), then limits.
    limiter = AuthFailureLimiter.from_settings(services.settings)
    app.state.auth_limiter = limiter
    app.state.metrics = ApiMetrics(services.store, limiter, services.clock)
    # TAXII 2.1 under /taxii2/: its own app (TAXII errors, its own body limit), not in OpenAPI.
    app.mount(MOUNT_PATH, create_taxii_app(services, limiter))
    app.add_middleware(
        BodyLimit,
        max_bytes=services.settings.api_max_body_bytes,
        exempt_prefix=(INGEST_PREFIX, f"{MOUNT_PATH}/"),
    )
    templates = RouteTemplates(lambda: app.openapi().get("paths", {}))
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics, templates=templates)
    app.add_middleware(RequestId)
    install_openapi(app)
    # Last: the console at / answers only what no route, TAXII or /metrics claimed.
    app.mount("/", ConsoleFiles(services.console or console_dir()), name="console")
    return app
