"""The detector contract: plain Python, no Flink.

Recipe for a new detector (one module in `fenghuo/detectors/rules/`, file name = id with `_`):
1. Subclass `Detector`; set `meta` (a `DetectorMeta`: id, title, severity, ATT&CK technique,
   GB/T 20986-2023 category, ...) and `inputs` (the event classes it reads).
2. Implement `key(event)`: the entity whose history the detector needs (a host, a tenant, a VM);
   None skips the event. Events with the same key reach the same state, in event-time order
   as far as the watermark allows.
3. Implement `on_event(event, state, ctx)`: update `state` (a mutable object made by
   `new_state()`, kept per key) and yield `Finding`s. Ask `ctx.set_timer(t)` for a call to
   `on_timer(t, state, ctx)` once the watermark passes event time `t` (windows, expiry).
4. List `cases`: positive and negative `Case`s (events in, expected findings out); the
   suite-wide test runs them without a JVM.

The engine (stream job or replay) turns findings into alerts with deterministic ids, merges
findings of the same (detector, dedup key, window) into one alert, applies per-tenant
suppression, and keeps the state. Detectors never see Flink.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import Event
from fenghuo.model.alert import Entity, Severity

Status = Literal["stable", "experimental"]


@dataclass(frozen=True)
class DetectorMeta:
    id: str  # kebab-case, equal to the module name with "-" for "_"
    title: str
    severity: Severity  # default severity of its findings
    confidence: float  # default confidence, 0..1
    technique: str  # MITRE ATT&CK technique id, e.g. T1611
    category: str  # GB/T 20986-2023 category code
    description: str
    runbook: str
    status: Status = "stable"
    dedup_window: dt.timedelta = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Finding:
    """What a detector reports; the engine makes it an alert."""

    summary: str  # who did what to whom, one line
    tenant_id: str | None  # the victim (tenant harmed or exposed)
    first_seen: dt.datetime
    last_seen: dt.datetime
    evidence: tuple[str, ...]  # event ids
    actor_tenant_id: str | None = None
    host_id: str | None = None
    vm_id: str | None = None
    entities: tuple[Entity, ...] = ()
    severity: Severity | None = None  # None: the detector's default
    confidence: float | None = None
    # The entity the alert is about, for deduplication; None: the routing key.
    dedup_key: str | None = None
    title: str | None = None  # None: the detector's title
    # None: the detector's; a finding may be a more specific technique (probing vs. transfer).
    technique: str | None = None
    category: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Context(Protocol):
    """What the engine offers a detector while it handles one event or timer."""

    @property
    def inventory(self) -> InventoryIndex: ...

    @property
    def watermark(self) -> dt.datetime | None:
        """Event time up to which the engine believes it has seen everything."""
        ...

    def set_timer(self, at: dt.datetime) -> None:
        """Call `on_timer(at, ...)` for this key once the watermark passes `at`."""
        ...

    def setting(self, name: str, default: Any = None) -> Any:
        """A per-detector setting from the detection configuration (thresholds, allow-lists)."""
        ...


class Detector:
    meta: ClassVar[DetectorMeta]
    inputs: ClassVar[tuple[type[Event], ...]]
    cases: ClassVar[tuple[Case, ...]] = ()

    def key(self, event: Event) -> str | None:
        """The entity this event's state is kept under; None: not for this detector."""
        raise NotImplementedError

    def new_state(self) -> Any:
        """Fresh per-key state (kept between events; must pickle)."""
        return None

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        raise NotImplementedError

    def on_timer(self, at: dt.datetime, state: Any, ctx: Context) -> Iterable[Finding]:
        """Optional hook: a timer set with `ctx.set_timer` fired."""
        return ()

    def is_idle(self, state: Any) -> bool:
        """Optional hook: True when the state holds nothing worth keeping (it is then dropped)."""
        return state is None


@dataclass(frozen=True)
class Expect:
    """One expected finding of a case: severity and the tenants and host it names."""

    severity: Severity
    tenant_id: str | None
    actor_tenant_id: str | None = None
    host_id: str | None = None
    summary_contains: str = ""


@dataclass(frozen=True)
class Records:
    """Raw records of one format, as a provider would send them (parsed and attributed against
    the demo inventory before the detector sees them, exactly as ingest does)."""

    format: str
    text: str
    host_id: str | None = None


@dataclass(frozen=True)
class Case:
    """A detector test case: raw records in, the alerts they must give. `expect=()` is a
    negative case: no alert of this detector at all."""

    name: str
    records: tuple[Records, ...]
    expect: tuple[Expect, ...]
    settings: dict[str, Any] = field(default_factory=dict)
