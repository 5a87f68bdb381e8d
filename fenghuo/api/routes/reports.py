"""`/api/v1/reports`: the national incident reports (fenghuo.intel.reports) — list, read, export
as a printable HTML page, draft one for an incident, edit its sections, mark it submitted.

Who sees what: admins and SOC analysts every report; a tenant viewer the reports filed for its
own tenant (others by pseudonym); a regulator the reports of the incidents that have objects in
its granted TAXII collections (what the feed writer sent it, kept after a downgrade, revoked ones
included), every tenant by pseudonym. A report the caller may not see answers 404 like
one that does not exist. Due and overdue are computed against the services' clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Caller, ReportReader, Services, ServicesDep, Triager
from fenghuo.api.problems import Problem
from fenghuo.api.schemas import documented, respond
from fenghuo.intel.reports.actions import (
    Actor,
    ReportActionError,
    SectionEdit,
    create_report,
    edit_sections,
    submit,
)
from fenghuo.intel.reports.model import Report, ReportKind, ReportState, load_config
from fenghuo.intel.reports.render import report_html
from fenghuo.intel.reports.repository import MAX_REPORTS, ReportQuery
from fenghuo.model.alert import UtcDatetime
from fenghuo.store.keys import Role

router = APIRouter(tags=["reports"])

ReportId = Annotated[str, Path(max_length=200, description="the report's id")]
IncidentId = Annotated[str, Path(max_length=200, description="the incident's id")]
_KEY = r"^[a-z][a-z0-9_]{0,63}$"


class ReportPage(msgspec.Struct, frozen=True, kw_only=True):
    """Reports, soonest deadline first (none last); `now` is when their states were computed."""

    items: list[Report]
    now: UtcDatetime


class CreateReport(BaseModel):
    kind: ReportKind = Field(
        default=ReportKind.UPDATE, description="update (numbered), or a missing initial/closing"
    )
    due_at: AwareDatetime | None = Field(
        default=None, description="deadline (default: initial at the incident's, others none)"
    )


class SectionText(BaseModel):
    zh: str | None = Field(default=None, max_length=20_000, description="Chinese text (filed)")
    en: str | None = Field(default=None, max_length=20_000, description="English alongside")


class EditReport(BaseModel):
    sections: dict[Annotated[str, Field(pattern=_KEY)], SectionText] = Field(
        min_length=1, max_length=50, description="section key -> new texts (null: unchanged)"
    )


class SubmitReport(BaseModel):
    channel: str = Field(min_length=1, max_length=200, description="how it was filed")
    submitted_at: AwareDatetime | None = Field(default=None, description="default: now")
    submitted_by: str | None = Field(
        default=None, min_length=1, max_length=200, description="default: the caller"
    )


def _granted_incidents(services: Services, caller: Caller) -> frozenset[str] | None:
    """A regulator's incidents: those with objects in a collection granted to it, read from the
    collection object store (the feed writer appends each incident's objects with the incident
    as their source), so the scope is what the regulator receives on TAXII, not a re-reading of
    the collections' filters (None: not a regulator, no such narrowing)."""
    if caller.key.role is not Role.REGULATOR:
        return None
    granted = [c.id for c in services.store.collections.list() if c.readable_by(caller.key)]
    if not granted:
        return frozenset()
    return frozenset(services.store.objects.sources(granted))


def _actor(caller: Caller, request: Request) -> Actor:
    return Actor(caller.actor, caller.key.role.value, request.headers.get("x-request-id"))


def _missing(report_id: str) -> Problem:
    return Problem(404, "Not found", f"no report {report_id}")


def _action_problem(error: ReportActionError) -> Problem:
    titles = {409: "Conflict", 422: "Invalid request"}
    return Problem(error.status, titles.get(error.status, "Bad request"), error.reason)


def _responses(kind: Any, description: str, status: int = 200) -> dict[int | str, Any]:
    responses = documented(kind, description, status=status, errors=(401, 403, 404))
    responses[409] = {
        "description": "Conflict (submitted already, or the report exists)",
        "content": {"application/problem+json": {}},
    }
    return responses


