"""Benign control-plane activity: routine API calls (Describe*, S3 reads and writes by instance
roles through the tenant's VPC endpoint, snapshots, tags, the odd denied call) and sharing
between a tenant's own accounts."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fenghuo.simulate.cloud_calls import OBJECT_KEYS, s3_call, secret_arn
from fenghuo.simulate.emission import Timeline
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import cloudtrail as ct
from fenghuo.simulate.world import Tenant, Vm, World

Window = tuple[dt.datetime, dt.datetime]

DESCRIBES = (
    "DescribeInstances",
    "DescribeVolumes",
    "DescribeSnapshots",
    "DescribeSecurityGroups",
    "DescribeImages",
    "DescribeVpcs",
    "DescribeSubnets",
)


class ApiBackground:
    """Routine API calls; instance role sessions are reused, as the metadata service does."""

    def __init__(self, timeline: Timeline, rand: Rand, world: World, window: Window) -> None:
        self.tl, self.rand, self.world, self.window = timeline, rand, world, window
        self.sessions: dict[str, ct.RoleSession] = {}

    def session(self, vm: Vm) -> ct.RoleSession:
        if vm.name not in self.sessions:
            created = self.window[0] - dt.timedelta(minutes=self.rand.randint(5, 360))
            tenant = self.world.tenant(vm.tenant)
            self.sessions[vm.name] = ct.RoleSession.of(self.rand, tenant, vm, created)
        return self.sessions[vm.name]

    def run(self, count: int) -> None:
        rand, world = self.rand, self.world
        vms = world.vms()
        sharers = [t for t in world.tenants if len(t.accounts) > 1]
        # Sharing within a tenant's own accounts: rare, but always present as a hard negative.
        for _ in range(min(count, 2 if sharers else 0)):
            self.own_share(rand.pick(sharers), rand.moment(*self.window))
        emitted = min(count, 2 if sharers else 0)
        kinds = (self.describe, self.role_data, self.role_other, self.write, self.failure)
        weights = (30, 40, 12, 10, 4)
        while emitted < count:
            time = rand.moment(*self.window)
            vm = rand.pick(vms)
            emitted += rand.pick_weighted(kinds, weights)(vm, time)

    def _emit(self, call: ct.Call) -> int:
        self.tl.cloudtrail(call.time, ct.record(self.rand, call))
        return 1

    def _user_call(
        self,
        tenant: Tenant,
        time: dt.datetime,
        service: str,
        action: str,
        parameters: dict[str, Any] | None,
        **more: Any,
    ) -> ct.Call:
        user = self.rand.pick(tenant.users)
        return ct.Call(
            time=time,
            service=service,
            action=action,
            identity=ct.iam_user(tenant, user),
            source_ip=tenant.office_ip,
            recipient=tenant.account,
            parameters=parameters,
            agent=self.rand.pick(ct.AGENTS),
            **more,
        )

    def describe(self, vm: Vm, time: dt.datetime) -> int:
        tenant = self.world.tenant(vm.tenant)
        action = self.rand.pick(DESCRIBES)
        params: dict[str, Any] = {"filterSet": {}}
        if action in ("DescribeSnapshots", "DescribeImages"):
            params = {"ownersSet": {"items": [{"owner": "self"}]}, "filterSet": {}}
        elif action == "DescribeInstances":
            params = {"instancesSet": {"items": [{"instanceId": vm.instance_id}]}, "filterSet": {}}
        return self._emit(self._user_call(tenant, time, "ec2.amazonaws.com", action, params))

    def role_data(self, vm: Vm, time: dt.datetime) -> int:
        """The VM's application reads or writes its tenant's bucket through the VPC endpoint."""
        tenant = self.world.tenant(vm.tenant)
        bucket, key = self.rand.pick(tenant.buckets), self.rand.pick(OBJECT_KEYS)
        action = self.rand.pick_weighted(("GetObject", "PutObject", "ListObjects"), (6, 3, 1))
        return self._emit(
            s3_call(
                self.rand,
                self.session(vm).identity(),
                vm.ip,
                tenant.account,
                tenant.vpc_endpoint,
                time,
                action,
                bucket,
                key,
                tenant.account,
            )
        )

    def role_other(self, vm: Vm, time: dt.datetime) -> int:
        tenant = self.world.tenant(vm.tenant)
        choice = self.rand.randrange(3)
        params: dict[str, Any] | None
        if choice == 0:
            service, action, params = "sts.amazonaws.com", "GetCallerIdentity", None
        elif choice == 1:
            secret = secret_arn(tenant, self.rand.pick(tenant.secrets))
            service, action, params = (
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                {"secretId": secret},
            )
        else:
            service, action = "ssm.amazonaws.com", "GetParameter"
            params = {"name": f"/{tenant.id}/app/feature-flags", "withDecryption": False}
        call = ct.Call(
            time=time,
            service=service,
            action=action,
            identity=self.session(vm).identity(),
            source_ip=vm.ip,
            recipient=tenant.account,
            parameters=params,
            agent=ct.SDK_AGENT,
            vpc_endpoint=tenant.vpc_endpoint,
        )
        return self._emit(call)

    def write(self, vm: Vm, time: dt.datetime) -> int:
        tenant = self.world.tenant(vm.tenant)
        if self.rand.random() < 0.5:
            volume = f"vol-0{self.rand.hex(16)}"
            params: dict[str, Any] = {"volumeId": volume, "description": f"nightly {vm.name}"}
            response: dict[str, Any] = {
                "requestId": self.rand.uuid4(),
                "snapshotId": f"snap-0{self.rand.hex(16)}",
                "volumeId": volume,
                "status": "pending",
                "ownerId": tenant.account,
            }
            action = "CreateSnapshot"
        else:
            params = {
                "resourcesSet": {"items": [{"resourceId": vm.instance_id}]},
                "tagSet": {"items": [{"key": "owner", "value": tenant.users[0].name}]},
            }
            response = {"requestId": self.rand.uuid4(), "_return": True}
            action = "CreateTags"
        call = self._user_call(
            tenant, time, "ec2.amazonaws.com", action, params, response=response, read_only=False
        )
        return self._emit(call)

    def failure(self, vm: Vm, time: dt.datetime) -> int:
        """A CI user without the permission tries anyway (denied within its own account)."""
        tenant = self.world.tenant(vm.tenant)
        call = ct.Call(
            time=time,
            service="ec2.amazonaws.com",
            action="DescribeInstances",
            identity=ct.iam_user(tenant, tenant.users[1]),
            source_ip=tenant.office_ip,
            recipient=tenant.account,
            parameters={"filterSet": {}},
            agent=ct.AGENTS[2],
            error=(
                "Client.UnauthorizedOperation",
                "You are not authorized to perform this operation.",
            ),
        )
        return self._emit(call)

    def own_share(self, tenant: Tenant, time: dt.datetime) -> None:
        """A snapshot shared with another account of the same tenant (e.g. its DR account)."""
        snapshot = self.rand.pick(tenant.snapshots)
        params = {
            "snapshotId": snapshot,
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {"add": {"items": [{"userId": tenant.accounts[1]}]}},
        }
        call = self._user_call(
            tenant,
            time,
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            params,
            response={"requestId": self.rand.uuid4(), "_return": True},
            read_only=False,
        )
        self._emit(call)
