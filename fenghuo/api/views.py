"""Response bodies of the read and triage routes (msgspec structs, published in OpenAPI)."""

from __future__ import annotations

import msgspec

from fenghuo.model.alert import Alert
from fenghuo.store.base import (
    AlertView,
    AnalystAction,
    AnalystState,
    IncidentView,
    SuppressionRule,
    TargetKind,
)


class AlertPage(msgspec.Struct, frozen=True, kw_only=True):
    """Alerts, newest evidence first; pass `next_cursor` back for the next page (null: last)."""

    items: list[AlertView]
    next_cursor: str | None


class IncidentPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[IncidentView]
    next_cursor: str | None


class IncidentAlerts(msgspec.Struct, frozen=True, kw_only=True):
    """The incident's alerts the caller may see (a tenant viewer: those about its tenant)."""

    items: list[Alert]


class ActionLog(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AnalystAction]


class ActionResult(msgspec.Struct, frozen=True, kw_only=True):
    target_kind: TargetKind
    target_id: str
    state: AnalystState
    action_id: str
    applied_to: int = 1  # targets the action was recorded on (suppress_similar: all similar)
    suppression_id: str | None = None  # suppress_similar: the rule for future alerts


class SuppressionList(msgspec.Struct, frozen=True, kw_only=True):
    """Rules that keep future alerts like an analyst's example from being raised."""

    items: list[SuppressionRule]
