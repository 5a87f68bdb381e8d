"""Keeping report drafts in step with incidents: `sync_reports`.

Called by the service that follows incident changes (and by tests over a list of incidents). It
is idempotent: drafting uses deterministic report ids, and a refresh writes only what changed.
An analyst's work is never overwritten: a submitted report, or a draft an analyst has edited
(`edited_by`), keeps its content; only untouched drafts follow the incident (its grade, deadline,
tenants and story can still change while the correlator adds alerts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from fenghuo.intel.reports.draft import draft
from fenghuo.intel.reports.model import Report, ReportConfig, ReportKind, load_config
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.incident import Incident, IncidentStatus
from fenghuo.store.base import ActionKind, Scope, Store

HANDLING_ENDED = frozenset({IncidentStatus.RESOLVED, IncidentStatus.FALSE_POSITIVE})
_ENDING_ACTIONS = frozenset({ActionKind.RESOLVE, ActionKind.FALSE_POSITIVE})
# What a refresh of an untouched draft may change (never ids, times of creation or submission).
_REFRESHED = ("tenant_id", "grade", "category", "due_at", "due_from", "basis", "sections")


def handling_ended(store: Store, incident: Incident, now: dt.datetime) -> dt.datetime | None:
    """When handling of the incident ended (its last resolve or false_positive action), or None
    while it is open. An incident the store does not know is judged by its own status."""
    everything = Scope.everything()
    state = store.actions.state(everything, "incident", incident.id)
    if state is None:
        return now if incident.status in HANDLING_ENDED else None
    if state.status not in HANDLING_ENDED:
        return None
    history = store.actions.history(everything, "incident", incident.id)
    ends = [a.at for a in history if a.kind in _ENDING_ACTIONS]
    return max(ends) if ends else state.updated_at or now


def _refresh(current: Report, fresh: Report, now: dt.datetime) -> Report | None:
    """`fresh`'s incident-derived fields on `current`, if it is an untouched draft that
    differs; None otherwise."""
    if current.submitted_at is not None or current.edited_by is not None:
        return None
    changes = {
        name: getattr(fresh, name)
        for name in _REFRESHED
        if getattr(fresh, name) != getattr(current, name)
    }
    if not changes:
        return None
    return msgspec.structs.replace(current, updated_at=now, **changes)


def _put(store: Store, fresh: Report, now: dt.datetime) -> bool:
    """Create `fresh`, or refresh the stored draft of the same id; True when something was
    written."""
    everything = Scope.everything()
    if store.reports.get(everything, fresh.id, now) is None:
        store.reports.add(fresh)
        return True
    changed = False

    def refresh(current: Report) -> Report | None:
        nonlocal changed
        updated = _refresh(current, fresh, now)
        changed = updated is not None
        return updated

    store.reports.update(everything, fresh.id, refresh)
    return changed


def sync_reports(
    store: Store,
    incidents: Iterable[Incident],
    inventory: InventoryIndex | None,
    now: dt.datetime,
    *,
    config: ReportConfig | None = None,
) -> int:
    """Draft the initial report of every reportable incident (`Incident.reporting.required`,
    due at `reporting.deadline`) and the closing report of those whose handling ended (due
    `closing.deadline_days` after it ended); refresh untouched drafts. Returns how many reports
    were created or changed."""
    config = config or load_config()
    written = 0
    for incident in incidents:
        reporting = incident.reporting
        if not reporting.required or reporting.deadline is None:
            continue
        initial = draft(
            ReportKind.INITIAL,
            incident,
            inventory,
            config,
            now=now,
            due_at=reporting.deadline,
            basis=reporting.basis,
        )
        written += _put(store, initial, now)
        ended = handling_ended(store, incident, now)
        if ended is None:
            continue
        closing = draft(
            ReportKind.CLOSING,
            incident,
            inventory,
            config,
            now=now,
            due_at=ended + dt.timedelta(days=config.closing.deadline_days),
            basis=f"closing-{config.closing.deadline_days}d: {config.closing.source.strip()}",
        )
        written += _put(store, closing, now)
    return written
