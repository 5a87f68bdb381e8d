"""`/api/v1/feed/deliveries`: the push to regulators' TAXII servers as it went (batches, attempts,
remote status and counts, errors), read from the pusher's delivery log for the console's
"Reports and feed" page. Admins and SOC analysts only: it names the regulators' endpoints and
spans every tenant's reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import ServicesDep, Triager
from fenghuo.api.schemas import documented, respond
from fenghuo.intel.push.history import BatchRecord
from fenghuo.intel.push.log import DeliveryLog

router = APIRouter(prefix="/feed", tags=["feed"])


class DeliveryAttempt(msgspec.Struct, frozen=True, kw_only=True):
    started_at: dt.datetime
    finished_at: dt.datetime | None
    sent_count: int
    sent_bytes: int
    status_id: str | None
    status: str | None
    total: int | None
    success: int | None
    failure: int | None
    pending: int | None
    outcome: str | None
    error: str | None


class DeliveryBatch(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    local_collection: str
    remote_url: str
    size: int
    opened_at: dt.datetime
    outcome: str
    closed_at: dt.datetime | None
    confirmed: dict[str, int]
    attempts: list[DeliveryAttempt]


class Deliveries(msgspec.Struct, frozen=True, kw_only=True):
    configured: bool  # this API's settings name a push target
    items: list[DeliveryBatch]  # oldest first


def _batch(record: BatchRecord) -> DeliveryBatch:
    return DeliveryBatch(
        id=record.id,
        local_collection=record.local_collection,
        remote_url=record.remote_url,
        size=record.size,
        opened_at=record.opened_at,
        outcome=record.outcome,
        closed_at=record.closed_at,
        confirmed=record.confirmed,
        attempts=[
            DeliveryAttempt(
                started_at=a.started_at,
                finished_at=a.finished_at,
                sent_count=a.sent_count,
                sent_bytes=a.sent_bytes,
                status_id=a.status_id,
                status=a.status,
                total=a.counts[0] if a.counts else None,
                success=a.counts[1] if a.counts else None,
                failure=a.counts[2] if a.counts else None,
                pending=a.counts[3] if a.counts else None,
                outcome=a.outcome,
                error=a.error,
            )
            for a in record.attempts
        ],
    )


@router.get(
    "/deliveries",
    summary="The push to regulators' TAXII servers: the newest batches with their attempts",
    responses=documented(Deliveries, "The delivery log (empty when nothing was pushed)"),
)
async def deliveries(
    caller: Triager,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> JSONResponse:
    settings = services.settings
    configured = bool(settings.feed_push_collection and settings.feed_push_url)

    def load() -> list[DeliveryBatch]:
        if not settings.feed_push_db.is_file():
            return []  # nothing was ever pushed from here (and no log file is created)
        log = DeliveryLog(settings.feed_push_db)
        try:
            return [_batch(b) for b in log.batches(limit=limit)]
        finally:
            log.close()

    items = await run_in_threadpool(load)
    return respond(caller, Deliveries(configured=configured, items=items))
