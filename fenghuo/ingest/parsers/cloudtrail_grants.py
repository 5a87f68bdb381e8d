"""Grants: the calls that share a resource with another account, a service or everyone.

These are what cross-tenant data-sharing detection reads: an EBS snapshot, AMI or RDS snapshot
shared with a foreign account, a role trust policy naming a foreign principal, a Lambda function,
bucket, queue, topic, key, repository or secret opened up by a resource policy, a RAM share.

Grants are extracted whether or not the call succeeded: the event's `outcome` says which, and a
failed attempt to share data is itself worth a detector's attention (an attacker probing). A call
that removes access is a grant with `revoke=True` when the request names who loses it; calls that
remove a statement by id only (Lambda and SQS `RemovePermission`, KMS `RevokeGrant`) are skipped,
as the principal is unknown. One extractor per call, registered in `_EXTRACTORS` by event source
and event name (with Lambda's API version suffix, `AddPermission20150331v2`, stripped).
"""

from __future__ import annotations

import re

import msgspec

from fenghuo.ingest.parsers.cloudtrail_fields import (
    JsonObject,
    get_obj,
    get_str,
    is_account,
    items,
    strings,
)
from fenghuo.ingest.parsers.cloudtrail_grants_services import SERVICE_EXTRACTORS, Extractor
from fenghuo.ingest.parsers.cloudtrail_policy import (
    EVERYONE,
    account_grants,
    policy_grants,
    principal_grant,
    s3_acl_grants,
)
from fenghuo.ingest.parsers.cloudtrail_resources import Call, Owner, resource_for
from fenghuo.model import Grant, Resource

_API_VERSION_SUFFIX = re.compile(r"[0-9]{8}(?:v[0-9]+)?$")


def base_action(event_name: str) -> str:
    """`AddPermission20150331v2` -> `AddPermission` (Lambda puts its API version in the name)."""
    return _API_VERSION_SUFFIX.sub("", event_name)


def extract_grants(
    service: str, action: str, params: JsonObject | None, response: JsonObject | None, owner: Owner
) -> list[Grant]:
    """The grants one call makes, deduplicated, in the order the request lists them."""
    extractor = _EXTRACTORS.get((service, base_action(action)))
    if extractor is None or params is None:
        return []
    grants = extractor(Call(params, response, owner))
    return list(dict.fromkeys(grants))


# --- EC2 and RDS: snapshot and image attributes ----------------------------------------------


def _ec2_attribute(call: Call, resource: Resource, attribute: str) -> list[Grant]:
    """`{attribute: {"add": {"items": [...]}, "remove": ...}}` items: userId, group, org ARNs."""
    grants: list[Grant] = []
    container = get_obj(call.params, attribute)
    for operation, revoke in (("add", False), ("remove", True)):
        for item in items(container, operation):
            grants.extend(_ec2_item(resource, item, attribute, revoke))
    # The flat form of the same request: operationType with userIds / groupNames.
    operation = (get_str(call.params, "operationType") or "").lower()
    if operation in ("add", "remove"):
        revoke = operation == "remove"
        for key, field in (("userIds", "userId"), ("groupNames", "group")):
            for item in items(call.params, key):
                grants.extend(_ec2_item(resource, item, attribute, revoke))
            for text in strings(call.params.get(key)):
                grants.extend(_ec2_item(resource, {field: text}, attribute, revoke))
    return grants


def _ec2_item(resource: Resource, item: JsonObject, permission: str, revoke: bool) -> list[Grant]:
    grants: list[Grant] = []
    for key in ("userId", "group", "groupName", "organizationArn", "organizationalUnitArn"):
        value = get_str(item, key)
        if value is not None:
            grants.append(principal_grant(resource, value, permission, revoke=revoke))
    return grants


def _ec2_snapshot(call: Call) -> list[Grant]:
    resource = call.resource("ec2:snapshot", "snapshotId")
    return _ec2_attribute(call, resource, "createVolumePermission") if resource else []


def _ec2_image(call: Call) -> list[Grant]:
    resource = call.resource("ec2:image", "imageId")
    return _ec2_attribute(call, resource, "launchPermission") if resource else []


def _ec2_fpga_image(call: Call) -> list[Grant]:
    resource = call.resource("ec2:fpga-image", "fpgaImageId")
    return _ec2_attribute(call, resource, "loadPermission") if resource else []


def _rds_attribute(call: Call, rtype: str, key: str) -> list[Grant]:
    """`attributeName: restore` with `valuesToAdd` / `valuesToRemove` (account ids or `all`)."""
    resource = call.resource(rtype, key)
    if resource is None or (get_str(call.params, "attributeName") or "").lower() != "restore":
        return []
    grants = account_grants(resource, strings(call.params.get("valuesToAdd")), "restore")
    removed = strings(call.params.get("valuesToRemove"))
    return grants + account_grants(resource, removed, "restore", revoke=True)


def _rds_snapshot(call: Call) -> list[Grant]:
    return _rds_attribute(call, "rds:db-snapshot", "dBSnapshotIdentifier")


def _rds_cluster_snapshot(call: Call) -> list[Grant]:
    return _rds_attribute(call, "rds:db-cluster-snapshot", "dBClusterSnapshotIdentifier")


# --- S3 -----------------------------------------------------------------------------------------


def _s3_bucket_policy(call: Call) -> list[Grant]:
    resource = call.resource("s3:bucket", "bucketName")
    if resource is None:
        return []
    policy = call.params.get("bucketPolicy") or call.params.get("policy")
    return policy_grants(resource, policy)


