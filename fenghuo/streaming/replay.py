"""Bounded replay: the detection engine over files, without Kafka or Flink.

Events are processed in event-time order; the watermark trails the newest event time by the
same bounded out-of-orderness the stream job uses, and timers fire when it passes them, as in
Flink. At the end the watermark jumps to infinity and every timer fires, closing all windows.
The result is the final version of every alert (updates folded by id), which is what the stream
job's output folds to as well. Watermark flush events (see `flush`) move the watermark and reach
no detector, as in the job.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from fenghuo.detectors.engine import DetectionEngine, KeyState, Step
from fenghuo.model import Event
from fenghuo.model.alert import Alert, merge_alerts
from fenghuo.streaming.flush import is_watermark_flush

DEFAULT_OUT_OF_ORDERNESS = dt.timedelta(seconds=5)


@dataclass
class ReplayResult:
    alerts: list[Alert]  # final versions, ordered by (first_seen, id)
    events: int = 0
    emitted: int = 0  # alert versions emitted along the way (updates included)
    failures: dict[str, int] = field(default_factory=dict)


def fold_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """The final version of each alert of an update stream, ordered by (first_seen, id)."""
    final: dict[str, Alert] = {}
    for alert in alerts:
        previous = final.get(alert.id)
        final[alert.id] = alert if previous is None else merge_alerts(previous, alert)
    return sorted(final.values(), key=lambda a: (a.first_seen, a.id))


class _Runner:
    def __init__(self, engine: DetectionEngine) -> None:
        self.engine = engine
        self.states: dict[str, KeyState] = {}
        self.timers: list[tuple[dt.datetime, str]] = []
        self.registered: set[tuple[dt.datetime, str]] = set()
        self.emitted: list[Alert] = []

    def apply(self, state_key: str, step: Step) -> None:
        if step.state is None:
            self.states.pop(state_key, None)
        else:
            self.states[state_key] = step.state
        for at in step.timers:
            if (at, state_key) not in self.registered:  # Flink deduplicates timers too
                self.registered.add((at, state_key))
                heapq.heappush(self.timers, (at, state_key))
        self.emitted.extend(step.alerts)

    def advance(self, watermark: dt.datetime | None) -> None:
        """Fire every timer at or before the watermark (all of them when it is None)."""
        while self.timers and (watermark is None or self.timers[0][0] <= watermark):
            at, state_key = heapq.heappop(self.timers)
            self.registered.discard((at, state_key))
            detector_id, key = DetectionEngine.split_state_key(state_key)
            self.apply(
                state_key,
                self.engine.on_timer(detector_id, key, self.states.get(state_key), at),
            )

    def event(self, event: Event, watermark: dt.datetime) -> None:
        for detector_id, key in self.engine.route(event):
            state_key = DetectionEngine.state_key(detector_id, key)
            step = self.engine.on_event(
                detector_id, key, self.states.get(state_key), event, watermark
            )
            self.apply(state_key, step)


def replay(
    events: Iterable[Event],
    engine: DetectionEngine,
    out_of_orderness: dt.timedelta = DEFAULT_OUT_OF_ORDERNESS,
    *,
    arrival_order: bool = False,
) -> ReplayResult:
    """Run the engine over `events`. By default they are sorted by event time first; with
    `arrival_order` they are taken as given, the way a stream delivers them (the watermark
    still trails the newest event time seen), which tests use to show that detectors give the
    same final alerts whatever the order within the out-of-orderness bound."""
    ordered = list(events) if arrival_order else sorted(events, key=lambda e: (e.event_time, e.id))
    runner = _Runner(engine)
    watermark: dt.datetime | None = None
    for event in ordered:
        candidate = event.event_time - out_of_orderness
        if watermark is None or candidate > watermark:
            watermark = candidate
            runner.advance(watermark)
        if not is_watermark_flush(event):
            runner.event(event, watermark)
    runner.advance(None)
    return ReplayResult(
        alerts=fold_alerts(runner.emitted),
        events=len(ordered),
        emitted=len(runner.emitted),
        failures=dict(engine.failures),
    )
