"""The TAXII 2.1 server under `/taxii2/`: a FastAPI application of its own, mounted by the API
(`fenghuo.api.app`), so that its errors are TAXII error messages in TAXII's media type and it
stays out of the /api/v1 OpenAPI document. Endpoints in `routes`, the wire format in `http`,
callers and what they may see in `auth`, query parameters in `params`."""

from __future__ import annotations

from fastapi import FastAPI

from fenghuo.api.deps import Services
from fenghuo.api.ratelimit import AuthFailureLimiter
from fenghuo.intel.taxii.http import TaxiiBodyLimit, install_taxii_errors
from fenghuo.intel.taxii.routes import router

MOUNT_PATH = "/taxii2"


def create_taxii_app(services: Services, limiter: AuthFailureLimiter | None = None) -> FastAPI:
    """The TAXII application for `app.mount(MOUNT_PATH, ...)`; `limiter` is the API's
    failed-authentication limiter, shared so that guessing keys here counts there too."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.auth_limiter = limiter
    install_taxii_errors(app)
    app.include_router(router)
    # The API's body limit skips /taxii2/ (see fenghuo.api.app): this one answers in TAXII.
    app.add_middleware(
        TaxiiBodyLimit, max_bytes=services.settings.api_max_body_bytes, exempt_prefix=()
    )
    return app
