"""Who made a CloudTrail call (`Actor`) and which resources it names (`Resource`).

The actor matters for attribution of stolen credentials: an assumed-role session whose name is an
EC2 instance id is the instance's role credentials, so `instance_id` links an API call back to a VM
(and a call from outside that VM's addresses is a credential theft). Resources come from the
record's own `resources` list and from the request parameters that name a resource; the owner
account is the account the call landed in unless an ARN or registry id says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import msgspec

from fenghuo.ingest.parsers.cloudtrail_fields import (
    JsonObject,
    account_or_none,
    arn_type,
    cfn_type,
    get_list,
    get_obj,
    get_str,
    is_account,
    items,
    obj,
    parse_arn,
    strings,
)
from fenghuo.model import Actor, Resource

_ASSUMED_ROLE = re.compile(r"arn:[\w-]+:sts::([0-9]{12}):assumed-role/([^/]+)/(.+)")
# EC2 ids are hex (i- + 8 or 17), other clouds use alphanumerics (Alibaba ECS `i-bp1...`).
_INSTANCE_ID = re.compile(r"i-[0-9a-zA-Z]{8,32}")
_LAMBDA_PARTIAL = re.compile(r"(?:([0-9]{12}):)?function:([^:]+)(?::.*)?")


@dataclass(frozen=True, slots=True)
class Owner:
    """Where a call landed: the default owner of the resources it names."""

    account_id: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class Call:
    """What an extractor sees of one record."""

    params: JsonObject
    response: JsonObject | None
    owner: Owner

    def resource(self, rtype: str, *keys: str) -> Resource | None:
        """The resource named by the first of `keys` present in the request parameters."""
        for key in keys:
            value = get_str(self.params, key)
            if value is not None:
                return resource_for(rtype, value, self.owner)
        return None


def actor_from(identity: JsonObject | None) -> Actor:
    """`userIdentity` as an `Actor`; role and session come from the ARN or the session issuer."""
    if identity is None:
        return Actor()
    arn = get_str(identity, "arn")
    role_name = session_name = None
    match = _ASSUMED_ROLE.fullmatch(arn) if arn else None
    if match is not None:
        role_name, session_name = match.group(2), match.group(3)
    session = get_obj(identity, "sessionContext")
    issuer = get_obj(session, "sessionIssuer")
    if role_name is None and get_str(issuer, "type") == "Role":
        issuer_arn = parse_arn(get_str(issuer, "arn"))
        role_name = get_str(issuer, "userName") or (issuer_arn.resource_id if issuer_arn else None)
    principal_id = get_str(identity, "principalId")
    if session_name is None and get_str(identity, "type") == "AssumedRole" and principal_id:
        session_name = principal_id.partition(":")[2] or None
    instance_id = None
    if session_name is not None and _INSTANCE_ID.fullmatch(session_name):
        instance_id = session_name
    return Actor(
        type=get_str(identity, "type"),
        arn=arn,
        account_id=get_str(identity, "accountId"),
        principal_id=principal_id,
        user_name=get_str(identity, "userName"),
        access_key_id=get_str(identity, "accessKeyId"),
        role_name=role_name,
        session_name=session_name,
        instance_id=instance_id,
        invoked_by=get_str(identity, "invokedBy"),
    )


def resource_from_arn(text: str, owner: Owner, rtype: str | None = None) -> Resource | None:
    arn = parse_arn(text)
    if arn is None:
        return None
    return Resource(
        type=rtype or arn_type(arn),
        id=arn.resource_id or text,
        arn=text,
        account_id=arn.account_id or owner.account_id,
    )


def resource_for(rtype: str, value: str, owner: Owner, account_id: str | None = None) -> Resource:
    """A resource named by a request parameter: a plain id, an ARN, or a service-specific form."""
    if value.startswith("arn:"):
        from_arn = resource_from_arn(value, owner, rtype)
        if from_arn is not None:
            return from_arn
    if rtype == "sqs:queue" and "://" in value:
        path = [part for part in urlsplit(value).path.split("/") if part]
        if path:
            queue_account = path[-2] if len(path) >= 2 and is_account(path[-2]) else None
            return Resource(type=rtype, id=path[-1], account_id=queue_account or owner.account_id)
    if rtype == "lambda:function":
        match = _LAMBDA_PARTIAL.fullmatch(value)
        if match is not None:
            return Resource(
                type=rtype, id=match.group(2), account_id=match.group(1) or owner.account_id
            )
    return Resource(type=rtype, id=value, account_id=account_id or owner.account_id)


# Request parameters that name a resource, whatever the service.
PARAMETER_TYPES: dict[str, str] = {
    "snapshotId": "ec2:snapshot",
    "sourceSnapshotId": "ec2:snapshot",
    "imageId": "ec2:image",
    "sourceImageId": "ec2:image",
    "fpgaImageId": "ec2:fpga-image",
    "volumeId": "ec2:volume",
    "instanceId": "ec2:instance",
    "dBSnapshotIdentifier": "rds:db-snapshot",
    "sourceDBSnapshotIdentifier": "rds:db-snapshot",
    "targetDBSnapshotIdentifier": "rds:db-snapshot",
    "dBClusterSnapshotIdentifier": "rds:db-cluster-snapshot",
    "sourceDBClusterSnapshotIdentifier": "rds:db-cluster-snapshot",
    "targetDBClusterSnapshotIdentifier": "rds:db-cluster-snapshot",
    "dBInstanceIdentifier": "rds:db",
    "dBClusterIdentifier": "rds:cluster",
    "bucketName": "s3:bucket",
    "roleName": "iam:role",
    "roleArn": "iam:role",
    "policyArn": "iam:policy",
    "functionName": "lambda:function",
    "layerName": "lambda:layer",
    "keyId": "kms:key",
    "queueUrl": "sqs:queue",
    "topicArn": "sns:topic",
    "repositoryName": "ecr:repository",
    "secretId": "secretsmanager:secret",
    "fileSystemId": "elasticfilesystem:file-system",
    "vaultName": "glacier:vault",
    "resourceShareArn": "ram:resource-share",
    "tableName": "dynamodb:table",
    "logGroupName": "logs:log-group",
    "restApiId": "apigateway:restapi",
    "stackName": "cloudformation:stack",
}
# Parameters whose meaning depends on the service.
SERVICE_PARAMETER_TYPES: dict[tuple[str, str], str] = {
    ("cloudtrail.amazonaws.com", "name"): "cloudtrail:trail",
    ("cloudtrail.amazonaws.com", "trailName"): "cloudtrail:trail",
    ("iam.amazonaws.com", "userName"): "iam:user",
    ("iam.amazonaws.com", "groupName"): "iam:group",
    ("guardduty.amazonaws.com", "detectorId"): "guardduty:detector",
}
# Parameters that give the owner account of the resource they accompany.
_OWNER_PARAMETERS = ("registryId", "accountId")


def parameter_resources(service: str, params: JsonObject | None, owner: Owner) -> list[Resource]:
    """Resources named by the top-level request parameters (plus EC2 `instancesSet` items)."""
    if params is None:
        return []
    explicit_owner = None
    for key in _OWNER_PARAMETERS:
        explicit_owner = explicit_owner or account_or_none(get_str(params, key))
    found: list[Resource] = []
    for key, value in params.items():
        rtype = SERVICE_PARAMETER_TYPES.get((service, key)) or PARAMETER_TYPES.get(key)
        if rtype is None:
            continue
        found.extend(resource_for(rtype, text, owner, explicit_owner) for text in strings(value))
    for key in ("instanceIds", "resourceArns"):
        for text in strings(params.get(key)):
            if key == "instanceIds":
                found.append(resource_for("ec2:instance", text, owner))
            else:
                found.extend(r for r in [resource_from_arn(text, owner)] if r is not None)
    resource_arn = get_str(params, "resourceArn")
    if resource_arn is not None:
        found.extend(r for r in [resource_from_arn(resource_arn, owner)] if r is not None)
    for item in items(params, "instancesSet"):
        instance = get_str(item, "instanceId")
        if instance is not None:
            found.append(resource_for("ec2:instance", instance, owner))
    return found


def listed_resources(record: JsonObject, owner: Owner) -> list[Resource]:
    """The record's own `resources` list (`ARN`, `accountId`, `type`)."""
    found: list[Resource] = []
    for entry in get_list(record, "resources"):
        entry_obj = obj(entry)
        arn_text = get_str(entry_obj, "ARN") or get_str(entry_obj, "arn")
        if arn_text is None:
            continue
        listed_type = get_str(entry_obj, "type")
        resource = resource_from_arn(
            arn_text, owner, cfn_type(listed_type) if listed_type else None
        )
        if resource is None:
            resource = Resource(type=cfn_type(listed_type or "unknown"), id=arn_text)
        account = account_or_none(get_str(entry_obj, "accountId"))
        if account is not None:
            resource = msgspec.structs.replace(resource, account_id=account)
        found.append(resource)
    return found


def merge_resources(resources: Iterable[Resource]) -> dict[tuple[str, str], Resource]:
    """One resource per (type, id), in first-seen order, keeping any ARN or owner learned later."""
    merged: dict[tuple[str, str], Resource] = {}
    for resource in resources:
        key = (resource.type, resource.id)
        known = merged.get(key)
        if known is None:
            merged[key] = resource
            continue
        merged[key] = msgspec.structs.replace(
            known,
            arn=known.arn or resource.arn,
            account_id=known.account_id or resource.account_id,
        )
    return merged
