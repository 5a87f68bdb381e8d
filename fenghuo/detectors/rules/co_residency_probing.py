"""co-residency-probing: a tenant churns VMs until they land beside another tenant's VMs.

Cloud cartography (Ristenpart et al., "Hey, You, Get Off of My Cloud", CCS 2009): to attack a
victim through a shared host (side channels, a VM escape, a noisy neighbour) an attacker first
needs a VM on the victim's host, so it launches VMs, checks where they landed, terminates the
misses and tries again. Seen from the provider: one tenant launching and terminating many VMs in
a short window while its new VMs keep landing on hosts that run one particular other tenant.
Autoscaling launches as many VMs but spreads them over hosts with no common neighbour.

Who launched a VM: churned VMs are not in the inventory, so their libvirt events arrive
unattributed. They are joined to the tenant (1) by instance id: the tenant's EC2 calls name the
instance (TerminateInstances in its request; RunInstances only in its response, which ApiCall
does not carry yet) and the provider's libvirt domain is known by the instance id (its name, as
AWS-compatible clouds such as Eucalyptus name domains, or its UUID); (2) otherwise by time: a
domain that starts on a host within `placement_seconds` after RunInstances calls of exactly one
tenant is that tenant's. The join needs every relevant event in one place, so the key is the
whole cloud. The window is judged over event time every `evaluate_every_seconds` once the
watermark has passed, from the events up to then only, so arrival order does not change alerts.

Settings: `window_minutes` (60), `min_launches` (10), `min_terminations` (5),
`min_target_launches` (3) and `min_target_share` (0.5) of the new VMs on the victim's hosts,
`placement_seconds` (120), `evaluate_every_seconds` (60).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.engine import window_start
from fenghuo.detectors.network import tenants_on_host
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.model import ApiCall, Event, VmLifecycle
from fenghuo.model.alert import Entity, Severity

EC2 = "ec2.amazonaws.com"
LAUNCH = "RunInstances"
TERMINATE = "TerminateInstances"
CLOUD_KEY = "cloud"
_ARRIVED = "started"
_GONE = frozenset({"stopped", "undefined"})


@dataclass(frozen=True, slots=True)
class Call:
    event_id: str
    time: dt.datetime
    tenant: str
    action: str
    instances: tuple[str, ...]  # instance ids the call names, lower case


@dataclass(frozen=True, slots=True)
class Placement:
    """A VM arriving on (started) or leaving (stopped, undefined) a host."""

    event_id: str
    time: dt.datetime
    host: str
    vm: str  # the domain name, lower case
    aliases: tuple[str, ...]  # every id the VM is known by (name, uuid, inventory instance id)
    arrived: bool
    known: bool  # an inventory VM: restarts of it are not new placements


@dataclass
class ChurnState:
    calls: list[Call] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    evaluate_at: set[dt.datetime] = field(default_factory=set)
    campaigns: dict[str, dt.datetime] = field(default_factory=dict)  # actor>victim -> first seen


@dataclass
class TenantChurn:
    launches: int = 0
    terminated: set[str] = field(default_factory=set)  # instance ids named by TerminateInstances
    landed: dict[str, str] = field(default_factory=dict)  # new VM -> host
    left: set[str] = field(default_factory=set)  # VMs seen leaving their host
    evidence: set[str] = field(default_factory=set)
    times: list[dt.datetime] = field(default_factory=list)

    @property
    def terminations(self) -> int:
        return max(len(self.terminated), len(self.left))


@dataclass(frozen=True, slots=True)
class Settings:
    window: dt.timedelta
    placement: dt.timedelta
    every: dt.timedelta
    min_launches: int
    min_terminations: int
    min_target_launches: int
    min_target_share: float

    @classmethod
    def of(cls, ctx: Context) -> Settings:
        return cls(
            window=dt.timedelta(minutes=float(ctx.setting("window_minutes", 60))),
            placement=dt.timedelta(seconds=float(ctx.setting("placement_seconds", 120))),
            every=dt.timedelta(seconds=float(ctx.setting("evaluate_every_seconds", 60))),
            min_launches=int(ctx.setting("min_launches", 10)),
            min_terminations=int(ctx.setting("min_terminations", 5)),
            min_target_launches=int(ctx.setting("min_target_launches", 3)),
            min_target_share=float(ctx.setting("min_target_share", 0.5)),
        )


def _tick(time: dt.datetime, every: dt.timedelta) -> dt.datetime:
    """The first evaluation time at or after `time`: windows are judged every `every` of event
    time (not at every event), which bounds the work on a busy cloud."""
    start = window_start(time, every)
    return start if start == time else start + every


def _churn(
    calls: list[Call], placements: list[Placement], placement: dt.timedelta
) -> dict[str, TenantChurn]:
    """Per tenant: its launches, terminations and the hosts its new VMs landed on (`calls` and
    `placements` in event-time order)."""
    owner: dict[str, str] = {}
    for call in calls:
        for instance in call.instances:
            owner.setdefault(instance, call.tenant)
    launches = [c for c in calls if c.action == LAUNCH]  # in time order, as `calls` is
    launch_times = [c.time for c in launches]
    vm_tenant: dict[str, str] = {}
    for p in placements:
        tenant = next((owner[a] for a in p.aliases if a in owner), None)
        if tenant is None and p.arrived and not p.known and p.vm not in vm_tenant:
            first = bisect.bisect_left(launch_times, p.time - placement)
            last = bisect.bisect_right(launch_times, p.time)
            near = {c.tenant for c in launches[first:last]}
            tenant = near.pop() if len(near) == 1 else None
        if tenant is not None:
            vm_tenant.setdefault(p.vm, tenant)
    churn: dict[str, TenantChurn] = defaultdict(TenantChurn)
    for call in calls:
        tenant_churn = churn[call.tenant]
        if call.action == LAUNCH:
            tenant_churn.launches += 1
        else:
            tenant_churn.terminated.update(call.instances)
        tenant_churn.evidence.add(call.event_id)
        tenant_churn.times.append(call.time)
    for p in placements:
        tenant = vm_tenant.get(p.vm)
        if tenant is None:
            continue
        tenant_churn = churn[tenant]
        if p.arrived and not p.known:
            tenant_churn.landed.setdefault(p.vm, p.host)
        elif not p.arrived:
            tenant_churn.left.add(p.vm)
        tenant_churn.evidence.add(p.event_id)
        tenant_churn.times.append(p.time)
    for tenant_churn in churn.values():
        tenant_churn.launches = max(tenant_churn.launches, len(tenant_churn.landed))
    return dict(churn)


# --- raw records for the cases: CloudTrail records one per line, `virsh event` lines -------------

T0 = dt.datetime(2026, 1, 5, 13, 0, tzinfo=dt.UTC)
_IDS = uuid.UUID("5b0e6a52-8d7e-4f1c-9d3a-2c1b0a998877")
_AMI = "ami-0abcdef1234567890"


def _stamp(time: dt.datetime) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ")


def cloudtrail_ec2(
    account: str,
    user: str,
    time: dt.datetime,
    action: str,
    params: dict[str, Any],
    response: dict[str, Any],
) -> str:
    """One CloudTrail record of an EC2 call by an IAM user, as CloudTrail writes it."""
    ident = uuid.uuid5(_IDS, f"{account}/{action}/{json.dumps(params, sort_keys=True)}")
    return json.dumps(
        {
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": f"AIDA{ident.hex[:16].upper()}",
                "arn": f"arn:aws:iam::{account}:user/{user}",
                "accountId": account,
                "accessKeyId": f"AKIA{ident.hex[16:32].upper()}",
                "userName": user,
            },
            "eventTime": _stamp(time),
            "eventSource": EC2,
            "eventName": action,
            "awsRegion": "cn-north-1",
            "sourceIPAddress": "203.0.113.50",
            "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.ubuntu.22",
            "requestParameters": params,
            "responseElements": {"requestId": str(ident), **response},
            "requestID": str(ident),
            "eventID": str(uuid.uuid5(_IDS, str(ident))),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        },
        separators=(",", ":"),
    )


def run_instance(account: str, user: str, time: dt.datetime, instance: str) -> str:
    params = {
        "instancesSet": {"items": [{"imageId": _AMI, "minCount": 1, "maxCount": 1}]},
        "instanceType": "m6i.large",
        "placement": {"availabilityZone": "cn-north-1a"},
        "clientToken": instance,
    }
    item = {
        "instanceId": instance,
        "imageId": _AMI,
        "instanceState": {"code": 0, "name": "pending"},
        "instanceType": "m6i.large",
        "placement": {"availabilityZone": "cn-north-1a", "tenancy": "default"},
    }
    response = {"ownerId": account, "instancesSet": {"items": [item]}}
    return cloudtrail_ec2(account, user, time, LAUNCH, params, response)


def terminate_instance(account: str, user: str, time: dt.datetime, instance: str) -> str:
    params = {"instancesSet": {"items": [{"instanceId": instance}]}}
    item = {
        "instanceId": instance,
        "currentState": {"code": 32, "name": "shutting-down"},
        "previousState": {"code": 16, "name": "running"},
    }
    return cloudtrail_ec2(
        account, user, time, TERMINATE, params, {"instancesSet": {"items": [item]}}
    )


def virsh_lifecycle(time: dt.datetime, domain: str, words: str) -> str:
    stamp = f"{time:%Y-%m-%d %H:%M:%S}.{time.microsecond // 1000:03d}+0000"
    return f"{stamp}: event 'lifecycle' for domain '{domain}': {words}"


def churn_records(
    account: str,
    user: str,
    start: dt.datetime,
    hosts: list[str],
    *,
    keep: int = 0,
    serial: int = 1,
    every: dt.timedelta = dt.timedelta(seconds=150),
) -> tuple[Records, ...]:
    """A tenant launching one VM per entry of `hosts` (it lands there), `every` apart, and
    terminating all but the last `keep` a minute and a half after launch. Domains are named by
    instance id."""
    trail: list[str] = []
    virsh: dict[str, list[str]] = defaultdict(list)
    second = dt.timedelta(seconds=1)
    for i, host in enumerate(hosts):
        launched = start + i * every
        instance = f"i-0{serial:06x}{i:010x}"
        trail.append(run_instance(account, user, launched, instance))
        virsh[host].append(virsh_lifecycle(launched + 20 * second, instance, "Started Booted"))
        if i < len(hosts) - keep:
            trail.append(terminate_instance(account, user, launched + 90 * second, instance))
            gone = launched + 95 * second
            virsh[host].append(virsh_lifecycle(gone, instance, "Stopped Destroyed"))
            virsh[host].append(virsh_lifecycle(gone + second, instance, "Undefined Removed"))
    libvirt = [
        Records("libvirt-events", "\n".join(lines), host_id=host)
        for host, lines in sorted(virsh.items())
    ]
    return (Records("cloudtrail", "\n".join(trail)), *libvirt)


class CoResidencyProbing(Detector):
    meta = DetectorMeta(
        id="co-residency-probing",
        title="Co-residency probing: VM churn landing beside another tenant",
        severity=Severity.HIGH,
        confidence=0.7,
        technique="T1580",
        category=CYBER_ATTACK,
        description=(
            "One tenant launched and terminated many VMs in a short window and most of its new "
            "VMs landed on hosts running one other tenant's VMs: cloud cartography to get "
            "co-resident with a victim (side channels, escapes, noisy neighbours)."
        ),
        runbook=(
            "1. Check the probing tenant's account: who launched the VMs, from where, which "
            "image (a compromised account or a real customer?). "
            "2. Keep its surviving VMs on the victim's hosts under watch (escape and side-channel "
            "detectors) or migrate the victim's VMs away. "
            "3. Consider placement anti-affinity or dedicated hosts for the victim. "
            "4. Report to the victim tenant if the probing tenant is confirmed malicious."
        ),
        dedup_window=dt.timedelta(hours=2),
    )
    inputs = (ApiCall, VmLifecycle)

    def key(self, event: Event) -> str | None:
        if isinstance(event, ApiCall):
            wanted = event.service == EC2 and event.action in (LAUNCH, TERMINATE)
            return CLOUD_KEY if wanted and event.outcome == "success" and event.tenant_id else None
        if isinstance(event, VmLifecycle) and event.host_id:
            return CLOUD_KEY if event.state == _ARRIVED or event.state in _GONE else None
        return None

    def new_state(self) -> ChurnState:
        return ChurnState()

    def is_idle(self, state: Any) -> bool:
        return isinstance(state, ChurnState) and not (
            state.calls or state.placements or state.evaluate_at
        )

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(state, ChurnState)
        settings = Settings.of(ctx)
        if isinstance(event, ApiCall) and event.tenant_id:
            instances = tuple(
                sorted({r.id.lower() for r in event.resources if r.type == "ec2:instance"})
            )
            state.calls.append(
                Call(event.id, event.event_time, event.tenant_id, event.action, instances)
            )
        elif isinstance(event, VmLifecycle) and event.host_id:
            known = ctx.inventory.vm_by_name(event.vm_name) or ctx.inventory.vm_by_uuid(
                event.vm_uuid
            )
            names = (event.vm_name, event.vm_uuid, known.instance_id if known else None)
            aliases = {name.lower() for name in names if name}
            state.placements.append(
                Placement(
                    event.id,
                    event.event_time,
                    event.host_id,
                    event.vm_name.lower(),
                    tuple(sorted(aliases)),
                    event.state == _ARRIVED,
                    known is not None,
                )
            )
        tick = _tick(event.event_time, settings.every)
        state.evaluate_at.add(tick)
        ctx.set_timer(tick)
        ctx.set_timer(tick + settings.window + settings.placement)
        return ()

    def on_timer(self, at: dt.datetime, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(state, ChurnState)
        settings = Settings.of(ctx)
        findings: list[Finding] = []
        if at in state.evaluate_at:
            state.evaluate_at.discard(at)
            findings = self._evaluate(at, state, settings, ctx)
        horizon = at - settings.window - settings.placement
        state.calls = [c for c in state.calls if c.time > horizon]
        state.placements = [p for p in state.placements if p.time > horizon]
        state.evaluate_at = {t for t in state.evaluate_at if t > horizon}
        stale = at - self.meta.dedup_window
        state.campaigns = {k: t for k, t in state.campaigns.items() if t > stale}
        return findings

    def _evaluate(
        self, at: dt.datetime, state: ChurnState, settings: Settings, ctx: Context
    ) -> list[Finding]:
        """Findings over the window ending at `at`, from events at or before `at` only."""
        low = at - settings.window
        calls = sorted(
            (c for c in state.calls if low < c.time <= at), key=lambda c: (c.time, c.event_id)
        )
        placements = sorted(
            (p for p in state.placements if low < p.time <= at), key=lambda p: (p.time, p.event_id)
        )
        findings = []
        for tenant, churn in sorted(_churn(calls, placements, settings.placement).items()):
            finding = self._judge(at, tenant, churn, settings, state, ctx)
            if finding is not None:
                findings.append(finding)
        return findings

    def _judge(
        self,
        at: dt.datetime,
        tenant: str,
        churn: TenantChurn,
        settings: Settings,
        state: ChurnState,
        ctx: Context,
    ) -> Finding | None:
        if churn.launches < settings.min_launches:
            return None
        if churn.terminations < settings.min_terminations or not churn.landed:
            return None
        index = ctx.inventory
        hits: dict[str, list[str]] = defaultdict(list)
        neighbours: dict[str, dict[str, list[str]]] = {}
        for vm, host in sorted(churn.landed.items()):
            beside = neighbours.setdefault(host, tenants_on_host(index, host, exclude=tenant))
            for other in beside:
                hits[other].append(vm)
        if not hits:
            return None
        victim = min(hits, key=lambda t: (-len(hits[t]), t))
        landed_there = len(hits[victim])
        share = landed_there / len(churn.landed)
        if landed_there < settings.min_target_launches or share < settings.min_target_share:
            return None
        hosts = sorted({churn.landed[vm] for vm in hits[victim]})
        victim_vms = sorted({vm for h in hosts for vm in neighbours[h].get(victim, [])})
        pair = f"{tenant}>{victim}"
        first_seen = state.campaigns.get(pair)
        if first_seen is None or at - first_seen > self.meta.dedup_window:
            first_seen = min(churn.times)
            state.campaigns[pair] = first_seen
        minutes = int(settings.window.total_seconds() // 60)
        by_host: dict[str, list[str]] = defaultdict(list)
        for vm, host in sorted(churn.landed.items()):
            by_host[host].append(vm)
        return Finding(
            summary=(
                f"Tenant {tenant} launched {churn.launches} and terminated "
                f"{churn.terminations} VMs within {minutes} min; {landed_there} of "
                f"{len(churn.landed)} new VMs landed on {', '.join(hosts)}, where tenant {victim} "
                f"runs {', '.join(victim_vms)} (co-residency probing)"
            ),
            tenant_id=victim,
            actor_tenant_id=tenant,
            host_id=hosts[0] if len(hosts) == 1 else None,
            first_seen=first_seen,
            last_seen=max(churn.times),
            evidence=tuple(sorted(churn.evidence)),
            entities=tuple(Entity("host", h) for h in hosts)
            + tuple(Entity("vm", vm) for vm in victim_vms),
            dedup_key=pair,
            details={
                "window_minutes": minutes,
                "launches": churn.launches,
                "terminations": churn.terminations,
                "new_vms": len(churn.landed),
                "placements": dict(sorted(by_host.items())),
                "target_hosts": hosts,
                "target_share": round(share, 3),
                "victim_vms": victim_vms,
                "co_resident_tenants": {t: len(v) for t, v in sorted(hits.items())},
            },
        )

    cases = (
        Case(
            "acme churns VMs onto globex's host",
            churn_records("111111111111", "ops", T0, ["hv-01"] * 12),
            (Expect(Severity.HIGH, "globex", actor_tenant_id="acme", host_id="hv-01"),),
        ),
        Case(
            "umbrella probes until beside initech and keeps the hits",
            churn_records(
                "756680937392",
                "ci-deployer",
                T0,
                ["hv-07", "hv-02", "hv-08", "hv-02", "hv-02", "hv-09", *["hv-02"] * 4],
                keep=2,
                serial=2,
            ),
            (
                Expect(
                    Severity.HIGH,
                    "initech",
                    actor_tenant_id="umbrella",
                    host_id="hv-02",
                    summary_contains="7 of 10 new VMs landed on hv-02",
                ),
            ),
        ),
        Case(
            "autoscaling spread over hosts with no common neighbour",
            churn_records(
                "751203476945",
                "asg",
                T0,
                [f"hv-0{1 + i % 6}" for i in range(12)],
                serial=3,
            ),
            (),
        ),
        Case(
            "a few launches beside globex",
            churn_records("111111111111", "ops", T0, ["hv-01"] * 4, serial=4),
            (),
        ),
        Case(
            "scale-out onto one host without terminations",
            churn_records("111111111111", "ops", T0, ["hv-01"] * 12, keep=12, serial=5),
            (),
        ),
    )
