"""Behaviour features of one principal in one time bucket, the same for training and detection.

A bucket is (tenant of the credentials, principal, fixed time slot aligned to the epoch). Its
counters only ever add up (counts, sets, min/max times, the smallest evidence ids), so the
features of a bucket do not depend on the order its events arrived in.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from fenghuo.detectors.cloud import (
    credential_tenant,
    is_service_call,
    principal_key,
    tenants_involved,
)
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import ApiCall

FEATURES: tuple[str, ...] = (
    "calls",
    "distinct_actions",
    "distinct_resources",
    "read_only_share",
    "failures",
    "cross_tenant_calls",  # calls involving another tenant's account, resource, address or grant
    "data_access_calls",  # calls that read data out (objects, snapshots, secrets, tables)
    "cross_tenant_data_access",  # data-access calls on another tenant's resources
)
SHARE_FEATURES = frozenset({"read_only_share"})
CROSS_TENANT_FEATURES = ("cross_tenant_calls", "cross_tenant_data_access")
UNKNOWN_TENANT = "-"  # the tenant key of principals no tenant owns (outsiders)
DEFAULT_BUCKET = dt.timedelta(minutes=5)

# Calls that copy or read data out of a resource.
DATA_ACCESS_ACTIONS = frozenset(
    {
        # S3 objects
        "GetObject", "GetObjectVersion", "GetObjectTorrent", "SelectObjectContent",
        "CopyObject", "UploadPartCopy", "RestoreObject",
        # EBS snapshots and images (CreateVolume counts only from a snapshot, below)
        "CopySnapshot", "GetSnapshotBlock", "ListSnapshotBlocks", "ListChangedBlocks",
        "CopyImage", "ExportImage", "CreateStoreImageTask", "CreateInstanceExportTask",
        # RDS
        "CopyDBSnapshot", "CopyDBClusterSnapshot", "RestoreDBInstanceFromDBSnapshot",
        "RestoreDBClusterFromSnapshot", "StartExportTask", "DownloadDBLogFilePortion",
        # secrets, keys, parameters
        "GetSecretValue", "BatchGetSecretValue", "Decrypt", "GetParameter", "GetParameters",
        "GetParametersByPath",
        # tables, logs, registries, functions
        "GetItem", "BatchGetItem", "Query", "Scan", "ExportTableToPointInTime",
        "GetLogEvents", "FilterLogEvents", "GetQueryResults",
        "GetDownloadUrlForLayer", "BatchGetImage", "GetFunction",
    }
)  # fmt: skip
# Calls that read data only when they name a source of this resource type.
_DATA_ACCESS_FROM = {"CreateVolume": "ec2:snapshot"}

MAX_DISTINCT = 10_000  # distinct resources counted per bucket
MAX_EVIDENCE = 200
MAX_LISTED = 20  # resources and addresses kept for the alert


def bucket_start(at: dt.datetime, width: dt.timedelta) -> dt.datetime:
    seconds = int(width.total_seconds())
    stamp = int(at.timestamp())
    return dt.datetime.fromtimestamp(stamp - stamp % seconds, dt.UTC)


def is_data_access(call: ApiCall) -> bool:
    if call.action in DATA_ACCESS_ACTIONS:
        return True
    source_type = _DATA_ACCESS_FROM.get(call.action)
    return source_type is not None and any(r.type == source_type for r in call.resources)


@dataclass(frozen=True)
class Principal:
    """Whose behaviour a bucket describes."""

    tenant: str  # tenant of the credentials, UNKNOWN_TENANT for outsiders
    principal: str  # user or role ARN

    @property
    def key(self) -> str:
        return f"{self.tenant}|{self.principal}"


def principal_of(call: ApiCall, index: InventoryIndex | None) -> Principal | None:
    """The principal a call counts for; None for calls services make on someone's behalf.

    Without an inventory the call's own tenant stands in for the credentials' tenant (exact for
    calls landing in the caller's account, which is nearly all of them)."""
    if is_service_call(call):
        return None
    principal = principal_key(call.actor)
    if principal is None:
        return None
    tenant = credential_tenant(index, call) if index is not None else call.tenant_id
    return Principal(tenant or UNKNOWN_TENANT, principal)


def _keep_smallest(values: set[str], value: str, limit: int) -> None:
    """Add `value`, keeping only the `limit` smallest: the same set whatever the order."""
    values.add(value)
    if len(values) > limit:
        values.discard(max(values))


@dataclass
class Bucket:
    """Counters of one principal's calls in one time slot (kept in detector state: pickles)."""

    start: dt.datetime
    end: dt.datetime
    tenant: str  # the credentials' tenant (UNKNOWN_TENANT for outsiders)
    principal: str
    account_id: str | None = None  # the principal's account
    calls: int = 0
    read_only: int = 0
    failures: int = 0
    cross_tenant: int = 0
    data_access: int = 0
    cross_tenant_data: int = 0
    actions: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)
    other_tenants: Counter[str] = field(default_factory=Counter)
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    evidence: set[str] = field(default_factory=set)  # cross-tenant calls (the smallest ids)
    cross_resources: set[str] = field(default_factory=set)
    source_ips: set[str] = field(default_factory=set)

    def add(self, call: ApiCall) -> None:
        self.calls += 1
        self.account_id = self.account_id or call.actor.account_id
        self.read_only += call.read_only is True
        self.failures += call.outcome == "failure"
        self.actions.add(call.action)
        for resource in call.resources:
            if len(self.resources) < MAX_DISTINCT:
                self.resources.add(f"{resource.type}:{resource.account_id}:{resource.id}")
        data = is_data_access(call)
        self.data_access += data
        self.first_seen = min(self.first_seen or call.event_time, call.event_time)
        self.last_seen = max(self.last_seen or call.event_time, call.event_time)
        others = tenants_involved(call) - {self.tenant}
        if not others:
            return
        self.cross_tenant += 1
        self.cross_tenant_data += data
        self.other_tenants.update(others)
        _keep_smallest(self.evidence, call.id, MAX_EVIDENCE)
        for resource in call.resources:
            _keep_smallest(self.cross_resources, resource.arn or resource.id, MAX_LISTED)
        if call.source_ip:
            _keep_smallest(self.source_ips, call.source_ip, MAX_LISTED)

    def vector(self) -> tuple[float, ...]:
        """The features, in FEATURES order."""
        return (
            float(self.calls),
            float(len(self.actions)),
            float(len(self.resources)),
            self.read_only / self.calls if self.calls else 0.0,
            float(self.failures),
            float(self.cross_tenant),
            float(self.data_access),
            float(self.cross_tenant_data),
        )

    def features(self) -> dict[str, float]:
        return dict(zip(FEATURES, self.vector(), strict=True))


def bucketize(
    calls: list[ApiCall], index: InventoryIndex | None, width: dt.timedelta = DEFAULT_BUCKET
) -> dict[tuple[Principal, dt.datetime], Bucket]:
    """Every (principal, slot) bucket of a history."""
    buckets: dict[tuple[Principal, dt.datetime], Bucket] = {}
    for call in calls:
        who = principal_of(call, index)
        if who is None:
            continue
        start = bucket_start(call.event_time, width)
        bucket = buckets.get((who, start))
        if bucket is None:
            bucket = buckets[(who, start)] = Bucket(start, start + width, who.tenant, who.principal)
        bucket.add(call)
    return buckets
