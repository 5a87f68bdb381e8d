"""`/api/v1/alerts/{id}/evidence`: the normalised events an alert names, with their raw records.

The alert is read through the caller's scope first (an alert the caller may not see is a 404,
exactly like a missing one); which of its events the caller may see is `fenghuo.evidence.view`'s
rule; the answer passes through the caller's pseudonym rewriter like every other read.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Caller, Services, ServicesDep, Viewer
from fenghuo.api.problems import Problem
from fenghuo.api.routes.alerts import AlertId
from fenghuo.api.schemas import documented, respond
from fenghuo.evidence.view import Evidence, evidence_for

router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get(
    "/{alert_id}/evidence",
    summary="The events an alert names, normalised and raw",
    description=(
        "Every event id the alert names, looked up in the event archive: the normalised events"
        " the caller may see (each with `raw.original`, the record as received), in event"
        " time; how many are withheld (a tenant viewer sees only its own tenant's events); and"
        " the ids no longer or not yet archived. 503 when the platform keeps no archive."
    ),
    responses=documented(Evidence, "The alert's evidence", errors=(401, 403, 404, 503)),
)
async def alert_evidence(alert_id: AlertId, caller: Viewer, services: ServicesDep) -> JSONResponse:
    return respond(caller, await run_in_threadpool(_evidence, services, caller, alert_id))


def _evidence(services: Services, caller: Caller, alert_id: str) -> Evidence:
    view = services.store.alerts.get(caller.scope, alert_id)
    if view is None:
        raise Problem(404, "Not found", f"no alert {alert_id}")
    if services.events is None:
        raise Problem(503, "Evidence unavailable", "this API was started without an event archive")
    return evidence_for(
        view.alert, services.events, caller.tenant, services.settings.event_retention_days
    )
