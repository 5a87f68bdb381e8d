"""Liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Services, ServicesDep
from fenghuo.model.alert import Severity
from fenghuo.store.base import AlertQuery, Scope

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)

# A count the store answers from its index alone: enough to show it is there and queryable.
_PROBE = AlertQuery(severities=frozenset({Severity.CRITICAL}))


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _store_ready(services: Services) -> bool:
    try:
        services.store.alerts.count(Scope.everything(), _PROBE)
    except Exception:  # any failure means "not ready"; recorded, and shown in the body
        log.exception("readiness: the store did not answer")
        return False
    return True


@router.get(
    "/readyz",
    summary="The store answers and, where telemetry is accepted here, the broker answers",
)
async def readyz(services: ServicesDep) -> JSONResponse:
    store = await run_in_threadpool(_store_ready, services)
    broker: bool | None = None  # no ingestor: this API does not publish, the broker is moot
    if services.ingestor is not None:
        broker = await run_in_threadpool(services.broker_ready)
    not_ready = [name for name, ok in (("store", store), ("broker", broker)) if ok is False]
    body = {
        "status": "not ready" if not_ready else "ready",
        "store": store,
        "broker": broker,
        "not_ready": not_ready,
    }
    return JSONResponse(body, status_code=503 if not_ready else 200)
