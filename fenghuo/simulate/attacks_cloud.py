"""Attack scenarios in the network and control plane: flows across unpeered tenants, data
shared with another tenant or everyone, stolen instance credentials replayed elsewhere, a burst
of reads of other tenants' data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fenghuo.simulate.attacks_host import AttackContext, Outcome
from fenghuo.simulate.benign_flows import conversation, interface
from fenghuo.simulate.cloud_calls import OBJECT_KEYS, s3_call, secret_arn
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import cloudtrail as ct
from fenghuo.simulate.render.vpcflow import flow_line
from fenghuo.simulate.world import REGION, AttackPlan, Tenant

ATTACKER_IPS = tuple(f"192.0.2.{n}" for n in range(150, 250, 11))  # never a tenant's


def _minute(start: dt.datetime, index: int) -> tuple[dt.datetime, dt.datetime]:
    begin = start.replace(microsecond=0) + dt.timedelta(seconds=60 * index)
    return begin, begin + dt.timedelta(seconds=60)


def cross_tenant_flow(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """`exfil`: a VM pulls data from another tenant's database across the isolation boundary;
    `probe`: it scans the other tenant's VMs and is rejected."""
    rand, world, tl = ctx.rand, ctx.ops.world, ctx.ops.timeline
    actor, victim = world.vm(plan.vm or ""), world.vm(plan.target_vm or "")
    src, dst = interface(world, actor), interface(world, victim)
    minutes = max(1, min(5, int(span // 60)))
    if plan.variant == "exfil":
        port = rand.pick((5432, 3306, 6379, 27017))
        for index in range(minutes):
            conversation(
                tl,
                rand,
                (src, actor.ip),
                (dst, victim.ip),
                port,
                6,
                _minute(start, index),
                path=1,
                scale=40,
            )
        end = _minute(start, minutes - 1)[0]
        return (
            start.replace(microsecond=0),
            end,
            (
                f"{actor.name} ({actor.tenant}) pulled data from {victim.name} ({victim.tenant}) "
                f"port {port} for {minutes} min without a peering"
            ),
        )
    targets = [vm for vm in world.vms_of(victim.tenant)][:6]
    ports = (22, 80, 443, 3306, 5432, 6379, 8080, 9200)
    index = 0
    for index, target in enumerate(targets):
        interval = _minute(start, index % minutes)
        nic = interface(world, target)
        for port in ports:
            sport = rand.randint(32768, 60999)
            tl.flow(
                interval[0],
                flow_line(
                    src,
                    actor.ip,
                    target.ip,
                    sport,
                    port,
                    6,
                    1,
                    60,
                    interval,
                    "ACCEPT",
                    "egress",
                    tcp_flags=2,
                    traffic_path=1,
                ),
            )
            tl.flow(
                interval[0],
                flow_line(
                    nic,
                    actor.ip,
                    target.ip,
                    sport,
                    port,
                    6,
                    1,
                    60,
                    interval,
                    "REJECT",
                    "ingress",
                    tcp_flags=2,
                ),
            )
    end = _minute(start, min(index, minutes - 1))[0]
    return (
        start.replace(microsecond=0),
        end,
        (f"{actor.name} ({actor.tenant}) port-scanned {len(targets)} VMs of {victim.tenant}"),
    )


def cross_tenant_sharing(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """A snapshot, machine image or database snapshot of the victim shared with the actor's
    account (or with everyone), by a user of the victim's account."""
    rand, world, tl = ctx.rand, ctx.ops.world, ctx.ops.timeline
    owner = world.tenant(plan.victim)
    grantee = world.tenant(plan.actor).account if plan.actor else "all"
    user = owner.users[0]
    source_ip = rand.pick((owner.office_ip, rand.pick(ATTACKER_IPS)))

    def call(
        time: dt.datetime,
        service: str,
        action: str,
        params: dict[str, Any],
        response: dict[str, Any] | None,
    ) -> None:
        c = ct.Call(
            time=time,
            service=service,
            action=action,
            identity=ct.iam_user(owner, user),
            source_ip=source_ip,
            recipient=owner.account,
            parameters=params,
            response=response,
            read_only=False,
            agent=ct.AGENTS[0],
        )
        tl.cloudtrail(time, ct.record(rand, c))

    end = rand.after(start, 20, max(21, min(120, span / 2)))
    if plan.variant == "snapshot":
        snapshot = rand.pick(owner.snapshots)
        call(
            start,
            "ec2.amazonaws.com",
            "DescribeSnapshots",
            {"snapshotSet": {"items": [{"snapshotId": snapshot}]}},
            None,
        )
        call(
            end,
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            {
                "snapshotId": snapshot,
                "attributeType": "CREATE_VOLUME_PERMISSION",
                "createVolumePermission": {"add": {"items": [{"userId": grantee}]}},
            },
            {"requestId": rand.uuid4(), "_return": True},
        )
        what = f"EBS snapshot {snapshot}"
    elif plan.variant == "image_public":
        image = rand.pick(owner.images)
        call(
            start,
            "ec2.amazonaws.com",
            "DescribeImages",
            {"imagesSet": {"items": [{"imageId": image}]}},
            None,
        )
        call(
            end,
            "ec2.amazonaws.com",
            "ModifyImageAttribute",
            {
                "imageId": image,
                "attributeType": "launchPermission",
                "launchPermission": {"add": {"items": [{"group": "all"}]}},
            },
            {"requestId": rand.uuid4(), "_return": True},
        )
        what = f"machine image {image}"
    else:
        snapshot = rand.pick(owner.db_snapshots)
        call(
            start,
            "rds.amazonaws.com",
            "DescribeDBSnapshots",
            {"dBSnapshotIdentifier": snapshot},
            None,
        )
        call(
            end,
            "rds.amazonaws.com",
            "ModifyDBSnapshotAttribute",
            {
                "dBSnapshotIdentifier": snapshot,
                "attributeName": "restore",
                "valuesToAdd": [grantee],
            },
            {
                "dBSnapshotIdentifier": snapshot,
                "dBSnapshotAttributes": [
                    {"attributeName": "restore", "attributeValues": [grantee]}
                ],
            },
        )
        what = f"RDS snapshot {snapshot}"
    shared = f"tenant {plan.actor}'s account {grantee}" if plan.actor else "everyone"
    return start, end, f"{owner.id} shared {what} with {shared}"


def credential_misuse(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """A VM's instance role credentials, used first from the VM itself (normal), then from
    another tenant's VM or from the internet."""
    rand, world, tl = ctx.rand, ctx.ops.world, ctx.ops.timeline
    vm = world.vm(plan.vm or "")
    owner = world.tenant(vm.tenant)
    created = start - dt.timedelta(minutes=rand.randint(10, 50))
    session = ct.RoleSession.of(rand, owner, vm, created)
    identity = session.identity()
    for _ in range(2):  # the workload itself, a little earlier
        t = start - dt.timedelta(seconds=rand.uniform(30, 200))
        tl.cloudtrail(
            t,
            ct.record(
                rand,
                s3_call(
                    rand,
                    identity,
                    vm.ip,
                    owner.account,
                    owner.vpc_endpoint,
                    t,
                    "GetObject",
                    owner.buckets[0],
                    rand.pick(OBJECT_KEYS),
                    owner.account,
                ),
            ),
        )
    if plan.actor:
        thief = rand.pick(world.vms_of(plan.actor))
        source_ip, endpoint = thief.ip, world.tenant(plan.actor).vpc_endpoint
        where = f"{thief.name} of {plan.actor}"
    else:
        source_ip, endpoint, where = rand.pick(ATTACKER_IPS), None, "the internet"
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("sts.amazonaws.com", "GetCallerIdentity", None),
        ("ec2.amazonaws.com", "DescribeInstances", {"filterSet": {}, "instancesSet": {}}),
        ("s3.amazonaws.com", "ListBuckets", {"Host": f"s3.{REGION}.amazonaws.com.cn"}),
        ("secretsmanager.amazonaws.com", "ListSecrets", None),
    ]
    t = end = start
    step = max(1.0, min(span, 300) / 8)
    for service, action, params in calls:
        c = ct.Call(
            time=t,
            service=service,
            action=action,
            identity=identity,
            source_ip=source_ip,
            recipient=owner.account,
            parameters=params,
            agent=ct.AGENTS[1],
            vpc_endpoint=endpoint,
        )
        tl.cloudtrail(t, ct.record(rand, c))
        t = rand.after(t, step / 2, step)
    for key in rand.sample(OBJECT_KEYS, 3):
        tl.cloudtrail(
            t,
            ct.record(
                rand,
                s3_call(
                    rand,
                    identity,
                    source_ip,
                    owner.account,
                    endpoint,
                    t,
                    "GetObject",
                    owner.buckets[0],
                    key,
                    owner.account,
                ),
            ),
        )
        end = t
        t = rand.after(t, step / 4, step / 2)
    return start, end, f"instance credentials of {vm.name} ({owner.id}) used from {where}"


def anomalous_access(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """One principal of the actor reads the victim's buckets, secrets and snapshots in a burst;
    most calls are denied, some succeed (a bucket policy left too open)."""
    rand, world, tl = ctx.rand, ctx.ops.world, ctx.ops.timeline
    actor, victim = world.tenant(plan.actor or ""), world.tenant(plan.victim)
    user = actor.users[1]
    identity = ct.iam_user(actor, user)
    on_owner_side = {
        "type": "AWSAccount",
        "principalId": user.principal_id,
        "accountId": actor.account,
    }
    source_ip = actor.office_ip
    calls = rand.randint(45, 70)
    window = min(span, 240.0)
    t, end = start, start
    for number in range(calls):
        denied = rand.random() < 0.6
        kind = rand.pick_weighted(("get", "list", "secret", "snapshot"), (10, 3, 2, 1))
        if kind in ("get", "list"):
            bucket = rand.pick(victim.buckets)
            action = "GetObject" if kind == "get" else "ListObjects"
            error = ("AccessDenied", "Access Denied") if denied else None
            for recipient, who in ((actor.account, identity), (victim.account, on_owner_side)):
                tl.cloudtrail(
                    t,
                    ct.record(
                        rand,
                        s3_call(
                            rand,
                            who,
                            source_ip,
                            recipient,
                            None,
                            t,
                            action,
                            bucket,
                            rand.pick(OBJECT_KEYS),
                            victim.account,
                            error,
                        ),
                    ),
                )
        else:
            tl.cloudtrail(
                t, ct.record(rand, _denied_call(rand, actor, identity, source_ip, victim, kind, t))
            )
        end = t
        t = start + dt.timedelta(seconds=window * (number + rand.uniform(0.5, 1)) / calls)
    return start, end, f"{actor.id}'s {user.name} read {victim.id}'s buckets and secrets in a burst"


def _denied_call(
    rand: Rand,
    actor: Tenant,
    identity: dict[str, Any],
    source_ip: str,
    victim: Tenant,
    kind: str,
    time: dt.datetime,
) -> ct.Call:
    if kind == "secret":
        arn = secret_arn(victim, rand.pick(victim.secrets))
        return ct.Call(
            time=time,
            service="secretsmanager.amazonaws.com",
            action="GetSecretValue",
            identity=identity,
            source_ip=source_ip,
            recipient=actor.account,
            parameters={"secretId": arn},
            agent=ct.AGENTS[1],
            error=(
                "AccessDenied",
                f"User: {identity['arn']} is not authorized to "
                f"perform: secretsmanager:GetSecretValue on resource: {arn}",
            ),
        )
    snapshot = rand.pick(victim.snapshots)
    return ct.Call(
        time=time,
        service="ec2.amazonaws.com",
        action="CopySnapshot",
        identity=identity,
        source_ip=source_ip,
        recipient=actor.account,
        parameters={
            "sourceRegion": REGION,
            "sourceSnapshotId": snapshot,
            "description": f"[Copied {snapshot} from {REGION}]",
        },
        read_only=False,
        agent=ct.AGENTS[1],
        error=("Client.InvalidSnapshot.NotFound", f"The snapshot '{snapshot}' does not exist."),
    )
