"""What supports an alert, as one caller may see it: the archived events it names, in event time.

Who sees which event is decided here, on the server, by the rule the API applies everywhere: an
analyst or admin sees every event; a tenant viewer sees only events attributed to its own tenant
(`tenant_id`), since any other event is another tenant's telemetry or the provider's, even when
the alert is about the viewer (the attacker's process on the shared host, the attacker's flow
log). Those are counted as `withheld`, never shown. What the viewer does see still passes
through its pseudonym rewriter (`respond`), so a neighbour named in its own flow record or audit
line reads as a pseudonym, in the raw text too.
"""

from __future__ import annotations

import msgspec

from fenghuo.evidence.archive import EventArchive
from fenghuo.model.alert import Alert
from fenghuo.model.events import Event


class Evidence(msgspec.Struct, frozen=True, kw_only=True):
    """The events supporting one alert. `listed` is how many ids the alert names (a detector
    may cap the list; `evidence_count` is how many events supported it in all); each listed id
    is in `events`, counted in `withheld`, or in `missing` (dropped after `retention_days`, or not
    archived yet)."""

    alert_id: str
    evidence_count: int
    listed: int
    events: list[Event]
    withheld: int
    missing: list[str]
    retention_days: float


def evidence_for(
    alert: Alert, archive: EventArchive, viewer_tenant: str | None, retention_days: float
) -> Evidence:
    """`viewer_tenant` is the caller's tenant (None: a role that sees every tenant)."""
    listed = list(dict.fromkeys(alert.evidence))
    found = archive.get(listed)
    visible = [e for e in found.values() if viewer_tenant is None or e.tenant_id == viewer_tenant]
    return Evidence(
        alert_id=alert.id,
        evidence_count=max(alert.evidence_count, len(listed)),
        listed=len(listed),
        events=sorted(visible, key=lambda e: (e.event_time, e.id)),
        withheld=len(found) - len(visible),
        missing=[i for i in listed if i not in found],
        retention_days=retention_days,
    )
