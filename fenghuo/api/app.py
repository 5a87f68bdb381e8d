"""The FastAPI application: built from explicit services so tests and `fenghuo up` wire it the
same way."""

from __future__ import annotations

from fastapi import FastAPI

from fenghuo import __version__
from fenghuo.api.deps import Services
from fenghuo.api.problems import install_problem_handlers
from fenghuo.api.routes import alerts, health, incidents, ingest
from fenghuo.api.schemas import install_openapi


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
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(ingest.router, prefix="/api/v1")
    app.include_router(alerts.router, prefix="/api/v1")
    app.include_router(incidents.router, prefix="/api/v1")
    install_openapi(app)
    return app
