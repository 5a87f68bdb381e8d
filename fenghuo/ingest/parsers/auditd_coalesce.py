"""Reassemble auditd events from records that may arrive interleaved.

The kernel gives every record of one event the same `(timestamp, serial)` and ends multi-record
events with EOE, but records of concurrent events interleave, and transport (audispd, syslog
relays) can delay a record past others. An event is emitted when:

- its EOE arrives;
- it is a user-space or daemon message (always a single record);
- it is a SECCOMP or ANOM_ABEND record (logged outside syscall context, so alone) and the next
  record is not part of the same event;
- it is stale: older by audit time than the host's newest record by more than `max_age` *and*
  not touched during the last `reorder_window` records (a time gap alone is not enough: the first
  record after a quiet spell is seconds newer than a record still in flight);
- more than `max_open` events are open (the least recently touched goes first);
- the stream ends.

Events emitted together go out in audit order (time, serial), so how records of different events
interleaved does not change what comes out. A record arriving for an event already emitted starts
a new fragment of it (numbered, so its id differs); a late EOE is simply absorbed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from fenghuo.ingest.parsers.auditd_records import AuditRecord, Flush, flush_policy

EventKey = tuple[str, str, str, str]  # (host, seconds, millis, serial)


@dataclass(slots=True)
class PendingEvent:
    """The records of one audit event, in arrival order."""

    host: str
    seconds: str
    millis: str
    serial: str
    time: float
    fragment: int = 0
    records: list[AuditRecord] = field(default_factory=list)
    touched: int = 0  # reassembler's record count when a record was last added

    @property
    def record_id(self) -> str:
        return f"{self.seconds}.{self.millis}:{self.serial}"

    @property
    def key(self) -> EventKey:
        return (self.host, self.seconds, self.millis, self.serial)


@dataclass(slots=True)
class ReassemblerStats:
    records: int = 0
    events: int = 0
    late_fragments: int = 0
    absorbed_eoe: int = 0


class Reassembler:
    """Groups records into events; `push` returns the events a record completed."""

    def __init__(
        self,
        *,
        max_open: int = 64,
        max_age: float = 2.0,
        reorder_window: int = 16,
        remember_done: int = 4096,
    ) -> None:
        self.max_open = max_open
        self.max_age = max_age
        self.reorder_window = reorder_window
        self.remember_done = remember_done
        self.stats = ReassemblerStats()
        # Least recently touched first.
        self._open: OrderedDict[EventKey, PendingEvent] = OrderedDict()
        # Emitted events -> the last fragment number used, to place late records.
        self._done: OrderedDict[EventKey, int] = OrderedDict()
        self._newest: dict[str, float] = {}
        self._tentative: EventKey | None = None
        self._count = 0

    def push(self, record: AuditRecord, host: str) -> list[PendingEvent]:
        """Add one record; return the events that are now complete, in a deterministic order."""
        self._count += 1
        self.stats.records += 1
        out: list[PendingEvent] = []
        key: EventKey = (host, record.seconds, record.millis, record.serial)
        if self._tentative is not None and self._tentative != key:
            self._emit(self._tentative, out)
        self._tentative = None
        policy = flush_policy(record.type)
        event = self._open.get(key)
        if event is None:
            if policy is Flush.END:
                self.stats.absorbed_eoe += 1  # nothing open: late, or the event was empty
                self._expire(out)
                return out
            event = self._open_event(key, record)
        else:
            self._open.move_to_end(key)
        event.records.append(record)
        event.touched = self._count
        if policy is Flush.END or policy is Flush.ALONE:
            self._emit(key, out)
        elif policy is Flush.UNLESS_FOLLOWED and not any(
            r.type == "SYSCALL" for r in event.records
        ):
            self._tentative = key
        self._expire(out)
        return out

    def flush(self) -> list[PendingEvent]:
        """End of stream: every open event, in audit order."""
        out: list[PendingEvent] = []
        for key in sorted(self._open, key=self._audit_order):
            self._emit(key, out)
        self._tentative = None
        return out

    @property
    def open_events(self) -> int:
        return len(self._open)

    def _open_event(self, key: EventKey, record: AuditRecord) -> PendingEvent:
        fragment = 0
        previous = self._done.get(key)
        if previous is not None:
            fragment = previous + 1
            self.stats.late_fragments += 1
        time = int(record.seconds) + int(record.millis) / 10 ** len(record.millis)
        event = PendingEvent(
            host=key[0],
            seconds=record.seconds,
            millis=record.millis,
            serial=record.serial,
            time=time,
            fragment=fragment,
        )
        self._open[key] = event
        host = key[0]
        if time > self._newest.get(host, float("-inf")):
            self._newest[host] = time
        return event

    def _emit(self, key: EventKey, out: list[PendingEvent]) -> None:
        event = self._open.pop(key, None)
        if event is None:
            return
        if self._tentative == key:
            self._tentative = None
        out.append(event)
        self.stats.events += 1
        self._done[key] = event.fragment
        self._done.move_to_end(key)
        while len(self._done) > self.remember_done:
            self._done.popitem(last=False)

    def _expire(self, out: list[PendingEvent]) -> None:
        """Emit stale events (see module docstring) and enforce `max_open`."""
        while len(self._open) > self.max_open:
            self._emit(next(iter(self._open)), out)
        stale: list[EventKey] = []
        for key, event in self._open.items():
            if self._count - event.touched < self.reorder_window:
                break  # ordered by last touch: every later event is more recent
            newest = self._newest.get(event.host, event.time)
            if newest - event.time > self.max_age:
                stale.append(key)
        for key in sorted(stale, key=self._audit_order):
            self._emit(key, out)

    def _audit_order(self, key: EventKey) -> tuple[float, int, str]:
        """Time, then serial: the order the kernel produced the events, whatever the arrival."""
        event = self._open[key]
        return (event.time, int(event.serial), event.host)
