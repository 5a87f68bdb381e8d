"""The feed writer: incident changes in, each collection's STIX object versions and the
regulator reports out (to the store). `fenghuo.intel.feed_service` runs it on the incidents
topic; tests and `fenghuo collections create` (backfill) call it directly.

For each collection, an incident the collection's filter selects (or one already in it: a
regulator must see a downgrade too, not a silence) is built as that collection shows it
(`FeedView`: TLP level, pseudonyms or identities), and each object is compared with the latest
version the collection holds. Only what changed becomes a new version (same id, `modified` later
than the last version's), so a correlator rewrite that changed nothing sends nothing, and a retry
of a write that went through writes nothing again. A retired incident (merged into another, or
renamed) is revoked: a last version of each of its objects with `revoked: true`.

The analyst's status (acknowledged, false positive, resolved) is part of what a regulator is
told (the Incident Core Extension's determination and investigation status), so the writer
takes each incident's status from the store's analyst state, not from the correlator's document.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from fenghuo.errors import FenghuoError
from fenghuo.intel.collections import Collection
from fenghuo.intel.objects import parse_timestamp
from fenghuo.intel.stix import (
    FeedView,
    incident_objects,
    incident_stix_id,
    revoked_versions,
    shared_objects,
)
from fenghuo.intel.stix.definitions import stix_time
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident
from fenghuo.settings import Settings
from fenghuo.store.base import Scope, Store

log = logging.getLogger(__name__)

ALL = Scope.everything()
_MS = dt.timedelta(milliseconds=1)
MAX_ALERTS = 200  # alerts read per incident for its evidence


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FeedError(FenghuoError):
    """The feed cannot be written as configured (a pseudonymous collection without an
    inventory: nothing would say which identifiers to hide, so nothing is written)."""


@dataclass
class FeedStats:
    written: int = 0  # object versions appended
    revoked: int = 0  # incidents revoked in a collection
    reports: int = 0  # report drafts created or refreshed


class FeedWriter:
    def __init__(
        self,
        store: Store,
        pseudonym_key: bytes,
        inventory: Callable[[], InventoryIndex | None],
        *,
        provider_name: str | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.store = store
        self.pseudonym_key = pseudonym_key
        self.inventory = inventory
        self.provider_name = provider_name
        self.clock = clock
        self.stats = FeedStats()
        self._alert_cache: dict[str, list[Alert]] = {}  # per write: shared by the collections

    def view(self, collection: Collection) -> FeedView:
        extra: dict[str, Any] = {}
        if self.provider_name:
            extra["provider_name"] = self.provider_name
        return FeedView(
            tlp=collection.tlp,
            identities=collection.identities,
            own_tenant=collection.own_tenant,
            pseudonym_key=self.pseudonym_key,
            inventory=self.inventory(),
            **extra,
        )

    # --- incidents changed or retired ------------------------------------------------------

    def write(self, incidents: Sequence[Incident], retired: Sequence[str] = ()) -> FeedStats:
        """Write the feed for these incident versions and revoke the retired ids, in every
        collection; then bring the reports up to date. Idempotent."""
        with_status = [self._with_analyst_status(i) for i in incidents]
        self._alert_cache = {}
        try:
            for collection in self.store.collections.list():
                self._write_collection(collection, with_status, retired)
        finally:
            self._alert_cache = {}
        self._sync_reports(with_status)
        return self.stats

    def backfill(self, collection: Collection) -> int:
        """Fill a new collection with the stored incidents it selects; returns how many."""
        count = 0
        cursor: str | None = None
        while True:
            page = self.store.incidents.list(ALL, limit=500, cursor=cursor)
            incidents = [view.incident for view in page.items]
            count += self._write_collection(collection, incidents, ())
            if page.next_cursor is None:
                return count
            cursor = page.next_cursor

    def _with_analyst_status(self, incident: Incident) -> Incident:
        view = self.store.incidents.get(ALL, incident.id)
        if view is None:
            return incident
        return msgspec.structs.replace(incident, status=view.incident.status)

    def _write_collection(
        self, collection: Collection, incidents: Iterable[Incident], retired: Iterable[str]
    ) -> int:
        view = self.view(collection)
        inventory = view.inventory
        if view.pseudonymous and inventory is None:
            msg = (
                f"collection {collection.id} shows tenants by pseudonym, which needs the"
                " inventory to know what to hide; none is loaded (set FENGHUO_INVENTORY)"
            )
            raise FeedError(msg)
        selected = 0
        shared_written = False
        for incident in incidents:
            if not (
                collection.filter.matches(incident, inventory)
                or self._holds(collection, incident.id)
            ):
                continue
            if not shared_written:
                self._append_changed(collection.id, shared_objects(view))
                shared_written = True
            objects = incident_objects(incident, view, alerts=self._alerts_of(incident))
            self._append_changed(collection.id, objects, source=incident.id)
            selected += 1
        for incident_id in retired:
            self._revoke(collection.id, incident_id)
        return selected

    def _alerts_of(self, incident: Incident) -> list[Alert]:
        """The incident's alerts the store holds (their details are the evidence SCOs); the
        stream job may not have written the newest yet: a later version brings them."""
        if incident.id not in self._alert_cache:
            found = (self.store.alerts.get(ALL, a) for a in incident.alert_ids[:MAX_ALERTS])
            self._alert_cache[incident.id] = [v.alert for v in found if v is not None]
        return self._alert_cache[incident.id]

    def _holds(self, collection: Collection, incident_id: str) -> bool:
        found = self.store.objects.latest(collection.id, [incident_stix_id(incident_id)])
        return bool(found)

    def _append_changed(
        self,
        collection_id: str,
        objects: Sequence[dict[str, Any]],
        source: str | None = None,
    ) -> None:
        latest = self.store.objects.latest(collection_id, [o["id"] for o in objects])
        fresh: list[dict[str, Any]] = []
        for obj in objects:
            stored = latest.get(obj["id"])
            if stored is None:
                fresh.append(obj)
                continue
            if "modified" not in obj or stored.body.get("revoked"):
                # SCOs and definitions never change; a revoked object may not be un-revoked
                # (STIX 2.1 §3.6): an incident id that comes back after retirement stays out.
                continue
            # `created` is fixed by the first version (STIX forbids changing it), even if the
            # incident's first_seen (its source) moved earlier since.
            obj = {**obj, "created": stored.body.get("created", obj.get("created"))}
            if _same_content(stored.body, obj):
                continue  # unchanged objects stay as they are
            last = parse_timestamp(stored.body["modified"])
            if parse_timestamp(obj["modified"]) <= last:
                obj = {**obj, "modified": stix_time(last + _MS)}
            fresh.append(obj)
        if fresh:
            added = self.store.objects.append(collection_id, fresh, source=source)
            self.stats.written += len(added)

    def _revoke(self, collection_id: str, incident_id: str) -> None:
        ids = self.store.objects.ids_of_source(collection_id, incident_id)
        if not ids:
            return
        latest = self.store.objects.latest(collection_id, ids)
        live = [s.body for s in latest.values() if not s.body.get("revoked")]
        versions = revoked_versions(live, self.clock())
        if versions:
            self.store.objects.append(collection_id, versions, source=incident_id)
            self.stats.revoked += 1

    # --- reports ---------------------------------------------------------------------------

    def _sync_reports(self, incidents: Sequence[Incident]) -> None:
        from fenghuo.intel.reports import sync_reports

        self.stats.reports += sync_reports(self.store, incidents, self.inventory(), self.clock())


def writer_for(
    settings: Settings, store: Store, inventory: Callable[[], InventoryIndex | None]
) -> FeedWriter:
    """The feed writer as every entry point configures it (the feed service, the API after an
    analyst's action or a new collection, the command line)."""
    return FeedWriter(
        store,
        settings.pseudonym_key.get_secret_value().encode(),
        inventory,
        provider_name=settings.provider_name,
    )


def refresh_incident(writer: FeedWriter, incident_id: str) -> bool:
    """Write the feed and reports of one stored incident again (after an analyst's action: its
    determination, investigation status and closing report follow the analyst's status).
    False when the store does not hold it."""
    view = writer.store.incidents.get(ALL, incident_id)
    if view is None:
        return False
    writer.write([view.incident])
    return True


def _same_content(stored: dict[str, Any], new: dict[str, Any]) -> bool:
    """Equal but for `modified` (which every rebuild stamps anew)."""
    return {k: v for k, v in stored.items() if k != "modified"} == {
        k: v for k, v in new.items() if k != "modified"
    }
