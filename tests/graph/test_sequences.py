"""Attack-sequence rules, blast radius and risk."""

from __future__ import annotations

from fenghuo.graph import correlate
from fenghuo.model.alert import Entity, Severity
from fenghuo.model.incident import Grade
from tests.graph.support import alert, inventory


def test_escape_then_cross_vm_access_from_that_host_is_one_story_with_co_resident_blast() -> None:
    escape = alert("esc", "vmm-child-process", tenant="hooli", host="hv-01", vm="hooli-app-1",
                   severity=Severity.CRITICAL, entities=(("process", "hv-01:100"),))  # fmt: skip
    cross = alert("xvm", "cross-vm-access", at=4, tenant="acme", actor="globex", host="hv-01",
                  vm="globex-db-1", entities=(("vm", "acme-web-1"),))  # fmt: skip
    (incident,) = correlate([cross, escape], inventory())
    assert incident.sequences == ("escape-cross-tenant",)
    assert incident.title == "VM escape with cross-tenant impact on hv-01"
    assert incident.severity is Severity.CRITICAL
    assert incident.blast_radius.tenants == ("acme", "globex", "hooli")  # every tenant on hv-01
    assert incident.blast_radius.vms == ("acme-web-1", "globex-db-1", "hooli-app-1")
    assert incident.details["sequence_steps"] == {"escape-cross-tenant": ["esc", "xvm"]}
    assert incident.grade is Grade.I  # acme is critical infrastructure
    assert incident.reporting.required
    assert incident.risk_score == 96.0  # 80 x 0.95 + 6 cross + 6 CII + 4 blast + 4 sequence


def test_escape_then_cross_tenant_flow_from_a_vm_of_that_host_links_through_the_rule() -> None:
    """No shared entity: the flow names its actor VM, the inventory puts it on the host."""
    escape = alert("esc", "container-escape", tenant="initech", host="hv-02",
                   entities=(("container", "3f2a1b4c5d6e"),))  # fmt: skip
    flow = alert("flow", "cross-tenant-flow", at=20, tenant="acme", actor="globex",
                 details={"actor_vm": "globex-web-2"})  # fmt: skip
    unrelated = alert("flow2", "cross-tenant-flow", at=20, tenant="acme", actor="hooli",
                      details={"actor_vm": "hooli-app-1"})  # fmt: skip
    incidents = correlate([escape, flow, unrelated], inventory())
    story = next(i for i in incidents if "esc" in i.alert_ids)
    assert story.alert_ids == ("esc", "flow")
    assert story.sequences == ("escape-cross-tenant",)
    assert set(story.blast_radius.tenants) >= {"globex", "initech"}


def test_cross_tenant_activity_before_the_escape_is_no_story() -> None:
    flow = alert("flow", "cross-tenant-flow", tenant="acme", actor="globex",
                 details={"actor_vm": "globex-web-2"})  # fmt: skip
    escape = alert("esc", "container-escape", at=5, tenant="initech", host="hv-02")
    assert len(correlate([escape, flow], inventory())) == 2


def test_credential_theft_then_sharing_by_the_same_tenant() -> None:
    role = "arn:aws-cn:sts::222222222222:assumed-role/app/i-1"
    cred = alert("cred", "cross-tenant-credential-use", tenant="globex", actor="hooli",
                 details={"principal": role})  # fmt: skip
    snap = ("resource", "ec2:snapshot:snap-9")
    share = alert("share", "cross-tenant-sharing", at=50, tenant="globex", category="03",
                  entities=(snap, ("tenant", "initech")))  # fmt: skip
    other = alert("share2", "cross-tenant-sharing", at=50, tenant="acme", category="03")
    incidents = correlate([cred, share, other], inventory())
    story = next(i for i in incidents if "cred" in i.alert_ids)
    assert story.alert_ids == ("cred", "share")
    assert story.sequences == ("credential-theft-then-sharing",)
    assert story.severity is Severity.CRITICAL
    assert story.blast_radius.resources == (role, "ec2:snapshot:snap-9")
    assert story.blast_radius.tenants == ("globex",)  # the recipient is not exposed, globex is
    assert Entity("tenant", "initech") in story.entities


def test_repeated_crashes_then_a_vmm_child_process_is_exploit_development_then_escape() -> None:
    crashes = alert("crash", "vmm-crash", minutes=12, tenant="hooli", host="hv-01",
                    details={"crashes": 4})  # fmt: skip
    single = alert("crash1", "vmm-crash", at=30, tenant="globex", host="hv-02",
                   details={"crashes": 1})  # fmt: skip
    child = alert("child", "vmm-child-process", at=40, tenant="hooli", host="hv-01",
                  vm="hooli-app-1")  # fmt: skip
    child2 = alert("child2", "vmm-child-process", at=40, tenant="globex", host="hv-02",
                   vm="globex-web-2")  # fmt: skip
    incidents = {i.alert_ids: i for i in correlate([crashes, single, child, child2], inventory())}
    assert incidents["crash", "child"].sequences == ("exploit-development-then-escape",)
    assert incidents["crash", "child"].title.startswith("Exploit development then escape")
    assert incidents["crash1", "child2"].sequences == ()  # linked by host, but one crash only


def test_risk_grows_with_severity_cross_tenancy_and_critical_infrastructure() -> None:
    low = correlate([alert("a", severity=Severity.LOW, tenant="hooli")], inventory())[0]
    high = correlate([alert("a", severity=Severity.HIGH, tenant="hooli")], inventory())[0]
    cross = correlate([alert("a", tenant="hooli", actor="globex")], inventory())[0]
    cii = correlate([alert("a", tenant="acme", actor="globex")], inventory())[0]
    assert 0 < low.risk_score < high.risk_score < cross.risk_score < cii.risk_score <= 100
