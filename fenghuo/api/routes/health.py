"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The broker answers; telemetry can be accepted")
async def readyz(services: ServicesDep) -> JSONResponse:
    ready = await run_in_threadpool(services.broker_ready)
    body = {"status": "ready" if ready else "not ready", "broker": ready}
    return JSONResponse(body, status_code=200 if ready else 503)
