"""Which alerts form one incident: shared linking entities within the window, no hubs."""

from __future__ import annotations

import datetime as dt

from fenghuo.graph import Correlator, CorrelatorConfig, correlate
from fenghuo.graph.links import linking_entities
from fenghuo.model.alert import Alert, Entity, Severity, merge_alerts
from fenghuo.model.ids import stable_id
from tests.graph.support import alert, inventory


def groups(alerts: list[Alert]) -> list[set[str]]:
    return sorted(({*i.alert_ids} for i in correlate(alerts, inventory())), key=sorted)


def test_alerts_sharing_a_vm_within_the_window_are_one_incident() -> None:
    a = alert("a", "cross-tenant-flow", vm="acme-web-1", entities=(("ip", "10.1.0.11"),))
    b = alert("b", "cross-tenant-credential-use", at=10, vm="acme-web-1")
    assert groups([a, b]) == [{"a", "b"}]


def test_beyond_the_window_they_stay_apart() -> None:
    a = alert("a", vm="acme-web-1")
    b = alert("b", at=16, vm="acme-web-1")  # window 15 min
    assert groups([a, b]) == [{"a"}, {"b"}]
    # a long-running alert is measured from its end
    c = alert("c", minutes=10, vm="acme-web-1")
    assert groups([c, b]) == [{"b", "c"}]


def test_a_tenant_alone_never_links() -> None:
    a = alert("a", "cross-tenant-sharing", tenant="acme", entities=(("account", "111111111111"),))
    b = alert("b", "cross-tenant-sharing", at=1, tenant="acme",
              entities=(("account", "111111111111"),))  # fmt: skip
    assert groups([a, b]) == [{"a"}, {"b"}]


def test_a_cross_tenant_pair_links_the_same_actor_against_the_same_victim() -> None:
    probe = alert("probe", "cross-tenant-flow", tenant="acme", actor="globex")
    flow = alert("flow", "cross-tenant-flow", at=2, tenant="acme", actor="globex")
    other = alert("other", "cross-tenant-flow", at=2, tenant="acme", actor="hooli")
    assert groups([probe, flow, other]) == [{"flow", "probe"}, {"other"}]


def test_a_mentioned_host_does_not_link_but_the_host_an_alert_happened_on_does() -> None:
    cred = alert("cred", "cross-tenant-credential-use", vm="globex-web-2", tenant="globex",
                 entities=(("host", "hv-02"),))  # fmt: skip
    escape = alert("escape", "container-escape", at=1, tenant="initech", host="hv-02",
                   entities=(("container", "3f2a1b4c5d6e"),))  # fmt: skip
    crash = alert("crash", "vmm-crash", at=2, tenant="globex", host="hv-02", vm="globex-web-2")
    assert Entity("host", "hv-02") not in linking_entities(cred)
    assert groups([cred, escape]) == [{"cred"}, {"escape"}]
    assert groups([escape, crash, cred]) == [
        {"cred", "crash", "escape"}
    ]  # crash via host, cred via VM


def test_target_lists_and_container_images_do_not_link() -> None:
    many = tuple(("vm", f"acme-{n}") for n in range(5))
    sweep = alert("sweep", "co-residency-probing", tenant="acme", actor="hooli", entities=many)
    other = alert("other", "cross-vm-access", at=1, vm="acme-1", tenant="acme")
    image = ("resource", "docker.io/library/redis:7.2.4")
    c1 = alert("c1", "container-escape", entities=(("container", "c1"), image), tenant="globex")
    c2 = alert("c2", "container-escape", entities=(("container", "c2"), image), tenant="hooli")
    assert groups([sweep, other, c1, c2]) == [{"c1"}, {"c2"}, {"other"}, {"sweep"}]
    snap = ("resource", "ec2:snapshot:snap-1")
    s1 = alert("s1", "cross-tenant-sharing", entities=(snap,))
    s2 = alert("s2", "anomalous-access-volume", at=3, entities=(snap,))
    assert groups([s1, s2]) == [{"s1", "s2"}]


def test_groups_merge_and_the_earliest_root_keeps_its_id() -> None:
    correlator = Correlator(inventory())
    a = alert("a", vm="acme-web-1")
    c = alert("c", at=10, vm="globex-db-1", tenant="globex")
    (first,) = correlator.add(a)
    (second,) = correlator.add(c)
    assert first.id == stable_id("incident", "a")
    assert second.id == stable_id("incident", "c")
    bridge = alert("b", at=5, entities=(("vm", "acme-web-1"), ("vm", "globex-db-1")))
    (merged,) = correlator.add(bridge)
    assert merged.id == first.id
    assert merged.alert_ids == ("a", "b", "c")
    assert correlator.retired == [second.id]
    assert [i.id for i in correlator.incidents()] == [first.id]
    # a late alert with an earlier start becomes the root and renames the incident
    early = alert("e", at=-5, vm="acme-web-1")
    (renamed,) = correlator.add(early)
    assert renamed.id == stable_id("incident", "e")
    assert correlator.retired == [first.id]


def test_a_new_version_of_an_alert_updates_its_incident_and_an_identical_one_changes_nothing() -> (
    None
):
    correlator = Correlator(inventory(), CorrelatorConfig(window=dt.timedelta(minutes=5)))
    a = alert("a", vm="acme-web-1")
    b = alert("b", at=9, vm="acme-web-1")
    correlator.add(a)
    correlator.add(b)
    assert len(correlator.incidents()) == 2
    longer = alert("a", minutes=6, vm="acme-web-1", evidence=("e2",))  # now within 5 min of b
    (incident,) = correlator.add(longer)
    assert incident.alert_ids == ("a", "b")
    assert correlator.add(longer) == []


def test_a_version_that_loses_a_link_splits_the_incident_as_a_fresh_start_would() -> None:
    """merge_alerts takes host_id from the most severe version: a link can disappear."""
    a = alert("a", "container-escape", host="hv-01", tenant="hooli")
    c = alert("c", "container-escape", at=2, host="hv-01", tenant="globex")
    b_low = alert("b", "vmm-crash", at=1, host="hv-01", severity=Severity.LOW)
    b_high = alert("b", "vmm-crash", at=1, host="hv-02", severity=Severity.HIGH)
    correlator = Correlator(inventory())
    correlator.add(c)
    (joined,) = correlator.add(b_low)
    (merged,) = correlator.add(a)
    assert merged.alert_ids == ("a", "b", "c")
    changed = correlator.add(b_high)
    assert [i.alert_ids for i in correlator.incidents()] == [("a", "c"), ("b",)]
    assert {i.alert_ids for i in changed} == {("a", "c"), ("b",)}
    final = [merge_alerts(b_low, b_high), a, c]
    assert correlator.incidents() == correlate(final, inventory())
    assert joined.id == stable_id("incident", "b")  # b (minute 1) is earlier than c


def test_a_shared_service_address_does_not_link() -> None:
    dns = ("ip", "10.255.0.2")
    a = alert("a", "cross-tenant-flow", tenant="acme", actor="globex", entities=(dns,))
    b = alert("b", "cross-tenant-flow", at=1, tenant="hooli", actor="initech", entities=(dns,))
    assert groups([a, b]) == [{"a"}, {"b"}]
    attacker = ("ip", "198.51.100.7")
    c = alert("c", "cross-tenant-sharing", tenant="acme", entities=(attacker,))
    d = alert("d", "cross-tenant-credential-use", at=1, tenant="hooli", entities=(attacker,))
    assert groups([c, d]) == [{"c", "d"}]  # an outside address both used: the same attacker
