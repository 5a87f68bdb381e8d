"""Live updates for the console: one poller per API process, fanned out to server-sent-event
subscribers, each scoped and pseudonymised like any read of the caller.

Why a shared poller: the stream job, the correlator and the API all write the store, so the API
learns of changes by reading it, and one read per tick for every subscriber (the store's change
log, `fenghuo.store.sqlite_changes`) stays cheap however many consoles are open. Statistics are
computed once per tick per distinct scope (every tenant, or one tenant), not per subscriber.

Bounds: at most `max_subscribers` streams (more: 503), a subscriber that does not read its
queue is dropped rather than buffered without end, a stream closes after `max_session` (the
client reconnects and re-reads the lists), and the key is re-verified every `recheck`, so a
revoked key loses its stream. A client that goes away is noticed by the next send (a heartbeat
at the latest).

Wire format (`text/event-stream`): `event: NAME`, for change events `id: SEQ` (the change log's
sequence number), and `data:` one JSON object. Names: `alert`, `incident`, `report`, `stats`,
`heartbeat`, `resync` (changes were skipped: re-read the lists), `bye` (the server closes the
stream; `reason` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import statistics
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
from starlette.concurrency import run_in_threadpool

from fenghuo.api.deps import Caller, Services
from fenghuo.api.problems import Problem
from fenghuo.model.alert import Alert
from fenghuo.model.incident import Incident
from fenghuo.store.base import AlertQuery, IncidentQuery, Scope
from fenghuo.store.figures import OPEN_STATUSES
from fenghuo.store.keys import Role
from fenghuo.store.sqlite_changes import ChangeBatch

log = logging.getLogger(__name__)
LAG_BASIS = "detected_at - first_seen"  # first evidence event -> first alert (merge-stable)
LAG_SAMPLE = 200


class ChangeFeed(Protocol):
    """What a store offers the stream (SQLite today; without one, only stats and heartbeats)."""

    def latest(self) -> int: ...

    def since(self, seq: int, limit: int = ...) -> ChangeBatch: ...


@dataclass(frozen=True)
class StreamLimits:
    tick: float = 1.0  # seconds between change-log reads
    stats_every: float = 5.0
    heartbeat_every: float = 15.0
    max_subscribers: int = 200
    queue: int = 1000  # events a subscriber may have unread before it is dropped
    max_session: float = 3600.0
    recheck: float = 30.0
    max_batches: int = 5  # change-log batches per tick before skipping ahead (`resync`)


@dataclass(eq=False)
class Subscriber:
    caller: Caller
    token: str
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(1000))
    closed: str | None = None  # the reason, once the hub ended it

    @property
    def reads_data(self) -> bool:
        return self.caller.key.role is not Role.REGULATOR

    def offer(self, message: str) -> None:
        if self.closed is not None:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.closed = "too slow: events were not read"


def frame(event: str, data: Any, seq: int | None = None) -> str:
    """One server-sent event (JSON has no raw newlines, so one `data:` line)."""
    head = f"event: {event}\n" + (f"id: {seq}\n" if seq is not None else "")
    return f"{head}data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def alert_event(alert: Alert, status: str) -> dict[str, Any]:
    doc = msgspec.to_builtins(alert)
    keep = ("id", "detector", "severity", "title", "tenant_id", "actor_tenant_id", "host_id")
    times = ("first_seen", "last_seen", "detected_at")
    return {**{k: doc[k] for k in (*keep, *times)}, "status": status}


def incident_event(incident: Incident) -> dict[str, Any]:
    doc = msgspec.to_builtins(incident)
    keep = ("id", "grade", "severity", "title", "status", "tenants", "actor_tenants")
    return {k: doc[k] for k in (*keep, "first_seen", "last_seen", "updated_at")}


def _ingest_rate(services: Services, scope: Scope) -> float | None:
    """Events per second this process's ingest pipeline published (the HTTP gateway, and the
    simulation under `fenghuo up`); None without one (other ingest processes are not seen).
    Cloud-wide, so only for callers who see every tenant: a tenant viewer would learn its
    neighbours' activity from it."""
    if services.ingestor is None or scope.tenant is not None:
        return None
    return round(services.ingestor.meter.rate(), 1)


