"""The event archive in Elasticsearch: one index, `<prefix>events`, created at first use.

Each document keeps the event as stored JSON text (`doc`, not indexed: the archive is read by
id, never searched) beside the fields retention and a future pivot need. Writes use
`op_type=create`, so a repeat of an archived event is a conflict, counted as already kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, helpers

from fenghuo.model.events import Event, decode_event, encode_event
from fenghuo.store.base import StoreError

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


class ElasticEventArchive:
    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self.client = client
        self.index = f"{prefix}events"
        self.refresh_on_write = False  # tests: see each write at once
        if not client.indices.exists(index=self.index):
            try:
                client.indices.create(index=self.index, mappings=_MAPPINGS)
            except BadRequestError as exc:  # another process (API, service) created it first
                if exc.error != "resource_already_exists_exception":
                    raise

    @classmethod
    def connect(cls, url: str, *, prefix: str = "fenghuo-") -> ElasticEventArchive:
        client = Elasticsearch(url, request_timeout=30, retry_on_timeout=True, max_retries=3)
        return cls(client, prefix)

    def put(self, events: Sequence[Event], archived_at: dt.datetime) -> int:
        actions = [
            {
                "_op_type": "create",
                "_index": self.index,
                "_id": e.id,
                "_source": {
                    "archived_at": archived_at.isoformat(),
                    "event_time": e.event_time.isoformat(),
                    "tenant_id": e.tenant_id,
                    "host_id": e.host_id,
                    "doc": encode_event(e).decode(),
                },
            }
            for e in events
        ]
        if not actions:
            return 0
        created, errors = helpers.bulk(
            self.client,
            actions,
            raise_on_error=False,
            refresh=self.refresh_on_write,
            stats_only=False,
        )
        failed = [item for item in _items(errors) if _status(item) != 409]  # 409: kept already
        if failed:
            msg = f"event archive: {len(failed)} events not written, e.g. {failed[0]}"
            raise StoreError(msg)
        return int(created)

    def get(self, ids: Sequence[str]) -> dict[str, Event]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Event] = {}
        for start in range(0, len(wanted), _GET_CHUNK):
            answer = self.client.mget(
                index=self.index, ids=wanted[start : start + _GET_CHUNK], source_includes=["doc"]
            )
            for hit in answer.body["docs"]:
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
        return int(answer.body.get("deleted", 0))

    def count(self) -> int:
        self.client.indices.refresh(index=self.index)
        return int(self.client.count(index=self.index).body["count"])

    def close(self) -> None:
        self.client.close()


def _items(errors: int | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return errors if isinstance(errors, list) else []


def _status(item: dict[str, Any]) -> int | None:
    """The HTTP status of one bulk item's outcome (`{"create": {"status": 409, ...}}`)."""
    outcome: object = next(iter(item.values()), None)
    status = outcome.get("status") if isinstance(outcome, dict) else None
    return status if isinstance(status, int) else None
