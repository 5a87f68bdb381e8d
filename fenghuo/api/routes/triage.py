"""Triage actions on alerts and incidents: acknowledge, assign, comment, investigate, resolve,
mark false positive, reopen, and (alerts) suppress similar.

Each action is appended to the target's log (the state is derived from it) and to the audit
trail. An `Idempotency-Key` header makes a retried request record the action once.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Caller, Services
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import respond
from fenghuo.api.views import ActionLog, ActionResult
from fenghuo.errors import FenghuoError
from fenghuo.intel.feed import refresh_incident, writer_for
from fenghuo.model.ids import stable_id
from fenghuo.store.base import (
    ActionKind,
    AlertQuery,
    AnalystAction,
    AuditEntry,
    NotFoundError,
    Scope,
    SuppressionRule,
    TargetKind,
)
from fenghuo.store.retry import is_transient

log = logging.getLogger(__name__)

# Similar alerts a single suppress_similar marks at most (the rest stay as they are).
MAX_SIMILAR = 1000


class ActionRequest(BaseModel):
    action: ActionKind
    assignee: str | None = Field(
        default=None, max_length=200, description="for assign: who (null unassigns)"
    )
    comment: str = Field(default="", max_length=10_000, description="a note kept with the action")
    until: AwareDatetime | None = Field(
        default=None, description="for suppress_similar: when the rule ends (null: until revoked)"
    )


def _check(kind: TargetKind, body: ActionRequest) -> None:
    if body.action is ActionKind.COMMENT and not body.comment.strip():
        raise Problem(422, "Invalid request", "a comment action needs a non-empty comment")
    if body.action is ActionKind.SUPPRESS_SIMILAR and kind != "alert":
        raise Problem(422, "Invalid request", "suppress_similar applies to alerts")
    if body.action is not ActionKind.ASSIGN and body.assignee is not None:
        raise Problem(422, "Invalid request", "assignee is only for the assign action")
    if body.action is not ActionKind.SUPPRESS_SIMILAR and body.until is not None:
        raise Problem(422, "Invalid request", "until is only for the suppress_similar action")


def _action_id(caller: Caller, target: str, idempotency_key: str | None) -> str:
    if idempotency_key:
        return stable_id("action", caller.key.id, target, idempotency_key)
    return uuid.uuid4().hex


def _record(
    services: Services,
    caller: Caller,
    kind: TargetKind,
    target_id: str,
    body: ActionRequest,
    action_id: str,
    details: dict[str, object],
) -> ActionResult:
    store = services.store
    action = AnalystAction(
        id=action_id,
        target_kind=kind,
        target_id=target_id,
        kind=body.action,
        actor=caller.actor,
        role=caller.key.role.value,
        at=dt.datetime.now(dt.UTC),
        assignee=body.assignee,
        comment=body.comment,
        details=details,
    )
    try:
        state = store.actions.record(caller.scope, action)
    except NotFoundError:
        raise Problem(404, "Not found", f"no {kind} {target_id}") from None
    return ActionResult(target_kind=kind, target_id=target_id, state=state, action_id=action_id)


def _similar(
    services: Services, scope: Scope, alert_id: str
) -> tuple[list[str], dict[str, object]]:
    view = services.store.alerts.get(scope, alert_id)
    if view is None:
        raise Problem(404, "Not found", f"no alert {alert_id}")
    alert = view.alert
    details: dict[str, object] = {
        "detector": alert.detector,
        "tenant_id": alert.tenant_id,
        "host_id": alert.host_id,
    }
    query = AlertQuery(
        detectors=frozenset({alert.detector}), tenant=alert.tenant_id, host_id=alert.host_id
    )
    ids: list[str] = []
    cursor: str | None = None
    while len(ids) < MAX_SIMILAR:
        page = services.store.alerts.list(scope, query, limit=200, cursor=cursor)
        ids += [
            v.alert.id
            for v in page.items
            if v.alert.id != alert_id
            # The query's tenant and host filters are looser (either role; None = any host).
            and (v.alert.tenant_id, v.alert.host_id) == (alert.tenant_id, alert.host_id)
        ]
        cursor = page.next_cursor
        if cursor is None:
            break
    return ids[:MAX_SIMILAR], details


def _act(
    services: Services,
    caller: Caller,
    kind: TargetKind,
    target_id: str,
    body: ActionRequest,
    idempotency_key: str | None,
    request_id: str | None,
) -> ActionResult:
    _check(kind, body)
    action_id = _action_id(caller, f"{kind}:{target_id}", idempotency_key)
    details: dict[str, object] = {}
    similar: list[str] = []
    rule = None
    if body.action is ActionKind.SUPPRESS_SIMILAR:
        similar, details = _similar(services, caller.scope, target_id)
        rule = _suppression(services, caller, target_id, body, action_id, details)
        details = {**details, "suppression_id": rule.id}
    result = _record(services, caller, kind, target_id, body, action_id, details)
    for other in similar:
        _record(services, caller, kind, other, body, stable_id(action_id, other), details)
    services.store.audit.append(
        AuditEntry(
            id=stable_id("audit", action_id),
            at=dt.datetime.now(dt.UTC),
            actor=caller.actor,
            role=caller.key.role.value,
            action=f"{kind}.{body.action.value}",
            target=f"{kind}:{target_id}",
            tenant_id=_target_tenant(services, caller.scope, kind, target_id),
            request_id=request_id,
            details={"action_id": action_id, "similar": len(similar), **details},
        )
    )
    return ActionResult(
        target_kind=kind,
        target_id=target_id,
        state=result.state,
        action_id=action_id,
        applied_to=1 + len(similar),
        suppression_id=rule.id if rule is not None else None,
    )


def _suppression(
    services: Services,
    caller: Caller,
    alert_id: str,
    body: ActionRequest,
    action_id: str,
    similar: dict[str, object],
) -> SuppressionRule:
    """The rule that keeps future similar alerts from being raised (the running detection job
    reads the store's rules every few seconds)."""
    return services.store.suppressions.add(
        SuppressionRule(
            id=stable_id("suppression", action_id),
            detector=str(similar["detector"]),
            tenant_id=_text_or_none(similar["tenant_id"]),
            host_id=_text_or_none(similar["host_id"]),
            reason=body.comment,
            created_by=caller.actor,
            created_at=dt.datetime.now(dt.UTC),
            until=body.until,
            source_alert=alert_id,
        )
    )


def _text_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def _target_tenant(
    services: Services, scope: Scope, kind: TargetKind, target_id: str
) -> str | None:
    if kind == "alert":
        view = services.store.alerts.get(scope, target_id)
        return view.alert.tenant_id if view else None
    incident = services.store.incidents.get(scope, target_id)
    if incident is None or not incident.incident.tenants:
        return None
    return incident.incident.tenants[0]


async def act(
    services: Services,
    caller: Caller,
    kind: TargetKind,
    target_id: str,
    body: ActionRequest,
    request: Request,
    idempotency_key: str | None,
) -> JSONResponse:
    """The POST .../actions answer of alerts and incidents alike."""
    request_id = request.headers.get("x-request-id")
    result = await run_in_threadpool(
        _act, services, caller, kind, target_id, body, idempotency_key, request_id
    )
    if kind == "incident":
        await run_in_threadpool(_refresh_feed, services, target_id)
    return respond(caller, result)


def _refresh_feed(services: Services, incident_id: str) -> None:
    """Regulators are told the analyst's determination and investigation status, and a
    resolved incident owes its closing report: write the incident's feed and reports again.
    The action itself is recorded already; a failure here leaves the feed as it was until the
    incident's next change, and is logged, not answered as the action's failure."""
    writer = writer_for(services.settings, services.store, services.inventory)
    try:
        refresh_incident(writer, incident_id)
    except Exception as exc:
        if not (isinstance(exc, FenghuoError) or is_transient(exc)):
            raise  # a bug: answered as one
        log.exception("feed: incident %s not refreshed after an action: %s", incident_id, exc)


async def action_log(
    services: Services, caller: Caller, kind: TargetKind, target_id: str
) -> JSONResponse:
    """The GET .../actions answer: the log, or 404 when the target is not visible."""

    def load() -> ActionLog | None:
        if services.store.actions.state(caller.scope, kind, target_id) is None:
            return None
        return ActionLog(items=services.store.actions.history(caller.scope, kind, target_id))

    log = await run_in_threadpool(load)
    if log is None:
        raise Problem(404, "Not found", f"no {kind} {target_id}")
    return respond(caller, log)