def live_stats(services: Services, scope: Scope) -> dict[str, Any]:
    """The overview's headline figures now (run in a worker thread)."""
    store, now = services.store, services.clock()
    last_hour = store.alerts.count(scope, AlertQuery(since=now - dt.timedelta(hours=1)))
    figures = store.incidents.aggregate(scope, IncidentQuery(statuses=OPEN_STATUSES))
    recent = store.alerts.list(scope, AlertQuery(), limit=LAG_SAMPLE).items
    lags = sorted(
        max(0.0, (v.alert.detected_at - v.alert.first_seen).total_seconds()) for v in recent
    )
    return {
        "at": now.isoformat().replace("+00:00", "Z"),
        "alerts_last_hour": last_hour,
        "open_incidents": figures.open,
        "open_by_grade": figures.open_by_grade,
        "open_by_severity": figures.open_by_severity,
        "open_by_grade_severity": figures.open_matrix,
        "events_per_second": _ingest_rate(services, scope),
        "detection_lag": {
            "basis": LAG_BASIS,
            "alerts": len(lags),
            "p50_s": statistics.median(lags) if lags else None,
            "p95_s": lags[min(len(lags) - 1, int(0.95 * len(lags)))] if lags else None,
        },
    }


class StreamHub:
    """The poller and its subscribers; lives in `app.state.stream_hub`."""

    def __init__(self, services: Services, limits: StreamLimits | None = None) -> None:
        self.services = services
        self.limits = limits or StreamLimits()
        self.subscribers: set[Subscriber] = set()
        self.closing = False  # set from another thread by `close`; read by every loop
        self._task: asyncio.Task[None] | None = None
        self._seq: int | None = None
        feed = getattr(services.store, "changes", None)
        self.feed: ChangeFeed | None = feed

    def close(self) -> None:
        """End every stream (server shutdown): each notices within a tick."""
        self.closing = True

    async def subscribe(self, caller: Caller, token: str) -> Subscriber:
        if len(self.subscribers) >= self.limits.max_subscribers or self.closing:
            raise Problem(
                503, "Too many live streams", "try again later", headers={"Retry-After": "10"}
            )
        if self.feed is not None and self._seq is None:
            self._seq = await run_in_threadpool(self.feed.latest)
        subscriber = Subscriber(caller, token, asyncio.Queue(self.limits.queue))
        self.subscribers.add(subscriber)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="fenghuo-stream-hub")
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)

    async def _run(self) -> None:
        """Poll while anyone listens; stop when the last subscriber leaves."""
        loop = asyncio.get_running_loop()
        next_stats = loop.time() + self.limits.stats_every
        while self.subscribers and not self.closing:
            try:
                await self._poll_changes()
                if loop.time() >= next_stats:
                    next_stats = loop.time() + self.limits.stats_every
                    await self.publish_stats(list(self.subscribers))
            except Exception:  # a store hiccup must not end the streams; recorded, retried
                log.exception("live stream: polling the store failed")
            await asyncio.sleep(self.limits.tick)
        self._seq = None  # the next first subscriber starts from the log's end, not from here

    async def _poll_changes(self) -> None:
        if self.feed is None or self._seq is None:
            return
        for _ in range(self.limits.max_batches):
            batch = await run_in_threadpool(self.feed.since, self._seq)
            self._seq = batch.last_seq
            await self._dispatch(batch)
            if not batch.more:
                return
        # A flood (a bulk load, a replay): skip to the end and tell the pages to re-read.
        self._seq = await run_in_threadpool(self.feed.latest)
        message = frame("resync", {"reason": "too many changes at once: reload the lists"})
        for subscriber in list(self.subscribers):
            subscriber.offer(message)

    async def _dispatch(self, batch: ChangeBatch) -> None:
        cache: dict[str, str] = {}  # one encoding per event and scope
        for view in batch.alerts:
            a = view.alert
            owners = {a.tenant_id, a.actor_tenant_id}
            event = alert_event(a, view.state.status.value)
            self._fan_out("alert", event, batch.last_seq, owners, cache, f"a:{a.id}")
        for iview in batch.incidents:
            i = iview.incident
            owners = {*i.tenants, *i.actor_tenants}
            event = incident_event(i)
            self._fan_out("incident", event, batch.last_seq, owners, cache, f"i:{i.id}")
        if batch.reports:
            for subscriber in list(self.subscribers):
                for report in await run_in_threadpool(self._reports_for, subscriber, batch):
                    subscriber.offer(frame("report", report, batch.last_seq))

    def _fan_out(
        self,
        name: str,
        event: dict[str, Any],
        seq: int,
        owners: set[str | None],
        cache: dict[str, str],
        what: str,
    ) -> None:
        for subscriber in list(self.subscribers):
            if not subscriber.reads_data:
                continue
            tenant = subscriber.caller.scope.tenant
            if tenant is not None and tenant not in owners:
                continue
            key = f"{what}|{tenant}"
            if key not in cache:
                cache[key] = frame(name, subscriber.caller.redactor.document(event), seq)
            subscriber.offer(cache[key])

    def _reports_for(self, subscriber: Subscriber, batch: ChangeBatch) -> list[dict[str, Any]]:
        caller, store, now = subscriber.caller, self.services.store, self.services.clock()
        within: frozenset[str] | None = None
        if caller.key.role is Role.REGULATOR:
            granted = [c.id for c in store.collections.list() if c.readable_by(caller.key)]
            within = frozenset(store.objects.sources(granted)) if granted else frozenset()
        found = []
        for report_id in batch.reports:
            report = store.reports.get(caller.scope, report_id, now, within=within)
            if report is not None:
                doc = msgspec.to_builtins(report)
                keep = ("id", "incident_id", "kind", "tenant_id", "grade", "state")
                event = {k: doc.get(k) for k in (*keep, "due_at", "submitted_at")}
                found.append(caller.redactor.document(event))
        return found

    async def publish_stats(self, subscribers: list[Subscriber]) -> None:
        """One computation per distinct scope among `subscribers` (regulators get none)."""
        scopes = {s.caller.scope for s in subscribers if s.reads_data}
        for scope in scopes:
            figures = await run_in_threadpool(live_stats, self.services, scope)
            message = frame("stats", figures)
            for subscriber in subscribers:
                if subscriber.reads_data and subscriber.caller.scope == scope:
                    subscriber.offer(message)

    async def events(
        self,
        subscriber: Subscriber,
        max_events: int | None,
        verify: Callable[[str], bool],
    ) -> AsyncIterator[str]:
        """The subscriber's stream: a first `stats` (readers) or `heartbeat`, then whatever the
        poller queues, heartbeats in quiet times, and `bye` when the server ends it."""
        loop = asyncio.get_running_loop()
        started = last_sent = last_check = loop.time()
        sent = 0
        try:
            yield "retry: 3000\n\n"
            if subscriber.reads_data:
                await self.publish_stats([subscriber])
            else:
                subscriber.offer(frame("heartbeat", {"at": _now(self.services)}))
            while True:
                reason = subscriber.closed or ("server stopping" if self.closing else None)
                now = loop.time()
                if reason is None and now - started >= self.limits.max_session:
                    reason = "session limit: reconnect"
                if reason is None and now - last_check >= self.limits.recheck:
                    last_check = now
                    if not await run_in_threadpool(verify, subscriber.token):
                        reason = "key revoked"
                if reason is not None:
                    yield frame("bye", {"reason": reason})
                    return
                message: str | None = None
                with contextlib.suppress(TimeoutError):
                    message = await asyncio.wait_for(subscriber.queue.get(), timeout=0.5)
                if message is None and now - last_sent >= self.limits.heartbeat_every:
                    message = frame("heartbeat", {"at": _now(self.services)})
                if message is None:
                    continue
                yield message
                last_sent = loop.time()
                sent += 1
                if max_events is not None and sent >= max_events:
                    return
        finally:
            self.unsubscribe(subscriber)


def _now(services: Services) -> str:
    return services.clock().isoformat().replace("+00:00", "Z")