@router.get(
    "/reports",
    summary="List regulator reports (state computed now; soonest deadline first)",
    responses=documented(ReportPage, "The reports in the caller's view"),
)
async def list_reports(
    caller: ReportReader,
    services: ServicesDep,
    state: Annotated[list[ReportState] | None, Query(max_length=4)] = None,
    kind: Annotated[list[ReportKind] | None, Query(max_length=3)] = None,
    incident: Annotated[str | None, Query(max_length=200, description="one incident")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_REPORTS)] = MAX_REPORTS,
) -> JSONResponse:
    def load() -> ReportPage:
        now = services.clock()
        within = _granted_incidents(services, caller)
        if incident is not None:
            within = frozenset({incident}) & within if within is not None else frozenset({incident})
        query = ReportQuery(
            states=frozenset(state or ()), kinds=frozenset(kind or ()), incident_ids=within
        )
        items = services.store.reports.list(caller.scope, query, now, limit=limit)
        return ReportPage(items=items, now=now)

    return respond(caller, await run_in_threadpool(load))


def _html_and_json(description: str) -> dict[int | str, Any]:
    responses = documented(Report, description, errors=(401, 403, 404))
    responses[200]["content"]["text/html"] = {"schema": {"type": "string"}}
    return responses


@router.get(
    "/reports/{report_id}",
    summary="One report (format=html: the printable bilingual page)",
    responses=_html_and_json("The report"),
)
async def get_report(
    report_id: ReportId,
    caller: ReportReader,
    services: ServicesDep,
    format: Annotated[Literal["json", "html"], Query()] = "json",
) -> Response:
    def load() -> Report | None:
        within = _granted_incidents(services, caller)
        return services.store.reports.get(caller.scope, report_id, services.clock(), within=within)

    report = await run_in_threadpool(load)
    if report is None:
        raise _missing(report_id)
    if format == "json":
        return respond(caller, report)
    shown = msgspec.convert(caller.redactor.document(msgspec.to_builtins(report)), Report)
    return HTMLResponse(report_html(shown))


@router.post(
    "/incidents/{incident_id}/reports",
    summary="Draft a report for an incident (an update report, or a missing initial/closing)",
    status_code=201,
    responses=_responses(Report, "The new draft", status=201),
)
async def create_incident_report(
    incident_id: IncidentId,
    body: CreateReport,
    request: Request,
    caller: Triager,
    services: ServicesDep,
) -> JSONResponse:
    def run() -> Report:
        view = services.store.incidents.get(caller.scope, incident_id)
        if view is None:
            raise Problem(404, "Not found", f"no incident {incident_id}")
        try:
            return create_report(
                services.store,
                view.incident,
                services.inventory(),
                load_config(),
                kind=body.kind,
                due_at=body.due_at,
                actor=_actor(caller, request),
                now=services.clock(),
            )
        except ReportActionError as exc:
            raise _action_problem(exc) from None

    return respond(caller, await run_in_threadpool(run), status=201)


@router.patch(
    "/reports/{report_id}",
    summary="Edit a report's sections (while it is not submitted)",
    responses=_responses(Report, "The edited report"),
)
async def edit_report(
    report_id: ReportId,
    body: EditReport,
    request: Request,
    caller: Triager,
    services: ServicesDep,
) -> JSONResponse:
    edits = {k: SectionEdit(zh=v.zh, en=v.en) for k, v in body.sections.items()}
    return await _change_report(
        caller,
        report_id,
        lambda: edit_sections(
            services.store,
            caller.scope,
            report_id,
            edits,
            _actor(caller, request),
            services.clock(),
        ),
    )


@router.post(
    "/reports/{report_id}/submit",
    summary="Mark a report submitted: channel, time and person",
    responses=_responses(Report, "The submitted report"),
)
async def submit_report(
    report_id: ReportId,
    body: SubmitReport,
    request: Request,
    caller: Triager,
    services: ServicesDep,
) -> JSONResponse:
    submitted_at: dt.datetime | None = body.submitted_at

    return await _change_report(
        caller,
        report_id,
        lambda: submit(
            services.store,
            caller.scope,
            report_id,
            channel=body.channel,
            submitted_at=submitted_at,
            submitted_by=body.submitted_by,
            actor=_actor(caller, request),
            now=services.clock(),
        ),
    )


async def _change_report(
    caller: Caller, report_id: str, change: Callable[[], Report | None]
) -> JSONResponse:
    """Run an analyst's change of a report in a worker thread: its refusal as a problem, a
    report the caller cannot see as the same 404 as a missing one, else the changed report."""

    def run() -> Report | None:
        try:
            return change()
        except ReportActionError as exc:
            raise _action_problem(exc) from None

    report = await run_in_threadpool(run)
    if report is None:
        raise _missing(report_id)
    return respond(caller, report)
