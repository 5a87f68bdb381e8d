"""What the cases of container-escape, cross-tenant-flow and co-residency-probing cannot say:
flow orientation, escape indicators, and that the final alerts do not depend on the order events
arrive in (within the bounded out-of-orderness), with no state left behind."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence

import msgspec
import pytest

from fenghuo.detectors.base import Case, Detector, Records
from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.network import orient, tenants_on_host
from fenghuo.detectors.rules.co_residency_probing import T0, CoResidencyProbing, churn_records
from fenghuo.detectors.rules.container_escape import (
    PRIORITY_CONFIDENCE,
    ContainerEscape,
    falco_line,
    indicators,
)
from fenghuo.detectors.rules.cross_tenant_flow import CrossTenantFlow
from fenghuo.detectors.testing import FIXED_NOW, case_events, demo_inventory
from fenghuo.model import ContainerAlert, Event, Flow, RawRef
from fenghuo.model.alert import Alert, Severity
from fenghuo.streaming.replay import _Runner, fold_alerts

V2 = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status"
)


def events_of(*records: Records) -> list[Event]:
    return case_events(Case("test", records, ()))


def engine_for(detector: Detector, settings: dict[str, object] | None = None) -> DetectionEngine:
    config = DetectionConfig().with_settings(detector.meta.id, settings or {})
    return DetectionEngine([detector], demo_inventory().current, config, clock=lambda: FIXED_NOW)


def arrival_replay(
    events: Sequence[Event], engine: DetectionEngine, out_of_orderness: dt.timedelta
) -> tuple[list[Alert], int]:
    """Events in the order given, as a stream job sees them: the watermark trails the newest
    event time by `out_of_orderness` and timers fire as it passes them. Returns the final alerts
    and the number of keys still holding state at the end."""
    runner = _Runner(engine)
    watermark: dt.datetime | None = None
    for event in events:
        candidate = event.event_time - out_of_orderness
        if watermark is None or candidate > watermark:
            watermark = candidate
            runner.advance(watermark)
        assert event.event_time > watermark, "the test must not make events late"
        runner.event(event, watermark)
    runner.advance(None)
    return fold_alerts(runner.emitted), len(runner.states)


def jittered(events: Sequence[Event], seed: int, jitter: dt.timedelta) -> list[Event]:
    """A random arrival order in which no event arrives `jitter` or more after a later one."""
    rng = random.Random(seed)
    keyed = [(e.event_time + rng.random() * jitter, e.id, e) for e in events]
    return [e for _, _, e in sorted(keyed, key=lambda k: (k[0], k[1]))]


def comparable(alerts: list[Alert]) -> list[Alert]:
    return sorted(
        (msgspec.structs.replace(a, detected_at=FIXED_NOW) for a in alerts), key=lambda a: a.id
    )


def assert_order_insensitive(
    detector: Detector,
    events: list[Event],
    out_of_orderness: dt.timedelta,
    settings: dict[str, object] | None = None,
) -> list[Alert]:
    in_order = sorted(events, key=lambda e: (e.event_time, e.id))
    expected, left = arrival_replay(in_order, engine_for(detector, settings), out_of_orderness)
    assert left == 0, "state left behind after the end of the stream"
    orders = [list(reversed(in_order))] if out_of_orderness > dt.timedelta(days=1) else []
    orders += [jittered(in_order, seed, out_of_orderness) for seed in range(8)]
    assert any(order != in_order for order in orders), "no order differs from event time's"
    for order in orders:
        got, left = arrival_replay(order, engine_for(detector, settings), out_of_orderness)
        assert comparable(got) == comparable(expected)
        assert left == 0
    return expected


# --- flow orientation ---------------------------------------------------------------------------


def flow(src: str, dst: str, sport: int, dport: int, flags: int | None = None) -> Flow:
    start = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
    return Flow(
        id="f",
        event_time=start,
        ingest_time=start,
        source_format="vpcflow",
        raw=RawRef(source="t"),
        version=5,
        src_addr=src,
        dst_addr=dst,
        src_port=sport,
        dst_port=dport,
        protocol=6,
        start=start,
        end=start,
        tcp_flags=flags,
    )


def test_orient_flips_replies_by_tcp_flags_then_ports() -> None:
    request = orient(flow("10.1.0.11", "10.2.0.21", 51234, 443, flags=3))
    reply = orient(flow("10.2.0.21", "10.1.0.11", 443, 51234, flags=19))
    assert request == reply
    assert request is not None
    assert (request.initiator, request.responder, request.service) == (
        "10.1.0.11",
        "10.2.0.21",
        "443/tcp",
    )
    by_ports = orient(flow("10.2.0.21", "10.1.0.11", 5432, 40312))
    assert by_ports is not None
    assert (by_ports.initiator, by_ports.service_port) == ("10.1.0.11", 5432)
    # A bare SYN names its sender the initiator, whatever the ports say.
    syn = orient(flow("10.2.0.21", "10.1.0.11", 5432, 40312, flags=2))
    assert syn is not None
    assert syn.initiator == "10.2.0.21"


def test_tenants_on_host_lists_neighbours() -> None:
    index = demo_inventory().current()
    assert tenants_on_host(index, "hv-01", exclude="acme") == {"globex": ["globex-db-1"]}
    assert tenants_on_host(index, "hv-02", exclude="acme", containers=True) == {
        "hooli": ["worker"],
        "initech": ["initech-app-1"],
        "umbrella": ["umbrella-api-1"],
    }
    assert tenants_on_host(index, "hv-99") == {}


# --- cross-tenant-flow --------------------------------------------------------------------------


def rejects(count: int, start: int = 1767607200, step: int = 20) -> Records:
    lines = [
        f"2 756680937392 eni-0umbrella0001 10.5.3.7 10.4.0.31 {45000 + i} {1000 + i} 6 1 44 "
        f"{start + step * i} {start + step * i + 60} REJECT OK"
        for i in range(count)
    ]
    return Records("vpcflow", "\n".join([V2, *lines]))


def test_rejected_flows_fold_into_one_alert_whatever_the_arrival_order() -> None:
    events = events_of(rejects(12))
    alerts = assert_order_insensitive(CrossTenantFlow(), events, dt.timedelta(minutes=2))
    assert len(alerts) == 1
    alert = alerts[0]
    assert (alert.severity, alert.tenant_id, alert.actor_tenant_id) == (
        "medium",
        "umbrella",
        "hooli",
    )
    assert alert.evidence_count == 12
    assert alert.details["rejected_flows"] == 12
    assert "12 rejected flows" in alert.summary
    assert sorted(alert.evidence) == sorted(e.id for e in events)


def test_rejected_flows_are_counted_per_window_and_any_order() -> None:
    # 40 rejected flows over 40 minutes: two 30-minute windows, two alerts.
    events = events_of(rejects(40, step=60))
    alerts = assert_order_insensitive(CrossTenantFlow(), events, dt.timedelta(days=2))
    assert [a.details["rejected_flows"] for a in alerts] == [30, 10]
    assert sum(a.evidence_count for a in alerts) == 40


def test_min_rejected_holds_back_a_few_rejections() -> None:
    engine = engine_for(CrossTenantFlow(), {"min_rejected": 3})
    alerts, left = arrival_replay(events_of(rejects(2)), engine, dt.timedelta(seconds=5))
    assert alerts == []
    assert left == 0


def test_accepted_and_rejected_of_one_pair_stay_separate_alerts() -> None:
    accepted = Records(
        "vpcflow",
        f"{V2}\n2 751203476945 eni-0hooli0001 10.5.3.7 10.4.0.31 45100 8080 6 10 4000 "
        "1767607300 1767607360 ACCEPT OK",
    )
    events = events_of(rejects(3), accepted)
    alerts = assert_order_insensitive(CrossTenantFlow(), events, dt.timedelta(minutes=5))
    assert sorted((a.severity, a.dedup_key) for a in alerts) == [
        (Severity.HIGH, "hooli>umbrella"),
        (Severity.MEDIUM, "hooli>umbrella/rejected"),
    ]


# --- co-residency-probing -----------------------------------------------------------------------


def mixed_cloud() -> list[Event]:
    """acme probing globex's host, umbrella probing initech's 10 minutes later, hooli
    autoscaling across hosts 5 minutes later still: launches of different tenants interleave."""
    minute = dt.timedelta(minutes=1)
    return events_of(
        *churn_records("111111111111", "ops", T0, ["hv-01"] * 12, serial=11),
        *churn_records(
            "756680937392",
            "ci",
            T0 + 10 * minute + dt.timedelta(seconds=75),
            ["hv-07", "hv-02", "hv-08", "hv-02", "hv-02", "hv-09", *["hv-02"] * 4],
            keep=2,
            serial=12,
        ),
        *churn_records(
            "751203476945",
            "asg",
            T0 + 5 * minute,
            [f"hv-0{1 + i % 6}" for i in range(12)],
            serial=13,
        ),
    )


@pytest.mark.parametrize("out_of_orderness", [dt.timedelta(minutes=3), dt.timedelta(days=2)])
def test_co_residency_alerts_do_not_depend_on_arrival_order(
    out_of_orderness: dt.timedelta,
) -> None:
    alerts = assert_order_insensitive(CoResidencyProbing(), mixed_cloud(), out_of_orderness)
    assert sorted((a.actor_tenant_id, a.tenant_id, a.host_id) for a in alerts) == [
        ("acme", "globex", "hv-01"),
        ("umbrella", "initech", "hv-02"),
    ]
    assert all(a.severity == Severity.HIGH for a in alerts)


def test_concurrent_launches_are_joined_by_instance_id() -> None:
    # Three tenants launch at the same instants: the time join is ambiguous, the instance ids in
    # TerminateInstances still tie acme's VMs (all terminated) to acme.
    events = events_of(
        *churn_records("111111111111", "ops", T0, ["hv-01"] * 12, serial=21),
        *churn_records(
            "751203476945", "asg", T0, [f"hv-0{3 + i % 4}" for i in range(12)], serial=22
        ),
    )
    alerts = assert_order_insensitive(CoResidencyProbing(), events, dt.timedelta(minutes=3))
    assert [(a.actor_tenant_id, a.tenant_id) for a in alerts] == [("acme", "globex")]
    assert alerts[0].details["new_vms"] == 12


def test_co_residency_thresholds_are_settings() -> None:
    events = events_of(*churn_records("111111111111", "ops", T0, ["hv-01"] * 4, serial=31))
    events.sort(key=lambda e: (e.event_time, e.id))
    settings: dict[str, object] = {"min_launches": 4, "min_terminations": 4}
    alerts, left = arrival_replay(
        events, engine_for(CoResidencyProbing(), settings), dt.timedelta(seconds=5)
    )
    assert [(a.actor_tenant_id, a.tenant_id) for a in alerts] == [("acme", "globex")]
    assert left == 0


def test_a_long_campaign_stays_one_alert() -> None:
    # 40 launches, one every 3 minutes: two hours of probing, past the 60-minute window.
    events = events_of(
        *churn_records(
            "111111111111", "ops", T0, ["hv-01"] * 40, serial=41, every=dt.timedelta(minutes=3)
        )
    )
    alerts = assert_order_insensitive(CoResidencyProbing(), events, dt.timedelta(minutes=3))
    assert len(alerts) == 1
    assert alerts[0].first_seen == T0


# --- container-escape ---------------------------------------------------------------------------


def falco_event(
    rule: str, priority: str, fields: dict[str, object], tags: list[str]
) -> ContainerAlert:
    line = falco_line("2026-01-05T11:00:00.000000000Z", priority, rule, rule, dict(fields), tags)
    (event,) = events_of(Records("falco", line))
    assert isinstance(event, ContainerAlert)
    return event


def test_escape_indicators() -> None:
    container = {"container.id": "9c8b7a6f5e4d", "container.name": "worker"}
    socket = falco_event(
        "Custom runtime socket access",
        "Warning",
        {**container, "fd.name": "/run/containerd/containerd.sock", "proc.cmdline": "ctr task ls"},
        ["container"],
    )
    assert [i.name for i in indicators(socket)] == ["runtime_socket"]
    tagged = falco_event(
        "Debugfs Launched in Privileged Container",
        "Warning",
        {**container, "proc.cmdline": "debugfs /dev/vda1", "proc.name": "debugfs"},
        ["T1611", "container"],
    )
    assert [i.name for i in indicators(tagged)] == ["debugfs"]
    other = falco_event(
        "Some future escape rule", "Error", {**container, "proc.cmdline": "x"}, ["T1611.001"]
    )
    assert [i.name for i in indicators(other)] == ["falco_t1611"]
    reexec = falco_event(
        "Custom exec trace",
        "Notice",
        {**container, "fd.name": "/proc/self/exe", "evt.arg.flags": "O_RDONLY|O_CLOEXEC"},
        ["container"],
    )
    assert indicators(reexec) == []  # reading (re-executing) /proc/self/exe is not an overwrite


def test_confidence_follows_falco_priority() -> None:
    detector = ContainerEscape()
    event = falco_event(
        "Core Pattern Escape Attempt",
        "Error",
        {"container.id": "3f2a1b4c5d6e", "fd.name": "/proc/sys/kernel/core_pattern"},
        ["T1611"],
    )
    alerts, _ = arrival_replay([event], engine_for(detector), dt.timedelta(seconds=5))
    assert [(a.severity, a.confidence) for a in alerts] == [
        (Severity.CRITICAL, PRIORITY_CONFIDENCE["error"])
    ]
