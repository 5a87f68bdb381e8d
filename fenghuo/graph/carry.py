"""Analyst work follows an incident that the correlator retires.

An incident is retired when it merges into another or is renamed (its id derives from its
earliest alert, so a late, earlier alert renames it). An analyst may already have acknowledged,
assigned or commented on it: that log is copied onto the successor (the incident now holding its
alerts) before the old document is deleted, so the work stays in the queue. Copies get ids
derived from the original action and the successor, so a re-run (restart, retry) copies nothing
twice; the original log stays under the old id (the action log is append-only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from fenghuo.model.ids import stable_id
from fenghuo.model.incident import Incident
from fenghuo.store.base import Scope, Store

ALL = Scope.everything()


def carry_over(store: Store, retired: Iterable[str], successors: Sequence[Incident]) -> int:
    """Copy each retired incident's action log onto the successor sharing its alerts (which
    must already be stored); return how many actions were copied."""
    copied = 0
    for old_id in retired:
        history = store.actions.history(ALL, "incident", old_id)
        old = store.incidents.get(ALL, old_id)
        if not history or old is None:
            continue
        members = set(old.incident.alert_ids)
        successor = next((i for i in successors if members & set(i.alert_ids)), None)
        if successor is None:
            continue  # its alerts decayed with it: nothing to follow
        for action in history:
            store.actions.record(
                ALL,
                msgspec.structs.replace(
                    action,
                    id=stable_id("carried", action.id, successor.id),
                    target_id=successor.id,
                    details={**action.details, "carried_from": old_id},
                ),
            )
            copied += 1
    return copied
