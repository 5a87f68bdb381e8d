"""What analysts do to reports: draft one for an incident, edit its sections, mark it submitted.

Each change is a read-modify-write inside the store's transaction (`ReportRepository.update`), so
it cannot interleave with `sync_reports` refreshing the same draft, and each is appended to the
audit trail with the report's tenant (a tenant viewer's audit list shows its own reports' entries).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from fenghuo.errors import FenghuoError
from fenghuo.intel.reports.draft import draft
from fenghuo.intel.reports.model import Report, ReportConfig, ReportKind, ReportState, as_of
from fenghuo.intel.reports.repository import ReportQuery
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Incident
from fenghuo.store.base import AuditEntry, Scope, Store

# A submission time this far ahead of the server's clock is a mistake, not clock skew.
MAX_FUTURE = dt.timedelta(minutes=5)


class ReportActionError(FenghuoError):
    """An analyst's change that cannot be applied as asked (`status`: the HTTP answer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class SectionEdit:
    zh: str | None = None  # None: leave as it is
    en: str | None = None


def _audit(
    store: Store, report: Report, actor: Actor, action: str, details: dict[str, object]
) -> None:
    store.audit.append(
        AuditEntry(
            id=stable_id("audit", report.id, action, report.updated_at.isoformat(), actor.name),
            at=report.updated_at,
            actor=actor.name,
            role=actor.role,
            action=f"report.{action}",
            target=f"report:{report.id}",
            tenant_id=report.tenant_id,
            request_id=actor.request_id,
            details={"incident_id": report.incident_id, "kind": report.kind.value, **details},
        )
    )


def _not_submitted(report: Report) -> None:
    if report.submitted_at is not None or report.state is ReportState.SUBMITTED:
        raise ReportActionError(409, f"report {report.id} was submitted: it can no longer change")


def edit_sections(
    store: Store,
    scope: Scope,
    report_id: str,
    edits: Mapping[str, SectionEdit],
    actor: Actor,
    now: dt.datetime,
) -> Report | None:
    """Replace section texts of a report that is not submitted; None when it is not in scope.
    Unknown section keys are refused (422) before anything is written."""

    def change(current: Report) -> Report:
        _not_submitted(current)
        known = {s.key for s in current.sections}
        unknown = sorted(set(edits) - known)
        if unknown:
            raise ReportActionError(422, f"report {current.id} has no section {', '.join(unknown)}")
        sections = tuple(
            msgspec.structs.replace(
                s,
                zh=edits[s.key].zh if edits[s.key].zh is not None else s.zh,
                en=edits[s.key].en if edits[s.key].en is not None else s.en,
            )
            if s.key in edits
            else s
            for s in current.sections
        )
        return msgspec.structs.replace(
            current, sections=sections, edited_by=actor.name, updated_at=now
        )

    updated = store.reports.update(scope, report_id, change)
    if updated is None:
        return None
    _audit(store, updated, actor, "edit", {"sections": sorted(edits)})
    return as_of(updated, now)


def submit(
    store: Store,
    scope: Scope,
    report_id: str,
    *,
    channel: str,
    submitted_at: dt.datetime | None,
    submitted_by: str | None,
    actor: Actor,
    now: dt.datetime,
) -> Report | None:
    """Mark a report submitted (how, when, by whom); None when it is not in scope. Submitting
    twice is refused (409): the first submission is the record."""
    at = submitted_at or now
    if at - now > MAX_FUTURE:
        raise ReportActionError(422, "submitted_at is in the future")

    def change(current: Report) -> Report:
        _not_submitted(current)
        return msgspec.structs.replace(
            current,
            state=ReportState.SUBMITTED,
            submitted_at=at,
            channel=channel,
            submitted_by=submitted_by or actor.name,
            updated_at=now,
        )

    updated = store.reports.update(scope, report_id, change)
    if updated is None:
        return None
    _audit(store, updated, actor, "submit", {"channel": channel, "submitted_at": at.isoformat()})
    return as_of(updated, now)


def create_report(
    store: Store,
    incident: Incident,
    inventory: InventoryIndex | None,
    config: ReportConfig,
    *,
    kind: ReportKind,
    due_at: dt.datetime | None,
    actor: Actor,
    now: dt.datetime,
) -> Report:
    """A new draft for an incident: an update report (numbered after the existing ones), or the
    initial or closing report when there is none yet (409 otherwise). Without `due_at`, an
    initial report is due at the incident's reporting deadline and the others have none."""
    if kind is ReportKind.INITIAL and due_at is None:
        due_at = incident.reporting.deadline
    basis = incident.reporting.basis if kind is ReportKind.INITIAL else ""
    if due_at is not None and kind is not ReportKind.INITIAL:
        basis = f"set by {actor.name}"
    existing = store.reports.list(
        Scope.everything(),
        ReportQuery(kinds=frozenset({kind}), incident_ids=frozenset({incident.id})),
        now,
    )
    if kind is not ReportKind.UPDATE and existing:
        raise ReportActionError(
            409, f"incident {incident.id} already has its {kind.value} report {existing[0].id}"
        )
    sequence = max((r.sequence for r in existing), default=0) + 1
    while True:
        fresh = draft(
            kind, incident, inventory, config, now=now, due_at=due_at, basis=basis,
            sequence=sequence,
        )  # fmt: skip
        stored = store.reports.add(fresh)
        if stored == fresh:
            break
        sequence += 1  # another analyst took this number meanwhile
    _audit(store, stored, actor, "create", {"sequence": sequence})
    return as_of(stored, now)
