"""`/api/v1/detectors`: every registered detector with its hits in the caller's scope."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api import filters as f
from fenghuo.api.deps import Caller, Services, ServicesDep, Viewer
from fenghuo.api.ops_views import DetectorList, DetectorSummary
from fenghuo.api.routes.stats import checked_window
from fenghuo.api.schemas import documented, respond
from fenghuo.detectors.registry import all_detectors
from fenghuo.store.base import AlertQuery

router = APIRouter(prefix="/detectors", tags=["situation"])


def detector_list(
    caller: Caller, services: Services, since: dt.datetime | None, until: dt.datetime | None
) -> DetectorList:
    store, scope = services.store, caller.scope
    window = AlertQuery(since=since, until=until)
    hits = store.alerts.stats(scope, window, bucket=dt.timedelta(days=1), top=1).by_detector
    items = []
    for detector_id, detector in sorted(all_detectors().items()):
        meta = detector.meta
        last_hit = None
        if hits.get(detector_id):
            query = AlertQuery(detectors=frozenset({detector_id}), since=since, until=until)
            newest = store.alerts.list(scope, query, limit=1).items
            last_hit = newest[0].alert.first_seen if newest else None
        items.append(
            DetectorSummary(
                id=meta.id,
                title=meta.title,
                severity=meta.severity,
                technique=meta.technique,
                category=meta.category,
                status=meta.status,
                hits=hits.get(detector_id, 0),
                last_hit=last_hit,
            )
        )
    return DetectorList(items=items)


@router.get(
    "",
    summary="Detectors (id, title, severity, ATT&CK technique, GB/T 20986 category) with hits",
    responses=documented(DetectorList, "Every detector, by id"),
)
async def list_detectors(
    caller: Viewer, services: ServicesDep, since: f.Since = None, until: f.Until = None
) -> JSONResponse:
    since, until = checked_window(since, until)
    result = await run_in_threadpool(detector_list, caller, services, since, until)
    return respond(caller, result)
