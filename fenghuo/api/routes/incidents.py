"""`/api/v1/incidents`: correlated incidents with their graph and timeline, their alerts, and
triage actions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api import filters as f
from fenghuo.api.deps import ServicesDep, Triager, Viewer
from fenghuo.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_RESPONSES, Problem
from fenghuo.api.routes.alerts import IdempotencyKey, checked_cursor
from fenghuo.api.routes.triage import ActionRequest, act, action_log
from fenghuo.api.schemas import documented, respond
from fenghuo.api.views import ActionLog, ActionResult, IncidentAlerts, IncidentPage
from fenghuo.intel.collections import IdentityPolicy, Tlp
from fenghuo.intel.stix import FeedView, incident_bundle
from fenghuo.store.base import IncidentView

router = APIRouter(prefix="/incidents", tags=["incidents"])

IncidentId = Annotated[str, Path(max_length=200, description="the incident's id")]


@router.get(
    "",
    summary="List incidents (filters, full-text search, cursor pagination)",
    responses=documented(IncidentPage, "A page of incidents", errors=(400, 401, 403)),
)
async def list_incidents(
    caller: Viewer,
    services: ServicesDep,
    severity: f.Severities = None,
    min_severity: f.MinSeverity = None,
    status: f.Statuses = None,
    grade: f.Grades = None,
    tenant: f.TenantParam = None,
    host: f.HostParam = None,
    since: f.Since = None,
    until: f.Until = None,
    q: f.Text = None,
    not_severity: f.NotSeverities = None,
    not_status: f.NotStatuses = None,
    not_tenant: f.NotTenants = None,
    not_host: f.NotHosts = None,
    limit: f.Limit = 50,
    cursor: f.Cursor = None,
) -> JSONResponse:
    common = f.common(
        caller,
        severity=severity,
        min_severity=min_severity,
        status=status,
        tenant=tenant,
        host=host,
        since=since,
        until=until,
        q=q,
        not_severity=not_severity,
        not_status=not_status,
        not_tenant=not_tenant,
        not_host=not_host,
    )
    if common.empty:
        return respond(caller, IncidentPage(items=[], next_cursor=None))
    page = await run_in_threadpool(
        services.store.incidents.list,
        caller.scope,
        f.incident_query(common, grade),
        limit=limit,
        cursor=checked_cursor(cursor),
    )
    return respond(caller, IncidentPage(items=page.items, next_cursor=page.next_cursor))


async def _visible(caller: Viewer, services: ServicesDep, incident_id: str) -> IncidentView:
    view = await run_in_threadpool(services.store.incidents.get, caller.scope, incident_id)
    if view is None:
        raise Problem(404, "Not found", f"no incident {incident_id}")
    return view


@router.get(
    "/{incident_id}",
    summary="One incident: story, grade, blast radius, timeline, graph (nodes and edges)",
    responses=documented(IncidentView, "The incident", errors=(401, 403, 404)),
)
async def get_incident(
    incident_id: IncidentId, caller: Viewer, services: ServicesDep
) -> JSONResponse:
    return respond(caller, await _visible(caller, services, incident_id))


@router.get(
    "/{incident_id}/alerts",
    summary="The incident's alerts that the caller may see",
    responses=documented(IncidentAlerts, "Its alerts", errors=(401, 403, 404)),
)
async def incident_alerts(
    incident_id: IncidentId, caller: Viewer, services: ServicesDep
) -> JSONResponse:
    view = await _visible(caller, services, incident_id)

    def load() -> IncidentAlerts:
        found = (services.store.alerts.get(caller.scope, a) for a in view.incident.alert_ids)
        return IncidentAlerts(items=[v.alert for v in found if v is not None])

    return respond(caller, await run_in_threadpool(load))


STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
_STIX_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A STIX 2.1 bundle: the incident as the caller may see it",
        "content": {STIX_MEDIA_TYPE: {"schema": {"type": "object"}}},
    },
    **{code: PROBLEM_RESPONSES[code] for code in (401, 403, 404, 422)},
    503: {
        "description": "No inventory is loaded, so a tenant viewer's bundle cannot be masked",
        "content": {PROBLEM_MEDIA_TYPE: {}},
    },
}


@router.get(
    "/{incident_id}/stix",
    summary="The incident as a STIX 2.1 bundle, as the regulator feed builds it (TLP level by "
    "query); a tenant viewer's bundle shows other tenants by pseudonym",
    responses=_STIX_RESPONSES,
)
async def incident_stix(
    incident_id: IncidentId,
    caller: Viewer,
    services: ServicesDep,
    tlp: Annotated[Tlp, Query(description="the TLP 2.0 level marked on every object")] = Tlp.AMBER,
) -> JSONResponse:
    view = await _visible(caller, services, incident_id)
    inventory = services.inventory()
    if caller.tenant is not None and inventory is None:
        detail = "no inventory is loaded: nothing would say which identifiers to hide"
        raise Problem(503, "Bundle unavailable", detail)

    def build() -> dict[str, Any]:
        found = (services.store.alerts.get(caller.scope, a) for a in view.incident.alert_ids)
        feed = FeedView(
            tlp=tlp,
            identities=(
                IdentityPolicy.GRANTED if caller.tenant is None else IdentityPolicy.PSEUDONYMOUS
            ),
            own_tenant=caller.tenant,
            pseudonym_key=services.settings.pseudonym_key.get_secret_value().encode(),
            inventory=inventory,
            provider_name=services.settings.provider_name,
        )
        alerts = [v.alert for v in found if v is not None]
        return incident_bundle(view.incident, feed, alerts=alerts)

    bundle = caller.redactor.document(await run_in_threadpool(build))
    return JSONResponse(bundle, media_type=STIX_MEDIA_TYPE)


@router.get(
    "/{incident_id}/actions",
    summary="The incident's action log (oldest first)",
    responses=documented(ActionLog, "The action log", errors=(401, 403, 404)),
)
async def incident_actions(
    incident_id: IncidentId, caller: Viewer, services: ServicesDep
) -> JSONResponse:
    return await action_log(services, caller, "incident", incident_id)


@router.post(
    "/{incident_id}/actions",
    summary="Act on an incident: acknowledge, assign, comment, investigate, resolve, "
    "false_positive, reopen",
    responses=documented(ActionResult, "The incident's new state", errors=(401, 403, 404)),
)
async def act_on_incident(
    incident_id: IncidentId,
    body: ActionRequest,
    request: Request,
    caller: Triager,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await act(services, caller, "incident", incident_id, body, request, idempotency_key)
