"""Domain events as printed by `virsh event --all --loop --timestamp` (run it with `LC_ALL=C`:
virsh translates its messages).

One event is `<YYYY-MM-DD HH:MM:SS.mmm+0000>: event '<type>' for domain '<name>'[: <detail>]`.
A few types (graphics, tunable, job-completed, memory-failure, memory-device-size-change,
nic-mac-change) continue on following lines without a timestamp; those events are held until the
next event (or the end of the stream) and their extra lines appended to `detail`.

Lifecycle words map to `VmState` as follows, keeping libvirt's words in `detail`:

* `Started Migrated` and `Stopped Migrated` are `migrated`: the domain arrived on or left this
  host. `Suspended Migrated` is `suspended` and `Resumed Migrated` is `resumed`: the pause at the
  end of a live migration is not the move itself (it may still fail and resume).
* `Stopped Crashed` is `crashed`: the QEMU process died. Every other `Stopped *` (Shutdown,
  Destroyed, Failed, Saved, Snapshot) is `stopped`: the domain is off. `Shutdown *` is `shutdown`,
  the guest's own shutdown sequence, which libvirt reports before `Stopped Shutdown`.
* `Crashed *` (Panicked, Crashloaded) is `guest_panic`: the guest kernel crashed, the VMM did not.
* event `reboot` is `rebooted`; any other event type is `other` with the rest of the line as
  `detail`.

virsh does not say which host it ran on: `host_id` comes from the parse context. A line without
a timestamp has no event time and is a record error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

from fenghuo.ingest.parsers.base import ParseContext, Parser, ParseResult, RawLine
from fenghuo.model import VmLifecycle, event_id
from fenghuo.model.events import VmState, raw_ref

FORMAT = "libvirt-events"

_TIMESTAMPED = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6})\d*)?"
    r"(?:(Z)|([+-])(\d{2}):?(\d{2}))?: (.*)",
    re.DOTALL | re.ASCII,
)
_EVENT = re.compile(r"event '([^']+)' for domain '(.+?)'(?=$|[: ])(.*)", re.DOTALL)
# What virsh prints after a multi-line event's first line: tab-indented, or `key: value`/`key:`.
_CONTINUATION = re.compile(r"\t.*|[A-Za-z][A-Za-z0-9 ]*:(?: .*)?", re.DOTALL)
# virsh's own status lines at the end of `virsh event`: not records, nothing lost by skipping them.
_TRAILER = re.compile(r"events received: \d+|event loop (?:interrupted|timed out)")

# Event types whose text continues on lines without a timestamp.
MULTILINE_TYPES = frozenset(
    {
        "graphics",
        "tunable",
        "job-completed",
        "memory-failure",
        "memory-device-size-change",
        "nic-mac-change",
    }
)

_LIFECYCLE: dict[str, VmState] = {
    "Defined": "defined",
    "Undefined": "undefined",
    "Started": "started",
    "Suspended": "suspended",
    "Resumed": "resumed",
    "Stopped": "stopped",
    "Shutdown": "shutdown",
    "PMSuspended": "pmsuspended",
    "Crashed": "guest_panic",
}
_LIFECYCLE_DETAIL: dict[tuple[str, str], VmState] = {
    ("Started", "Migrated"): "migrated",
    ("Stopped", "Migrated"): "migrated",
    ("Stopped", "Crashed"): "crashed",
}


def lifecycle_state(words: str) -> VmState:
    """`VmState` of a lifecycle event's words, e.g. "Stopped Crashed" -> "crashed"."""
    event, _, detail = words.partition(" ")
    return _LIFECYCLE_DETAIL.get((event, detail)) or _LIFECYCLE.get(event, "other")


@dataclass(slots=True)
class _Pending:
    """A parsed event line, held while continuation lines may follow."""

    line: RawLine
    time: dt.datetime
    event_type: str
    vm_name: str
    detail: str
    extra: list[str] = field(default_factory=list)


class LibvirtEventsParser(Parser):
    """One `VmLifecycle` per virsh event."""

    format: ClassVar[str] = FORMAT

    def __init__(self, context: ParseContext | None = None) -> None:
        super().__init__(context)
        self._pending: _Pending | None = None

    def feed(self, line: RawLine) -> Iterator[ParseResult]:
        text = line.text
        if not text.strip():
            return
        stamped = _TIMESTAMPED.fullmatch(text)
        if stamped is None and self._continues(line):
            return
        yield from self.close()
        if stamped is None:
            if _TRAILER.fullmatch(text.strip()) is None:
                yield self.error(line, self._unstamped_reason(text))
            return
        yield from self._start(line, stamped)

    def close(self) -> Iterator[ParseResult]:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            yield self._event(pending)

    def _continues(self, line: RawLine) -> bool:
        pending = self._pending
        if pending is None or pending.line.source != line.source:
            return False
        if _CONTINUATION.fullmatch(line.text) is None or _TRAILER.fullmatch(line.text.strip()):
            return False
        pending.extra.append(line.text)
        return True

    @staticmethod
    def _unstamped_reason(text: str) -> str:
        if _EVENT.match(text.strip()):
            return "event without a timestamp: run `virsh event` with --timestamp"
        return "not a virsh event line: expected `<timestamp>: event '<type>' for domain '<name>'`"

    def _start(self, line: RawLine, stamped: re.Match[str]) -> Iterator[ParseResult]:
        year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m, message = (
            stamped.groups()
        )
        if zulu is None and sign is None:
            yield self.error(line, "timestamp has no UTC offset (virsh writes +0000)")
            return
        try:
            offset = dt.timedelta(hours=int(off_h or 0), minutes=int(off_m or 0))
            tz = dt.timezone(-offset if sign == "-" else offset)
            local = dt.datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                int((frac or "0").ljust(6, "0")),
                tzinfo=tz,
            )
            time = local.astimezone(dt.UTC)
        except (ValueError, OverflowError) as exc:
            yield self.error(line, f"invalid timestamp: {exc}")
            return
        event = _EVENT.fullmatch(message)
        if event is None:
            reason = "unrecognised text after the timestamp: expected `event '<type>' for domain`"
            yield self.error(line, reason)
            return
        event_type, vm_name, rest = event.groups()
        detail = rest.lstrip(":").strip()
        if event_type == "lifecycle" and not detail:
            yield self.error(line, "lifecycle event without its state words")
            return
        pending = _Pending(line, time, event_type, vm_name, detail)
        if event_type in MULTILINE_TYPES:
            self._pending = pending
        else:
            yield self._event(pending)

    def _event(self, pending: _Pending) -> VmLifecycle:
        if pending.event_type == "lifecycle":
            state = lifecycle_state(pending.detail)
        elif pending.event_type == "reboot":
            state = "rebooted"
        else:
            state = "other"
        parts = [pending.detail] if pending.detail else []
        parts.extend(extra.strip() for extra in pending.extra if extra.strip())
        raw_text = "\n".join([pending.line.text, *pending.extra]).strip()
        host_id = self.context.host_id
        return VmLifecycle(
            id=event_id(FORMAT, host_id or "", raw_text),
            event_time=pending.time,
            ingest_time=self.context.clock(),
            source_format=FORMAT,
            raw=raw_ref(pending.line.source, pending.line.line, raw_text),
            host_id=host_id,
            vm_name=pending.vm_name,
            state=state,
            event_type=pending.event_type,
            detail="; ".join(parts) or None,
        )
