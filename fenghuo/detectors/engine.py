"""The detection engine, independent of any stream processor.

`DetectionEngine` knows how to route an event to (detector, key) pairs and how to advance one
key's state by one event or one timer. The Flink job calls it from a KeyedProcessFunction (state
in Flink's keyed state, timers in Flink's timer service); replay calls it from a plain loop with
a dict of states and a heap of timers. Both therefore raise exactly the same alerts.

Per (detector, key) the engine keeps `KeyState`: the detector's own state, the timers the
detector asked for, and the alerts still open in their dedup window. A finding becomes an alert
whose id is derived from (detector, dedup key, window start); further findings in the same
window merge into it and the updated alert is emitted again (consumers upsert by id).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from fenghuo.detectors.base import Detector, Finding
from fenghuo.detectors.config import DetectionConfig
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import Event
from fenghuo.model.alert import MAX_EVIDENCE, Alert, Entity, merge_alerts
from fenghuo.model.ids import stable_id

log = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
KEY_SEPARATOR = "\x1f"


def window_start(at: dt.datetime, window: dt.timedelta) -> dt.datetime:
    """The start of the fixed dedup window containing `at` (windows aligned to the epoch)."""
    width = int(window.total_seconds())
    seconds = int((at - EPOCH).total_seconds())
    return EPOCH + dt.timedelta(seconds=seconds - seconds % width)


def alert_id(detector: str, dedup_key: str, start: dt.datetime) -> str:
    return stable_id("alert", detector, dedup_key, start.isoformat())


class AlertMatcher(Protocol):
    """A suppression rule from outside the configuration (e.g. the store's analyst rules)."""

    def matches(self, alert: Alert) -> bool: ...


@dataclass
class KeyState:
    detector_state: Any
    timers: set[dt.datetime] = field(default_factory=set)  # asked for by the detector
    open_alerts: dict[str, Alert] = field(default_factory=dict)  # id -> current version


@dataclass
class Step:
    """The outcome of one event or timer for one key."""

    state: KeyState | None  # None: nothing left to keep for this key
    timers: list[dt.datetime]  # event-time timers to register
    alerts: list[Alert]  # new or updated alerts to emit


class _Context:
    def __init__(
        self,
        inventory: InventoryIndex,
        watermark: dt.datetime | None,
        settings: dict[str, Any],
    ) -> None:
        self._inventory = inventory
        self._watermark = watermark
        self._settings = settings
        self.requested: list[dt.datetime] = []

    @property
    def inventory(self) -> InventoryIndex:
        return self._inventory

    @property
    def watermark(self) -> dt.datetime | None:
        return self._watermark

    def set_timer(self, at: dt.datetime) -> None:
        self.requested.append(at)

    def setting(self, name: str, default: Any = None) -> Any:
        return self._settings.get(name, default)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DetectionEngine:
    def __init__(
        self,
        detectors: Sequence[Detector],
        inventory: Callable[[], InventoryIndex],
        config: DetectionConfig | None = None,
        *,
        allowed_lateness: dt.timedelta = dt.timedelta(minutes=5),
        clock: Callable[[], dt.datetime] = _utc_now,
        live_suppressions: Callable[[], Sequence[AlertMatcher]] | None = None,
    ) -> None:
        self.detectors = {d.meta.id: d for d in detectors}
        self._by_input: dict[type[Event], list[Detector]] = {}
        for detector in detectors:
            for cls in detector.inputs:
                self._by_input.setdefault(cls, []).append(detector)
        self.inventory = inventory
        self.config = config or DetectionConfig()
        self.allowed_lateness = allowed_lateness
        self.clock = clock
        self.failures: Counter[str] = Counter()  # per detector: events or timers that raised
        self.suppressed: Counter[str] = Counter()
        # Rules analysts add while the job runs ("suppress similar"), beside the configured ones.
        self.live_suppressions = live_suppressions

    # --- routing ------------------------------------------------------------------------------

    def route(self, event: Event) -> list[tuple[str, str]]:
        """(detector id, key) for every detector that wants this event."""
        routes = []
        for detector in self._by_input.get(type(event), ()):
            try:
                key = detector.key(event)
            except Exception:  # noqa: BLE001 - one detector's bug must not stop the stream
                self._failed(detector.meta.id, f"key() on event {event.id}")
                continue
            if key is not None:
                routes.append((detector.meta.id, key))
        return routes

    @staticmethod
    def state_key(detector_id: str, key: str) -> str:
        return f"{detector_id}{KEY_SEPARATOR}{key}"

    @staticmethod
    def split_state_key(state_key: str) -> tuple[str, str]:
        detector_id, _, key = state_key.partition(KEY_SEPARATOR)
        return detector_id, key

    # --- one key, one step ---------------------------------------------------------------------

    def on_event(
        self,
        detector_id: str,
        key: str,
        state: KeyState | None,
        event: Event,
        watermark: dt.datetime | None,
    ) -> Step:
        detector = self.detectors[detector_id]
        if state is None:
            state = KeyState(detector.new_state())
        ctx = self._context(detector_id, watermark)
        try:
            findings = list(detector.on_event(event, state.detector_state, ctx))
        except Exception:  # noqa: BLE001 - logged and counted; the job goes on
            self._failed(detector_id, f"on_event({event.id})")
            return Step(state, [], [])
        return self._finish(detector, key, state, ctx, findings)

    def on_timer(self, detector_id: str, key: str, state: KeyState | None, at: dt.datetime) -> Step:
        """A timer at event time `at` fired (the watermark passed it)."""
        if state is None:
            return Step(None, [], [])
        detector = self.detectors[detector_id]
        ctx = self._context(detector_id, at)
        findings: list[Finding] = []
        if at in state.timers:
            state.timers.discard(at)
            try:
                findings = list(detector.on_timer(at, state.detector_state, ctx))
            except Exception:  # noqa: BLE001 - logged and counted; the job goes on
                self._failed(detector_id, f"on_timer({at.isoformat()})")
        step = self._finish(detector, key, state, ctx, findings)
        # Close the dedup windows the watermark has passed (plus lateness): the alert is final.
        live = step.state
        if live is not None:
            for aid, alert in list(live.open_alerts.items()):
                if self._window_end(detector, alert) <= at:
                    del live.open_alerts[aid]
            if self._idle(detector, live):
                step.state = None
        return step

    # --- internals -----------------------------------------------------------------------------

    def _context(self, detector_id: str, watermark: dt.datetime | None) -> _Context:
        return _Context(self.inventory(), watermark, self.config.settings.get(detector_id, {}))

    def _failed(self, detector_id: str, what: str) -> None:
        self.failures[detector_id] += 1
        log.exception("detector %s failed on %s; skipped", detector_id, what)

    def _window_end(self, detector: Detector, alert: Alert) -> dt.datetime:
        start = alert.window_start or alert.first_seen
        return start + detector.meta.dedup_window + self.allowed_lateness

    @staticmethod
    def _idle(detector: Detector, state: KeyState) -> bool:
        return not state.timers and not state.open_alerts and detector.is_idle(state.detector_state)

    def _finish(
        self,
        detector: Detector,
        key: str,
        state: KeyState,
        ctx: _Context,
        findings: Iterable[Finding],
    ) -> Step:
        timers = [t for t in ctx.requested if t not in state.timers]
        state.timers.update(timers)
        alerts = []
        for finding in findings:
            alert = self._alert(detector, key, finding)
            previous = state.open_alerts.get(alert.id)
            merged = alert if previous is None else _accumulate(previous, alert)
            if merged == previous:
                continue
            if previous is None:
                timers.append(self._window_end(detector, merged))
            state.open_alerts[alert.id] = merged
            if self._suppressed(merged):
                self.suppressed[detector.meta.id] += 1
                continue
            alerts.append(merged)
        return Step(None if self._idle(detector, state) else state, timers, alerts)

    def _suppressed(self, alert: Alert) -> bool:
        if self.config.suppressed(alert) is not None:
            return True
        live = self.live_suppressions() if self.live_suppressions is not None else ()
        return any(rule.matches(alert) for rule in live)

    def _alert(self, detector: Detector, key: str, finding: Finding) -> Alert:
        meta = detector.meta
        dedup_key = finding.dedup_key or key
        start = window_start(finding.first_seen, meta.dedup_window)
        # A set: a detector may name one entity in two roles (the resource owner's account that
        # is also the caller's); merge_alerts folds versions by set union, so the first version
        # must not differ from the folded one by duplicates.
        entities = set(finding.entities)
        for kind, value in (
            ("tenant", finding.tenant_id),
            ("tenant", finding.actor_tenant_id),
            ("host", finding.host_id),
            ("vm", finding.vm_id),
        ):
            if value:
                entities.add(Entity(kind, value))
        evidence = tuple(sorted(set(finding.evidence)))
        return Alert(
            id=alert_id(meta.id, dedup_key, start),
            detector=meta.id,
            title=finding.title or meta.title,
            summary=finding.summary,
            severity=finding.severity or meta.severity,
            confidence=finding.confidence if finding.confidence is not None else meta.confidence,
            technique=finding.technique or meta.technique,
            category=finding.category or meta.category,
            tenant_id=finding.tenant_id,
            actor_tenant_id=finding.actor_tenant_id,
            host_id=finding.host_id,
            vm_id=finding.vm_id,
            entities=tuple(sorted(entities)),
            first_seen=finding.first_seen,
            last_seen=finding.last_seen,
            detected_at=self.clock(),
            evidence=evidence[:MAX_EVIDENCE],
            evidence_count=len(evidence),
            dedup_key=dedup_key,
            window_start=start,
            details=dict(finding.details),
        )


def _accumulate(current: Alert, new: Alert) -> Alert:
    """Fold a new finding's alert into the open alert: evidence adds up (merge_alerts alone
    would take the larger count, which is right for versions, not for new evidence)."""
    merged = merge_alerts(current, new)
    added = len(set(new.evidence) - set(current.evidence))
    return msgspec.structs.replace(merged, evidence_count=current.evidence_count + added)
