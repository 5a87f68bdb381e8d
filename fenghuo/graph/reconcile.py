"""What a correlator run that stopped between a store write and its offset commit (a crash) may
have left in the store, and how the rebuilt graph finds it (see `service`).

After a restart the graph is rebuilt from the alerts topic. Up to the last commit the rebuilt
graph emits what the last run stored (the incidents depend only on the set of alerts), but the
batch that was written and not committed is read again, and batched differently it may never
name an incident the last run wrote (one renamed when an earlier alert arrived in the same
batch). Such an incident is stale: each alert belongs to exactly one incident, so a stored
incident that the graph does not hold while one of its alerts sits in another incident is gone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence

from fenghuo.model.incident import Incident
from fenghuo.store.base import IncidentQuery, IncidentRepository, Scope

log = logging.getLogger(__name__)


class Suspects:
    """Stored incidents the rebuilt graph has not confirmed yet."""

    def __init__(self, incidents: Iterable[Incident] = ()) -> None:
        self._pending = {i.id: i for i in incidents}

    @classmethod
    def load(cls, incidents: IncidentRepository, retention: dt.timedelta) -> Suspects:
        """The store's incidents within `retention` of its newest one (older ones were final
        before any batch the last run left uncommitted)."""
        everything = Scope.everything()
        newest = incidents.list(everything, limit=1).items
        if not newest:
            return cls()
        query = IncidentQuery(since=newest[0].incident.first_seen - retention)
        found: list[Incident] = []
        cursor: str | None = None
        while True:
            page = incidents.list(everything, query, limit=500, cursor=cursor)
            found.extend(v.incident for v in page.items)
            if page.next_cursor is None:
                return cls(found)
            cursor = page.next_cursor

    def __len__(self) -> int:
        return len(self._pending)

    def stale(self, held: Sequence[Incident], horizon: dt.datetime) -> list[str]:
        """The suspects that `held` (the graph's incidents) now contradicts, to delete. A
        suspect the graph holds is confirmed; one that ended before `horizon` (the graph's
        retention horizon) was final before the graph got there; both stop being suspects."""
        if not self._pending:
            return []
        ids = {i.id for i in held}
        placed = {a for i in held for a in i.alert_ids}
        stale = []
        for ident, incident in list(self._pending.items()):
            if ident in ids or incident.last_seen < horizon:
                del self._pending[ident]
            elif placed.intersection(incident.alert_ids):
                del self._pending[ident]
                stale.append(ident)
        if stale:
            log.info("correlator: %d incidents of an interrupted run are stale", len(stale))
        return stale


def incidents_of(messages: Iterable[tuple[bytes | None, bytes | None]]) -> dict[str, bytes]:
    """What a compacted `fenghuo.incidents` says: per key, the last value unless a tombstone
    came after it (for tools and tests reading the topic back)."""
    last: dict[str, bytes] = {}
    for key, value in messages:
        if key is None:
            continue
        if value is None:
            last.pop(key.decode(), None)
        else:
            last[key.decode()] = value
    return last
