"""`/api/v1/alerts`: the alert queue, one alert, its action log, and triage actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from fenghuo.api import filters as f
from fenghuo.api.deps import ServicesDep, Triager, Viewer
from fenghuo.api.problems import Problem
from fenghuo.api.routes.triage import ActionRequest, act, action_log
from fenghuo.api.schemas import documented, respond
from fenghuo.api.views import ActionLog, ActionResult, AlertPage
from fenghuo.store.base import AlertView, StoreError, decode_cursor

router = APIRouter(prefix="/alerts", tags=["alerts"])

AlertId = Annotated[str, Path(max_length=200, description="the alert's id")]
Detectors = Annotated[list[str] | None, Query(description="raised by any of these detectors")]
IdempotencyKey = Annotated[
    str | None,
    Header(max_length=200, description="a retried request with the same key acts once"),
]


def checked_cursor(cursor: str | None) -> str | None:
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except StoreError:
            raise Problem(400, "Invalid cursor", "pass back a next_cursor unchanged") from None
    return cursor


@router.get(
    "",
    summary="List alerts (filters, full-text search, cursor pagination)",
    responses=documented(AlertPage, "A page of alerts", errors=(400, 401, 403)),
)
async def list_alerts(
    caller: Viewer,
    services: ServicesDep,
    severity: f.Severities = None,
    min_severity: f.MinSeverity = None,
    detector: Detectors = None,
    status: f.Statuses = None,
    tenant: f.TenantParam = None,
    host: f.HostParam = None,
    since: f.Since = None,
    until: f.Until = None,
    q: f.Text = None,
    not_severity: f.NotSeverities = None,
    not_status: f.NotStatuses = None,
    not_tenant: f.NotTenants = None,
    not_host: f.NotHosts = None,
    not_detector: f.NotDetectors = None,
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
        return respond(caller, AlertPage(items=[], next_cursor=None))
    query = f.alert_query(common, detector, not_detector)
    page = await run_in_threadpool(
        services.store.alerts.list, caller.scope, query, limit=limit, cursor=checked_cursor(cursor)
    )
    return respond(caller, AlertPage(items=page.items, next_cursor=page.next_cursor))


@router.get(
    "/{alert_id}",
    summary="One alert with its analyst state",
    responses=documented(AlertView, "The alert", errors=(401, 403, 404)),
)
async def get_alert(alert_id: AlertId, caller: Viewer, services: ServicesDep) -> JSONResponse:
    view = await run_in_threadpool(services.store.alerts.get, caller.scope, alert_id)
    if view is None:
        raise Problem(404, "Not found", f"no alert {alert_id}")
    return respond(caller, view)


@router.get(
    "/{alert_id}/actions",
    summary="The alert's action log (oldest first)",
    responses=documented(ActionLog, "The action log", errors=(401, 403, 404)),
)
async def alert_actions(alert_id: AlertId, caller: Viewer, services: ServicesDep) -> JSONResponse:
    return await action_log(services, caller, "alert", alert_id)


@router.post(
    "/{alert_id}/actions",
    summary="Act on an alert: acknowledge, assign, comment, investigate, resolve, "
    "false_positive, suppress_similar, reopen",
    responses=documented(ActionResult, "The alert's new state", errors=(401, 403, 404)),
)
async def act_on_alert(
    alert_id: AlertId,
    body: ActionRequest,
    request: Request,
    caller: Triager,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return await act(services, caller, "alert", alert_id, body, request, idempotency_key)