def _s3_bucket_acl(call: Call) -> list[Grant]:
    resource = call.resource("s3:bucket", "bucketName")
    return s3_acl_grants(resource, call.params) if resource else []


def _s3_object_acl(call: Call) -> list[Grant]:
    bucket, key = get_str(call.params, "bucketName"), get_str(call.params, "key")
    if bucket is None or key is None:
        return []
    resource = resource_for("s3:object", f"{bucket}/{key}", call.owner)
    return s3_acl_grants(resource, call.params)


# --- IAM trust policies -------------------------------------------------------------------------


def _iam_trust(key: str) -> Extractor:
    def extract(call: Call) -> list[Grant]:
        resource = call.resource("iam:role", "roleName")
        if resource is None:
            return []
        return policy_grants(resource, call.params.get(key), "sts:AssumeRole")

    return extract


# --- Lambda -------------------------------------------------------------------------------------


def _lambda_permission(call: Call) -> list[Grant]:
    """`AddPermission`: one principal. `sourceAccount` or `principalOrgID` narrow a `*` to that
    account or organization; where the grantee stays broad (everyone, a service), either of them
    or `sourceArn` makes the grant `conditional`."""
    resource = call.resource("lambda:function", "functionName")
    principal = get_str(call.params, "principal")
    if resource is None or principal is None:
        return []
    permission = get_str(call.params, "action") or "lambda:InvokeFunction"
    auth_type = get_str(call.params, "functionUrlAuthType")
    if auth_type is not None:
        permission = f"{permission} (functionUrlAuthType {auth_type})"
    source_account = get_str(call.params, "sourceAccount")
    org_id = get_str(call.params, "principalOrgID")
    source_arn = get_str(call.params, "sourceArn")
    narrowed = source_account is not None or org_id is not None or source_arn is not None
    if principal == EVERYONE and is_account(source_account):
        return [principal_grant(resource, source_account or "", permission)]
    if principal == EVERYONE and org_id is not None:
        grant = Grant(
            resource=resource, grantee_kind="organization", grantee=org_id, permission=permission
        )
        return [grant]
    grant = principal_grant(resource, principal, permission)
    if grant.grantee_kind == "service" and is_account(source_account):
        grant = msgspec.structs.replace(grant, grantee_account_id=source_account)
    if narrowed and grant.grantee_kind in ("everyone", "service"):
        grant = msgspec.structs.replace(grant, conditional=True)
    return [grant]


def _lambda_remove_permission(call: Call) -> list[Grant]:
    """Only when the request names the principal (it usually gives just a statement id)."""
    return [msgspec.structs.replace(g, revoke=True) for g in _lambda_permission(call)]


def _lambda_layer_permission(call: Call) -> list[Grant]:
    layer = get_str(call.params, "layerName")
    principal = get_str(call.params, "principal")
    if layer is None or principal is None:
        return []
    version = call.params.get("versionNumber")
    layer_id = f"{layer}:{version}" if isinstance(version, int | str) else layer
    resource = resource_for("lambda:layer-version", layer_id, call.owner)
    org_id = get_str(call.params, "organizationId")
    permission = get_str(call.params, "action") or "lambda:GetLayerVersion"
    if principal == EVERYONE and org_id is not None:
        grant = Grant(
            resource=resource, grantee_kind="organization", grantee=org_id, permission=permission
        )
        return [grant]
    return [principal_grant(resource, principal, permission)]


def _lambda_function_url(call: Call) -> list[Grant]:
    """A function URL with `authType: NONE` is invocable by anyone on the internet."""
    resource = call.resource("lambda:function", "functionName")
    if resource is None or get_str(call.params, "authType") != "NONE":
        return []
    return [principal_grant(resource, EVERYONE, "lambda:InvokeFunctionUrl (authType NONE)")]


_EXTRACTORS: dict[tuple[str, str], Extractor] = {
    **SERVICE_EXTRACTORS,
    ("ec2.amazonaws.com", "ModifySnapshotAttribute"): _ec2_snapshot,
    ("ec2.amazonaws.com", "ModifyImageAttribute"): _ec2_image,
    ("ec2.amazonaws.com", "ModifyFpgaImageAttribute"): _ec2_fpga_image,
    ("rds.amazonaws.com", "ModifyDBSnapshotAttribute"): _rds_snapshot,
    ("rds.amazonaws.com", "ModifyDBClusterSnapshotAttribute"): _rds_cluster_snapshot,
    ("s3.amazonaws.com", "PutBucketPolicy"): _s3_bucket_policy,
    ("s3.amazonaws.com", "PutBucketAcl"): _s3_bucket_acl,
    ("s3.amazonaws.com", "CreateBucket"): _s3_bucket_acl,
    ("s3.amazonaws.com", "PutObjectAcl"): _s3_object_acl,
    ("s3.amazonaws.com", "PutObject"): _s3_object_acl,
    ("s3.amazonaws.com", "CopyObject"): _s3_object_acl,
    ("iam.amazonaws.com", "CreateRole"): _iam_trust("assumeRolePolicyDocument"),
    ("iam.amazonaws.com", "UpdateAssumeRolePolicy"): _iam_trust("policyDocument"),
    ("lambda.amazonaws.com", "AddPermission"): _lambda_permission,
    ("lambda.amazonaws.com", "RemovePermission"): _lambda_remove_permission,
    ("lambda.amazonaws.com", "AddLayerVersionPermission"): _lambda_layer_permission,
    ("lambda.amazonaws.com", "CreateFunctionUrlConfig"): _lambda_function_url,
    ("lambda.amazonaws.com", "UpdateFunctionUrlConfig"): _lambda_function_url,
}
