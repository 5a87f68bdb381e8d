"""One simulated telemetry event before it is written: when, in which format, from which host.

Everything but auditd is rendered to its final line when generated. An auditd event is kept as
its records (type and body) because its serial number is per host and must grow with time: it is
given when the timeline is rendered in time order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

AUDITD: Final = "auditd"
LIBVIRT: Final = "libvirt-events"
FALCO: Final = "falco"
CLOUDTRAIL: Final = "cloudtrail"
VPCFLOW: Final = "vpcflow"
FORMATS: Final = (AUDITD, LIBVIRT, FALCO, CLOUDTRAIL, VPCFLOW)
PER_HOST: Final = frozenset({AUDITD, LIBVIRT})


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """The records of one audit event, `(TYPE, body)` in the order auditd writes them."""

    records: tuple[tuple[str, str], ...]


Payload = AuditEvent | str


@dataclass(frozen=True, slots=True)
class Emission:
    """One event of the timeline. Each emission is one normalised event once parsed."""

    time: dt.datetime
    format: str
    host: str | None
    payload: Payload
    seq: int


@dataclass
class Timeline:
    """Emissions collected in any order; `ordered()` is the order they are written in."""

    items: list[Emission] = field(default_factory=list)

    def add(self, time: dt.datetime, format_name: str, host: str | None, payload: Payload) -> None:
        self.items.append(Emission(time, format_name, host, payload, len(self.items)))

    def audit(self, time: dt.datetime, host: str, event: AuditEvent) -> None:
        self.add(time, AUDITD, host, event)

    def libvirt(self, time: dt.datetime, host: str, line: str) -> None:
        self.add(time, LIBVIRT, host, line)

    def falco(self, time: dt.datetime, line: str) -> None:
        self.add(time, FALCO, None, line)

    def cloudtrail(self, time: dt.datetime, line: str) -> None:
        self.add(time, CLOUDTRAIL, None, line)

    def flow(self, time: dt.datetime, line: str) -> None:
        self.add(time, VPCFLOW, None, line)

    def merge(self, other: Timeline) -> None:
        for item in other.items:
            self.add(item.time, item.format, item.host, item.payload)

    def first(self) -> dt.datetime:
        return min(item.time for item in self.items)

    def last(self) -> dt.datetime:
        return max(item.time for item in self.items)

    def ordered(self) -> list[Emission]:
        return sorted(self.items, key=lambda e: (e.time, e.seq))

    def __len__(self) -> int:
        return len(self.items)
