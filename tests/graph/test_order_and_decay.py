"""The incidents of a set of alerts do not depend on arrival order or on how an alert's versions
are split; old incidents decay out of memory."""

from __future__ import annotations

import datetime as dt
import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from fenghuo.graph import Correlator, CorrelatorConfig, correlate
from fenghuo.model.alert import Alert, Severity, merge_alerts
from fenghuo.model.incident import Incident, encode_incident
from tests.graph.support import alert, inventory

DETECTORS = ["vmm-child-process", "cross-vm-access", "cross-tenant-flow", "vmm-crash",
             "cross-tenant-credential-use", "cross-tenant-sharing", "container-escape"]  # fmt: skip
TENANTS = ["acme", "globex", "hooli", "initech"]
HOSTS = ["hv-01", "hv-02", None]
VMS = ["acme-web-1", "globex-db-1", "hooli-app-1", "initech-web-1", "globex-web-2", None]
ENTITIES = [("ip", "10.1.0.11"), ("ip", "198.51.100.7"), ("container", "3f2a1b4c5d6e"),
            ("resource", "ec2:snapshot:snap-1"), ("account", "111111111111")]  # fmt: skip

spec = st.tuples(
    st.sampled_from(DETECTORS),
    st.integers(0, 120),  # start minute
    st.integers(0, 10),  # duration
    st.sampled_from(TENANTS),
    st.sampled_from([None, *TENANTS]),
    st.sampled_from(HOSTS),
    st.sampled_from(VMS),
    st.lists(st.sampled_from(ENTITIES), max_size=2, unique=True),
    st.sampled_from(list(Severity)),
    st.integers(1, 5),  # crashes
    st.sampled_from(HOSTS),  # the early version's host and VM: a later, more severe version
    st.sampled_from(VMS),  # that moves them drops the early version's links
)


def make(index: int, s: tuple[object, ...]) -> list[Alert]:
    """An alert as two or three versions (the earlier ones narrower, as a detector emits)."""
    detector, start, length, tenant, actor, host, vm, entities, severity, crashes, h0, v0 = s
    assert isinstance(start, int)
    assert isinstance(length, int)
    assert isinstance(entities, list)
    final = alert(
        f"al{index:03d}", str(detector), at=start, minutes=length, tenant=str(tenant),
        actor=None if actor == tenant else actor,  # type: ignore[arg-type]
        host=host, vm=vm, entities=tuple(entities), severity=severity,  # type: ignore[arg-type]
        details={"crashes": crashes, "actor_vm": vm} if vm else {"crashes": crashes},
        evidence=("e1", "e2"),
    )  # fmt: skip
    early = msgspec.structs.replace(
        final,
        last_seen=final.first_seen,
        entities=final.entities[:1],
        host_id=h0,
        vm_id=v0,
        evidence=("e1",),
        severity=Severity.LOW,
        detected_at=final.detected_at + dt.timedelta(seconds=1),
    )
    return [early, final, final] if index % 2 else [early, final]


def rendered(alerts: list[Alert]) -> list[bytes]:
    return [encode_incident(i) for i in correlate(alerts, inventory())]


@settings(max_examples=60, deadline=None)
@given(st.lists(spec, min_size=1, max_size=14), st.randoms(use_true_random=False))
def test_any_order_of_any_versions_gives_the_same_incidents(
    specs: list[tuple[object, ...]], rand: random.Random
) -> None:
    versions = [v for i, s in enumerate(specs) for v in make(i, s)]
    finals: dict[str, Alert] = {}
    for v in versions:
        finals[v.id] = merge_alerts(finals[v.id], v) if v.id in finals else v
    expected = rendered(sorted(finals.values(), key=lambda a: (a.first_seen, a.id)))
    for _ in range(3):
        rand.shuffle(versions)
        assert rendered(versions) == expected
    # one at a time, as the stream feeds it: what was emitted, minus what was retired
    correlator = Correlator(inventory())
    emitted: dict[str, Incident] = {}
    for version in versions:
        for incident in correlator.add(version):
            emitted[incident.id] = incident
        for gone in correlator.retired:
            del emitted[gone]
    assert [encode_incident(i) for i in correlator.incidents()] == expected
    assert sorted(emitted) == sorted(i.id for i in correlator.incidents())
    assert all(emitted[i.id] == i for i in correlator.incidents())
    # every alert lands in exactly one incident
    ids = [a for i in correlate(versions, inventory()) for a in i.alert_ids]
    assert sorted(ids) == sorted(finals)


def test_incidents_decay_and_memory_stays_bounded() -> None:
    config = CorrelatorConfig(retention=dt.timedelta(hours=2))
    correlator = Correlator(inventory(), config)
    alerts = [
        alert(f"a{n:04d}", "cross-vm-access", at=n * 7, vm=["acme-web-1", "globex-db-1"][n % 2])
        for n in range(24 * 60 // 7)  # a day, an alert every 7 minutes, two chains
    ]
    peak = 0
    for a in alerts:
        correlator.add(a)
        peak = max(peak, len(correlator))
    # each chain links every 14 minutes (< 15 min window) and never ends: kept whole
    assert len(correlator.incidents()) == 2
    gapped = Correlator(inventory(), config)
    for n in range(200):  # isolated alerts an hour apart: all but the last two hours decay
        gapped.add(alert(f"g{n:03d}", at=n * 60, vm="acme-web-1"))
        peak = max(peak, len(gapped))
    assert len(gapped) <= 3
    assert gapped.graph.number_of_nodes() <= 3 * 4  # alert nodes and their entity nodes
    # decayed incidents are still part of a bounded correlation's result
    everything = correlate(
        (alert(f"g{n:03d}", at=n * 60, vm="acme-web-1") for n in range(200)), inventory(), config
    )
    assert len(everything) == 200
