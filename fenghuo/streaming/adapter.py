"""The engine inside Flink: one routing function and ONE generic KeyedProcessFunction.

`RouteFunction` decodes each telemetry record and asks the engine which (detector, key) pairs
want it; the job keys the stream by `state_key` so every pair has its own Flink key.
`DetectFunction` then runs whichever detector the key names. Its state is one pickled `Slot`
(the engine's `KeyState`, the key's pending engine timers, its replay watermark) in a
ValueState, plus the key's buffered events in a ListState; engine timers become Flink event-time
timers. Event order per key follows `keyed.KeyedRunner`, so the alerts equal replay's.

A detector that raises is logged and counted by the engine and skipped; the functions add the
count to the Flink counter `detector_failures`. Detectors are plain Python: the functions receive
them (or take the registry's) through `EngineSpec`, which is what tests use to inject their own.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from pyflink.common import Row, Types
from pyflink.datastream import FlatMapFunction, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor, ValueStateDescriptor

from fenghuo.detectors.base import Detector
from fenghuo.detectors.config import DetectionConfig, load_detection_config
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.routing import UNATTRIBUTED_KEY
from fenghuo.inventory import InventoryStore
from fenghuo.model import Event, decode_event
from fenghuo.model.alert import Alert, encode_alert
from fenghuo.settings import get_settings
from fenghuo.store.base import Store
from fenghuo.store.factory import open_store
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming.flush import is_watermark_flush
from fenghuo.streaming.keyed import KeyedRunner, Slot, from_millis, to_millis
from fenghuo.streaming.suppressions import StoreSuppressions

log = logging.getLogger(__name__)

# (state_key, event time in epoch ms, event JSON): what routing emits and the job keys by.
ROUTED_TYPE = Types.TUPLE([Types.STRING(), Types.LONG(), Types.STRING()])
# (Kafka key = tenant id, alert JSON): what the detect function emits to the sinks.
ALERT_TYPE = Types.ROW_NAMED(["tenant", "alert"], [Types.STRING(), Types.STRING()])


@dataclass(frozen=True)
class EngineSpec:
    """How each parallel instance builds its engine (pickled into the job's functions)."""

    inventory: Path
    detection_config: Path | None = None
    detectors: tuple[Detector, ...] | None = None  # None: every registered detector
    out_of_orderness: dt.timedelta = dt.timedelta(seconds=5)
    allowed_lateness: dt.timedelta = dt.timedelta(minutes=5)
    # The SQLite store whose analyst suppression rules apply live (None: configured rules only,
    # unless the store is a search server, which every worker can reach).
    suppressions_db: Path | None = None

    def build(self) -> DetectionEngine:
        detectors: Sequence[Detector] = (
            self.detectors if self.detectors is not None else instantiate()
        )
        config = (
            load_detection_config(self.detection_config)
            if self.detection_config is not None
            else DetectionConfig()
        )
        inventory = InventoryStore(self.inventory)  # re-read when the file changes
        opener = self._suppression_store()
        live = StoreSuppressions(opener) if opener is not None else None
        return DetectionEngine(
            detectors,
            inventory.current,
            config,
            allowed_lateness=self.allowed_lateness,
            live_suppressions=live,
        )

    def _suppression_store(self) -> Callable[[], Store] | None:
        """Where the analysts' rules live: the search server (Elasticsearch or OpenSearch) when
        the worker's settings say so (also on a cluster), else the job's SQLite store when it
        has one."""
        settings = get_settings()
        if settings.store != "sqlite":
            return lambda: open_store(settings)
        db = self.suppressions_db
        return (lambda: SqliteStore(db)) if db is not None else None


def alert_row(alert: Alert) -> Row:
    return Row(alert.tenant_id or UNATTRIBUTED_KEY, encode_alert(alert).decode())


class _FailureCounter:
    """Mirrors the engine's failure count into a Flink counter."""

    def __init__(self, engine: DetectionEngine, counter: Any) -> None:
        self._engine = engine
        self._counter = counter
        self._seen = 0

    def sync(self) -> None:
        total = sum(self._engine.failures.values())
        if total != self._seen:
            self._counter.inc(total - self._seen)
            self._seen = total


class RouteFunction(FlatMapFunction):  # type: ignore[misc]  # pyflink has no type stubs
    """Telemetry record -> one (state_key, event ms, JSON) per interested (detector, key)."""

    def __init__(self, spec: EngineSpec) -> None:
        self.spec = spec

    def open(self, runtime_context: RuntimeContext) -> None:
        self.engine = self.spec.build()
        metrics = runtime_context.get_metrics_group()
        self.events = metrics.counter("events")
        self.routed = metrics.counter("routed")  # (event, detector) pairs sent on
        self.bad_records = metrics.counter("bad_records")
        self.failures = _FailureCounter(self.engine, metrics.counter("detector_failures"))

    def flat_map(self, value: Any) -> Iterator[tuple[str, int, str]]:
        payload: str | None = value[0]
        if payload is None:  # a tombstone: nothing to decode
            self.bad_records.inc()
            return
        try:
            event = decode_event(payload)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.bad_records.inc()
            log.warning("skipping a telemetry record that is not an event: %s", exc)
            return
        if is_watermark_flush(event):
            return  # it has moved the watermark at the source; no detector wants it
        self.events.inc()
        at = to_millis(event.event_time)
        routes = self.engine.route(event)
        self.failures.sync()
        self.routed.inc(len(routes))
        for detector_id, key in routes:
            yield DetectionEngine.state_key(detector_id, key), at, payload


class DetectFunction(KeyedProcessFunction):  # type: ignore[misc]  # pyflink has no type stubs
    """Runs the detector its key names; see the module docstring.

    Events wait in a ListState as (time in ms, JSON), each time with a Flink timer. The first
    timer of a key that a watermark fires runs, in one batch, every event the watermark has
    passed and the engine timers due by then, and deletes the batch's other timers. So the
    `Slot` is read and written once per key and watermark, whatever the number of events: a
    detector keyed by one global entity keeps large state, and pickling it per event would
    cost milliseconds each. An engine timer at `t` wakes the key at `t + bound` (see `keyed`).
    Slots just written stay in a small in-memory cache, which saves unpickling them on the
    next wake-up (the cache belongs to this instance; a restore starts a new one).
    """

    def __init__(self, spec: EngineSpec, cache_size: int = 4096) -> None:
        self.spec = spec
        self.bound_ms = int(spec.out_of_orderness.total_seconds() * 1000)
        self.cache_size = cache_size

    def open(self, runtime_context: RuntimeContext) -> None:
        self.engine = self.spec.build()
        self.runner = KeyedRunner(self.engine, self.spec.out_of_orderness)
        self.slot_state = runtime_context.get_state(
            ValueStateDescriptor("slot", Types.PICKLED_BYTE_ARRAY())
        )
        self.pending = runtime_context.get_list_state(
            ListStateDescriptor("pending", Types.TUPLE([Types.LONG(), Types.STRING()]))
        )
        self.cache: OrderedDict[str, Slot] = OrderedDict()
        metrics = runtime_context.get_metrics_group()
        self.failures = _FailureCounter(self.engine, metrics.counter("detector_failures"))
        self.late_events = metrics.counter("late_events")
        self.events = metrics.counter("events")  # (event, detector) pairs run
        self.alerts = metrics.counter("alerts")

    def process_element(self, value: Any, ctx: Any) -> Iterator[Row]:
        _state_key, at, payload = value
        timers = ctx.timer_service()
        watermark = timers.current_watermark()
        if at > watermark:
            self.pending.add((at, payload))
            timers.register_event_time_timer(at)
            return
        # Beyond the out-of-orderness bound: replay would have seen it earlier. Process it now
        # rather than drop it (the alert may be late, never lost).
        self.late_events.inc()
        yield from self._run(ctx, [payload], watermark)

    def on_timer(self, timestamp: int, ctx: Any) -> Iterator[Row]:
        timers = ctx.timer_service()
        watermark = max(timestamp, timers.current_watermark())
        buffered = list(self.pending.get() or ())
        due = [entry for entry in buffered if entry[0] <= watermark]
        if due:
            rest = [entry for entry in buffered if entry[0] > watermark]
            if rest:
                self.pending.update(rest)
            else:
                self.pending.clear()
            for at in {entry[0] for entry in due} - {timestamp}:
                timers.delete_event_time_timer(at)  # due in this same watermark: done now
        yield from self._run(ctx, [entry[1] for entry in due], watermark, firing=timestamp)

    def _slot(self, state_key: str) -> Slot:
        cached = self.cache.get(state_key)
        if cached is not None:
            self.cache.move_to_end(state_key)
            return cached
        raw = self.slot_state.value()
        return raw if raw is not None else Slot()

    def _keep(self, state_key: str, slot: Slot) -> None:
        if slot.is_empty():
            self.cache.pop(state_key, None)
            self.slot_state.clear()
            return
        self.slot_state.update(slot)
        self.cache[state_key] = slot
        self.cache.move_to_end(state_key)
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)

    def _run(
        self, ctx: Any, payloads: Sequence[str], watermark: int, firing: int | None = None
    ) -> Iterator[Row]:
        """Run these events, then the engine timers due by `watermark - bound`."""
        state_key: str = ctx.get_current_key()
        slot = self._slot(state_key)
        until = from_millis(watermark - self.bound_ms)
        if not payloads and not (slot.timers and (until is None or slot.timers[0] <= until)):
            return  # a wake-up whose work an earlier call did
        events: list[Event] = [decode_event(payload) for payload in payloads]
        outcome = self.runner.run(state_key, slot, events, until)
        self.failures.sync()
        self.events.inc(len(events))
        timers = ctx.timer_service()
        for timer in outcome.fired:  # their wake-ups are due in this same watermark
            wake_up = to_millis(timer) + self.bound_ms
            if wake_up != firing:
                timers.delete_event_time_timer(wake_up)
        for timer in outcome.new_timers:
            timers.register_event_time_timer(to_millis(timer) + self.bound_ms)
        self._keep(state_key, slot)
        self.alerts.inc(len(outcome.alerts))
        for alert in outcome.alerts:
            yield alert_row(alert)
