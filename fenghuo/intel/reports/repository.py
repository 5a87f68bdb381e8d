"""Where reports are kept: the store's `reports` repository (`fenghuo.store.base.Store`).

Tenant scope is part of every read, as in the other repositories: a tenant scope sees the reports
whose reporting tenant is its own, inside the query. A regulator's reads are narrowed the same way
by `ReportQuery.incident_ids` (the incidents with objects in its granted collections). Reads take
`now` because a report's state (`due`, `overdue`) is computed from the clock, in the query for
filters and on each returned report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from fenghuo.intel.reports.model import Report, ReportKind, ReportState
from fenghuo.store.base import Scope

MAX_REPORTS = 1000


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """Filters (all optional, combined with AND)."""

    states: frozenset[ReportState] = frozenset()
    kinds: frozenset[ReportKind] = frozenset()
    incident_ids: frozenset[str] | None = None  # None: any incident; empty: none at all


Change = Callable[[Report], Report | None]
"""A read-modify-write step: the new version of a report, or None to leave it as it is."""


class ReportRepository(Protocol):
    def add(self, report: Report) -> Report:
        """Store a new report; when its id exists already, keep the stored one (idempotent
        drafting) and return it."""

    def update(self, scope: Scope, report_id: str, change: Change) -> Report | None:
        """Apply `change` to the stored report atomically (no edit between the read and the
        write is lost); None when the report is unknown or outside the scope. Returns the
        stored version afterwards (unchanged when `change` returned None)."""

    def get(
        self,
        scope: Scope,
        report_id: str,
        now: dt.datetime,
        *,
        within: frozenset[str] | None = None,
    ) -> Report | None:
        """The report with its state at `now`, or None (unknown, outside the scope, or, with
        `within`, about an incident not in that set)."""

    def list(
        self,
        scope: Scope,
        query: ReportQuery,
        now: dt.datetime,
        *,
        limit: int = MAX_REPORTS,
    ) -> list[Report]:
        """Soonest deadline first (reports without one last), then id; states at `now`."""

    def count(self, scope: Scope, query: ReportQuery, now: dt.datetime) -> int: ...
