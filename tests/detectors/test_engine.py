"""The detection engine's own guarantees, with a small test-only detector."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Iterable
from typing import Any

import pytest

from fenghuo.detectors.base import Context, Detector, DetectorMeta, Finding
from fenghuo.detectors.config import DetectionConfig, Suppression
from fenghuo.detectors.engine import DetectionEngine, window_start
from fenghuo.detectors.testing import demo_inventory
from fenghuo.model import Event, HostAudit, RawRef
from fenghuo.model.alert import Entity, Severity, encode_alert, merge_alerts
from fenghuo.streaming.replay import fold_alerts, replay

T0 = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def audit(
    n: int, *, host: str = "hv-01", tenant: str | None = "acme", record: str = "X"
) -> HostAudit:
    return HostAudit(
        id=f"e{n}",
        event_time=T0 + dt.timedelta(minutes=n),
        ingest_time=T0,
        source_format="auditd",
        raw=RawRef(source="t"),
        host_id=host,
        tenant_id=tenant,
        record_type=record,
    )


class Counting(Detector):
    """Alerts on every HostAudit; severity rises with the count seen for the key."""

    meta = DetectorMeta(
        id="counting",
        title="Counting",
        severity=Severity.LOW,
        confidence=0.5,
        technique="T1000",
        category="02",
        description="test",
        runbook="test",
        dedup_window=dt.timedelta(minutes=10),
    )
    inputs = (HostAudit,)

    def key(self, event: Event) -> str | None:
        return event.host_id

    def new_state(self) -> Any:
        return {"seen": 0}

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, HostAudit)
        if event.record_type == "BOOM":
            msg = "detector bug"
            raise RuntimeError(msg)
        state["seen"] += 1
        yield Finding(
            summary=f"seen {event.id}",
            tenant_id=event.tenant_id,
            host_id=event.host_id,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            severity=Severity.HIGH if event.record_type == "BAD" else None,
        )

    def is_idle(self, state: Any) -> bool:
        return False


def engine(config: DetectionConfig | None = None) -> DetectionEngine:
    return DetectionEngine([Counting()], demo_inventory().current, config, clock=lambda: NOW)


def test_findings_in_one_window_merge_into_one_alert() -> None:
    result = replay([audit(1), audit(2), audit(3, record="BAD")], engine())
    assert len(result.alerts) == 1
    alert = result.alerts[0]
    assert alert.evidence == ("e1", "e2", "e3")
    assert alert.evidence_count == 3
    assert alert.severity is Severity.HIGH  # the most severe finding wins
    assert alert.summary == "seen e3"
    assert (alert.first_seen, alert.last_seen) == (
        T0 + dt.timedelta(minutes=1),
        T0 + dt.timedelta(minutes=3),
    )
    assert result.emitted == 3  # one new alert, two updates


def test_next_window_is_a_new_alert_and_ids_are_deterministic() -> None:
    first = replay([audit(1), audit(12)], engine()).alerts
    again = replay([audit(12), audit(1)], engine()).alerts
    assert len(first) == 2
    assert [a.id for a in first] == [a.id for a in again]
    assert first[0].window_start == window_start(
        T0 + dt.timedelta(minutes=1), dt.timedelta(minutes=10)
    )


def test_order_of_arrival_does_not_change_the_final_alerts() -> None:
    events = [audit(1), audit(2, record="BAD"), audit(3), audit(4, host="hv-02")]
    results = {
        b"".join(encode_alert(a) for a in replay(order, engine(), arrival_order=True).alerts)
        for order in itertools.permutations(events)
    }
    assert len(results) == 1


def test_merge_is_commutative_and_associative() -> None:
    alerts = replay([audit(1), audit(2, record="BAD"), audit(3)], engine())
    a = alerts.alerts[0]
    b = merge_alerts(a, a)
    assert b == a
    assert fold_alerts([a, b]) == fold_alerts([b, a])


class Naming(Counting):
    """Names one account twice (say the resource owner's that is also the caller's) and the
    host both among its entities and as host_id."""

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        account, host = Entity("account", "111111111111"), Entity("host", event.host_id or "?")
        for finding in super().on_event(event, state, ctx):
            yield dataclasses.replace(finding, entities=(account, host, account))


def test_an_alert_names_each_entity_once() -> None:
    eng = DetectionEngine([Naming()], demo_inventory().current, clock=lambda: NOW)
    (first,) = replay([audit(1)], eng).alerts
    assert first.entities == (
        Entity("account", "111111111111"),
        Entity("host", "hv-01"),
        Entity("tenant", "acme"),
    )
    assert merge_alerts(first, first) == first  # folding versions changes nothing


def test_suppression_by_tenant_drops_alerts_but_counts_them() -> None:
    config = DetectionConfig(suppressions=(Suppression(detector="counting", tenant="acme"),))
    eng = engine(config)
    result = replay([audit(1), audit(2, tenant="globex", host="hv-02")], eng)
    assert [a.tenant_id for a in result.alerts] == ["globex"]
    assert eng.suppressed["counting"] == 1


def test_expired_suppression_no_longer_applies() -> None:
    until = T0 + dt.timedelta(minutes=5)
    config = DetectionConfig(suppressions=(Suppression(tenant="acme", until=until),))
    result = replay([audit(1), audit(30)], engine(config))
    assert [a.evidence for a in result.alerts] == [("e30",)]


def test_a_failing_detector_is_counted_and_the_stream_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    eng = engine()
    result = replay([audit(1), audit(2, record="BOOM"), audit(3)], eng)
    assert eng.failures["counting"] == 1
    assert result.alerts[0].evidence == ("e1", "e3")
    assert "detector counting failed" in caplog.text


def test_windows_close_and_state_is_released() -> None:
    eng = engine()
    step = eng.on_event("counting", "hv-01", None, audit(1), None)
    assert step.state is not None
    assert len(step.alerts) == 1
    (expiry,) = step.timers
    assert expiry == window_start(audit(1).event_time, dt.timedelta(minutes=10)) + dt.timedelta(
        minutes=15
    )
    closed = eng.on_timer("counting", "hv-01", step.state, expiry)
    assert closed.state is not None
    assert closed.state.open_alerts == {}
