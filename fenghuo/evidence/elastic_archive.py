"""The event archive on the search server (Elasticsearch or OpenSearch, through
`fenghuo.store.search_client`): one index, `<prefix>events`, created at first use.

Each document keeps the event as stored JSON text (`doc`, not indexed: the archive is read by
id, never searched) beside the fields retention and a future pivot need. Writes are `_bulk`
`create` actions, so a repeat of an archived event is a conflict, counted as already kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from fenghuo.model.events import Event, decode_event, encode_event
from fenghuo.store.base import StoreError
from fenghuo.store.search_client import (
    BulkOp,
    Flavour,
    SearchBadRequest,
    SearchClient,
    SearchConflict,
    connect,
)

_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "archived_at": {"type": "date"},
        "event_time": {"type": "date"},
        "tenant_id": {"type": "keyword"},
        "host_id": {"type": "keyword"},
        "doc": {"type": "text", "index": False},
    },
}
_GET_CHUNK = 1000
_PUT_CHUNK = 500  # events per _bulk request


class ElasticEventArchive:
    def __init__(self, client: SearchClient, prefix: str) -> None:
        self.client = client
        self.index = f"{prefix}events"
        self.refresh_on_write = False  # tests: see each write at once
        if not client.indices.exists(index=self.index):
            try:
                client.indices.create(index=self.index, mappings=_MAPPINGS)
            except SearchBadRequest as exc:  # another process (API, service) created it first
                if exc.error != "resource_already_exists_exception":
                    raise

    @classmethod
    def connect(
        cls, url: str, *, prefix: str = "fenghuo-", flavour: Flavour = "elasticsearch"
    ) -> ElasticEventArchive:
        return cls(connect(flavour, url), prefix)

    def put(self, events: Sequence[Event], archived_at: dt.datetime) -> int:
        created = 0
        for start in range(0, len(events), _PUT_CHUNK):
            created += self._put(events[start : start + _PUT_CHUNK], archived_at)
        return created

    def _put(self, events: Sequence[Event], archived_at: dt.datetime) -> int:
        operations = [
            BulkOp(
                "create",
                self.index,
                e.id,
                {
                    "archived_at": archived_at.isoformat(),
                    "event_time": e.event_time.isoformat(),
                    "tenant_id": e.tenant_id,
                    "host_id": e.host_id,
                    "doc": encode_event(e).decode(),
                },
            )
            for e in events
        ]
        if not operations:
            return 0
        items = self.client.bulk(operations=operations, refresh=self.refresh_on_write)
        # A conflict is an event kept already; any other failure is not written.
        failed = [i for i in items if i.error and not isinstance(i.error, SearchConflict)]
        if failed:
            msg = f"event archive: {len(failed)} events not written, e.g. {failed[0].error}"
            raise StoreError(msg)
        return sum(1 for i in items if i.error is None)

    def get(self, ids: Sequence[str]) -> dict[str, Event]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Event] = {}
        for start in range(0, len(wanted), _GET_CHUNK):
            answer = self.client.mget(
                index=self.index, ids=wanted[start : start + _GET_CHUNK], source_includes=["doc"]
            )
            for hit in answer["docs"]:
                if hit.get("found"):
                    found[hit["_id"]] = decode_event(hit["_source"]["doc"])
        return found

    def prune(self, before: dt.datetime) -> int:
        answer = self.client.delete_by_query(
            index=self.index,
            query={"range": {"archived_at": {"lt": before.isoformat()}}},
            refresh=True,
            conflicts="proceed",
        )
        return int(answer.get("deleted", 0))

    def count(self) -> int:
        self.client.indices.refresh(index=self.index)
        return int(self.client.count(index=self.index)["count"])

    def close(self) -> None:
        self.client.close()
