"""One key's share of replay: the event-time discipline the stream job applies per Flink key.

Flink hands a key its events in arrival order, and a key's events may come from several
partitions (a tenant-keyed detector reads hypervisor and tenant topics), so arrival order is not
event-time order; timers fire when the watermark, the minimum over all partitions, passes them,
which may be long after later events of the same key arrived. Run through the engine as they
come, the same input could then give different alerts depending on partition interleaving.

So the job buffers a key's events until the watermark passes them, and `KeyedRunner` then does
for that key exactly what `replay` does: events in (event_time, id) order, each seen with the
watermark `event_time - bound`; before an event, the key's timers up to that watermark fire, but
only when it moved (replay advances only when the watermark grows); timers registered while
firing fire in the same pass if due. Timers with no event after them fire once the real watermark
is `bound` past them: no event of the key that is still to come could precede them in replay.
Replay's per-key sequence of engine calls depends on nothing else, so the job's alerts equal
replay's for any interleaving within the out-of-orderness bound. Events later than that are still
processed (counted as late by the job), where replay would have placed them earlier.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field

from fenghuo.detectors.engine import DetectionEngine, KeyState, Step
from fenghuo.model import Event
from fenghuo.model.alert import Alert

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_MS = int((dt.datetime.max.replace(tzinfo=dt.UTC) - EPOCH).total_seconds() * 1000)


def to_millis(at: dt.datetime) -> int:
    """Epoch milliseconds (floor), Flink's timestamp unit."""
    delta = at - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_millis(ms: int) -> dt.datetime | None:
    """The UTC datetime of epoch milliseconds; None beyond datetime's range (Flink's end of
    input, Long.MAX_VALUE, means "after everything")."""
    if ms >= _MAX_MS:
        return None
    return EPOCH + dt.timedelta(milliseconds=ms)


@dataclass
class Slot:
    """What one key keeps between calls (besides its buffered events)."""

    state: KeyState | None = None
    watermark: dt.datetime | None = None  # replay's watermark as this key last saw it
    timers: list[dt.datetime] = field(default_factory=list)  # a heap, each time at most once

    def is_empty(self) -> bool:
        return self.state is None and not self.timers


@dataclass
class Outcome:
    alerts: list[Alert] = field(default_factory=list)
    new_timers: list[dt.datetime] = field(default_factory=list)  # still pending afterwards
    fired: list[dt.datetime] = field(default_factory=list)  # timers that fired


class KeyedRunner:
    """Advances one key's `Slot` by a batch of its events and a watermark."""

    def __init__(self, engine: DetectionEngine, out_of_orderness: dt.timedelta) -> None:
        self.engine = engine
        self.bound = out_of_orderness

    def run(
        self,
        state_key: str,
        slot: Slot,
        events: Iterable[Event],
        fire_until: dt.datetime | None,
    ) -> Outcome:
        """Process `events` (every buffered event of the key up to the watermark, any order),
        then fire the timers up to `fire_until` (the real watermark minus the bound; None: all).
        `slot` is updated in place."""
        detector_id, key = DetectionEngine.split_state_key(state_key)
        out = Outcome()
        for event in sorted(events, key=lambda e: (e.event_time, e.id)):
            candidate = event.event_time - self.bound
            if slot.watermark is None or candidate > slot.watermark:
                slot.watermark = candidate
                self._fire(detector_id, key, slot, candidate, out)
            step = self.engine.on_event(detector_id, key, slot.state, event, slot.watermark)
            self._apply(slot, step, out)
        self._fire(detector_id, key, slot, fire_until, out)
        out.new_timers = [t for t in out.new_timers if t in slot.timers]
        return out

    def _fire(
        self, detector_id: str, key: str, slot: Slot, until: dt.datetime | None, out: Outcome
    ) -> None:
        while slot.timers and (until is None or slot.timers[0] <= until):
            at = heapq.heappop(slot.timers)
            out.fired.append(at)
            self._apply(slot, self.engine.on_timer(detector_id, key, slot.state, at), out)

    @staticmethod
    def _apply(slot: Slot, step: Step, out: Outcome) -> None:
        slot.state = step.state
        for at in step.timers:
            if at not in slot.timers:  # Flink and replay both keep one timer per time
                heapq.heappush(slot.timers, at)
                out.new_timers.append(at)
        out.alerts.extend(step.alerts)
