"""CloudTrail calls that benign behaviour and attacks share: instance lifecycle calls, S3 data
events, secrets' ARNs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fenghuo.simulate.emission import Timeline
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import cloudtrail as ct
from fenghuo.simulate.world import PARTITION, REGION, Tenant, Vm, World

OBJECT_KEYS = (
    "reports/2026/01/daily.csv",
    "exports/customers.parquet",
    "app/config.json",
    "logs/app-2026-01-05.log.gz",
    "models/latest.bin",
    "uploads/batch-0042.json",
)


def instance_call(
    tl: Timeline, rand: Rand, world: World, vm: Vm, action: str, time: dt.datetime
) -> None:
    """StopInstances / StartInstances / TerminateInstances of `vm` by one of its tenant's users."""
    tenant = world.tenant(vm.tenant)
    user = tenant.users[rand.randrange(2)]
    states = {
        "StopInstances": (("running", 16), ("stopping", 64)),
        "StartInstances": (("stopped", 80), ("pending", 0)),
        "TerminateInstances": (("running", 16), ("shutting-down", 32)),
    }
    (before, before_code), (now, now_code) = states[action]
    item = {
        "instanceId": vm.instance_id,
        "currentState": {"code": now_code, "name": now},
        "previousState": {"code": before_code, "name": before},
    }
    params: dict[str, Any] = {"instancesSet": {"items": [{"instanceId": vm.instance_id}]}}
    if action == "StopInstances":
        params["force"] = False
    call = ct.Call(
        time=time,
        service="ec2.amazonaws.com",
        action=action,
        identity=ct.iam_user(tenant, user),
        source_ip=tenant.office_ip,
        recipient=tenant.account,
        parameters=params,
        response={"requestId": rand.uuid4(), "instancesSet": {"items": [item]}},
        read_only=False,
        agent=rand.pick(ct.AGENTS),
    )
    tl.cloudtrail(time, ct.record(rand, call))


def run_instances_call(
    tl: Timeline, rand: Rand, tenant: Tenant, vm: Vm, image: str, time: dt.datetime
) -> None:
    """RunInstances of one VM by the tenant's deployment user."""
    zone = f"{REGION}{'ab'[int(vm.zone[-1]) - 1]}"
    params = {
        "instancesSet": {"items": [{"imageId": image, "minCount": 1, "maxCount": 1}]},
        "instanceType": rand.pick(("m6i.large", "c6i.xlarge", "t3.medium")),
        "blockDeviceMapping": {},
        "availabilityZone": zone,
        "monitoring": {"enabled": False},
        "disableApiTermination": False,
        "clientToken": rand.uuid4(),
    }
    item = {
        "instanceId": vm.instance_id,
        "imageId": image,
        "instanceState": {"code": 0, "name": "pending"},
        "privateIpAddress": vm.ip,
        "subnetId": vm.subnet,
        "vpcId": tenant.vpc,
        "placement": {"availabilityZone": zone, "tenancy": "default"},
    }
    response = {
        "requestId": rand.uuid4(),
        "reservationId": f"r-0{rand.hex(16)}",
        "ownerId": tenant.account,
        "instancesSet": {"items": [item]},
    }
    call = ct.Call(
        time=time,
        service="ec2.amazonaws.com",
        action="RunInstances",
        identity=ct.iam_user(tenant, tenant.users[1]),
        source_ip=tenant.office_ip,
        recipient=tenant.account,
        parameters=params,
        response=response,
        read_only=False,
        agent=ct.AGENTS[2],
    )
    tl.cloudtrail(time, ct.record(rand, call))


def secret_arn(tenant: Tenant, name: str) -> str:
    return f"arn:{PARTITION}:secretsmanager:{REGION}:{tenant.account}:secret:{name}-AbC1dE"


def s3_call(
    rand: Rand,
    identity: dict[str, Any],
    source_ip: str,
    recipient: str,
    endpoint: str | None,
    time: dt.datetime,
    action: str,
    bucket: str,
    key: str,
    owner: str,
    error: tuple[str, str] | None = None,
) -> ct.Call:
    """An S3 data event (object level, or bucket level for ListObjects)."""
    listing = action == "ListObjects"
    resources = ct.s3_object_resources(bucket, key, owner)
    return ct.Call(
        time=time,
        service="s3.amazonaws.com",
        action=action,
        identity=identity,
        source_ip=source_ip,
        recipient=recipient,
        parameters=ct.s3_parameters(bucket, None if listing else key)
        | ({"list-type": "2", "prefix": key.split("/")[0] + "/"} if listing else {}),
        read_only=action != "PutObject",
        agent=ct.SDK_AGENT,
        error=error,
        data_event=True,
        resources=resources[1:] if listing else resources,
        vpc_endpoint=endpoint,
        extra=ct.s3_extra(rand, 0 if error else rand.randint(200, 5_000_000)),
    )
