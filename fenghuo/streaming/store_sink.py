"""The stream job's store writer: alerts into the store in batches, beside the topic, at least once.

The detect output branches: one branch goes straight to the `fenghuo.alerts` topic (`sinks`),
the other to `BatchingStoreWriter`, so no alert waits for the store on its way to the topic.
The writer is a KeyedProcessFunction on one constant key (one parallel instance: SQLite takes
one writer at a time, and one key gathers every alert into one batch). Each alert is appended to
a ListState buffer; the buffer is written with ONE `upsert(batch)` when it holds `max_alerts`
or when a processing-time timer, set `max_wait` after the first buffered alert, fires. The
branch emits nothing downstream.

At least once, with nothing lost: the buffer is keyed state and the timer a Flink timer, both
part of every checkpoint. A restore brings back what was buffered (and its timer, which fires at
once if overdue); what was emitted after the checkpoint is emitted again. Upserts are idempotent
by alert id (`merge_alerts`), so a batch written twice changes nothing.

A store outage (SQLite locked beyond its busy timeout, disk full, the search server down or
overloaded) is retried with backoff inside the flush (`fenghuo.store.retry.with_backoff`): the
writer's thread waits, and the topic branch keeps flowing until the network buffers in front of
the writer are full (Flink's buffers for that channel, some hundreds of kilobytes, i.e. hundreds
to a few thousand alerts). Only then does the detect step wait, so a long outage back-pressures
the whole job instead of queueing alerts in memory. While the writer waits, its checkpoint
barrier waits too: checkpoints stop completing (and Kafka offsets stop being committed) until the
store is back, so a crash during an outage re-reads from the last completed checkpoint.

The store is the settings' backend (`settings`, else the worker's own, read when the function
opens): SQLite at the job's store path, or the search server (Elasticsearch at FENGHUO_ES_URL,
OpenSearch at FENGHUO_OPENSEARCH_URL), also on a cluster. Tests pass their own `opener` (a store
that also records its batches, or one on a node of their own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from fenghuo.errors import ConfigError
from fenghuo.model.alert import Alert, decode_alert
from fenghuo.settings import Settings, get_settings
from fenghuo.store.base import Store
from fenghuo.store.factory import open_store
from fenghuo.store.retry import with_backoff
from fenghuo.store.sqlite import SqliteStore

STORE_KEY = 0  # the one key every alert is buffered under


@dataclass(frozen=True)
class StoreBatching:
    """When the writer flushes: at `max_alerts` buffered, or `max_wait` after the first."""

    max_alerts: int = 500
    max_wait: dt.timedelta = dt.timedelta(milliseconds=200)

    def __post_init__(self) -> None:
        if self.max_alerts < 1:
            msg = f"a store batch holds at least one alert, not {self.max_alerts}"
            raise ConfigError(msg)
        if self.max_wait <= dt.timedelta(0):
            msg = f"the store flush interval must be positive, not {self.max_wait}"
            raise ConfigError(msg)

    @property
    def max_wait_ms(self) -> int:
        return max(1, int(self.max_wait.total_seconds() * 1000))


class AlertBatchTarget(Protocol):
    """What the writer needs of a store: one bulk upsert, and closing."""

    def upsert(self, alerts: list[Alert]) -> object: ...

    def close(self) -> None: ...


class StoreAlerts:
    """A store's alert repository as a batch target (the store is closed with it)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def upsert(self, alerts: list[Alert]) -> int:
        return self.store.alerts.upsert(alerts)

    def close(self) -> None:
        self.store.close()


def open_job_store(path: Path, settings: Settings | None = None) -> AlertBatchTarget:
    """The settings' backend (else the worker's own settings): SQLite at `path`, or the
    configured search server."""
    chosen = settings or get_settings()
    store: Store = SqliteStore(path) if chosen.store == "sqlite" else open_store(chosen)
    return StoreAlerts(store)


def store_key(_value: Any) -> int:
    return STORE_KEY


class BatchingStoreWriter(KeyedProcessFunction):  # type: ignore[misc]  # pyflink has no stubs
    """Buffers alert rows (tenant, alert JSON) in keyed state and upserts them in batches; see
    the module docstring. Counters: `alerts_stored` (alert rows written) and `store_flushes`
    (upsert calls), so their ratio is the mean batch size."""

    def __init__(
        self,
        path: Path,
        batching: StoreBatching = StoreBatching(),
        settings: Settings | None = None,
        opener: Callable[[Path], AlertBatchTarget] | None = None,
    ) -> None:
        self.path = path
        self.batching = batching
        self.settings = settings
        self.opener = opener

    def open(self, runtime_context: RuntimeContext) -> None:
        self.target = (
            self.opener(self.path)
            if self.opener is not None
            else open_job_store(self.path, self.settings)
        )
        self.buffer = runtime_context.get_list_state(
            ListStateDescriptor("store-buffer", Types.STRING())
        )
        # (alerts buffered, the flush timer's time): one read and one write per alert.
        self.pending = runtime_context.get_state(
            ValueStateDescriptor("store-pending", Types.TUPLE([Types.INT(), Types.LONG()]))
        )
        metrics = runtime_context.get_metrics_group()
        self.stored = metrics.counter("alerts_stored")
        self.flushes = metrics.counter("store_flushes")

    def process_element(self, value: Any, ctx: Any) -> None:
        self.buffer.add(value[1])
        pending = self.pending.value()
        count, deadline = (pending[0] + 1, pending[1]) if pending is not None else (1, None)
        timers = ctx.timer_service()
        if count >= self.batching.max_alerts:
            self._flush(timers, deadline)
            return
        # A new timer for the first alert of a batch, or when the current one lies further out
        # than the interval allows (restored from a run configured with a longer interval).
        wanted = timers.current_processing_time() + self.batching.max_wait_ms
        if deadline is None or deadline > wanted:
            if deadline is not None:
                timers.delete_processing_time_timer(deadline)
            timers.register_processing_time_timer(wanted)
            deadline = wanted
        self.pending.update((count, deadline))

    def on_timer(self, timestamp: int, ctx: Any) -> None:
        pending = self.pending.value()
        if pending is not None and pending[1] == timestamp:  # else: a timer already replaced
            self._flush(ctx.timer_service(), None)

    def _flush(self, timers: Any, deadline: int | None) -> None:
        """Write the buffer in one upsert (waiting out a store outage), then empty it and drop
        its timer (`deadline`, None when it is the one firing)."""
        batch = [decode_alert(payload) for payload in self.buffer.get() or ()]
        if batch:
            with_backoff(lambda: self.target.upsert(batch))
            self.stored.inc(len(batch))
            self.flushes.inc()
        self.buffer.clear()
        self.pending.clear()
        if deadline is not None:
            timers.delete_processing_time_timer(deadline)

    def close(self) -> None:
        target: AlertBatchTarget | None = getattr(self, "target", None)
        if target is not None:
            target.close()
