"""Grant extraction from hand-built CloudTrail records, one sharing call at a time."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from fenghuo.ingest.parsers.cloudtrail_grants import base_action
from fenghuo.model import Grant
from tests.ingest.parsers.test_cloudtrail import grants_of, one_event, record

OWNER = "111111111111"
FOREIGN = "999999999999"
GITHUB = "token.actions.githubusercontent.com"


def summary(grants: tuple[Grant, ...]) -> list[tuple[str, str, str | None, bool]]:
    return [(g.grantee_kind, g.grantee, g.grantee_account_id, g.revoke) for g in grants]


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: object, action: object = "s3:GetObject", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def test_base_action() -> None:
    assert base_action("AddPermission20150331v2") == "AddPermission"
    assert base_action("RemovePermission20150331") == "RemovePermission"
    assert base_action("PutBucketPolicy") == "PutBucketPolicy"


# --- EC2 ------------------------------------------------------------------------------------


def test_ec2_snapshot_add_remove_and_public() -> None:
    params = {
        "snapshotId": "snap-1",
        "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {
            "add": {"items": [{"userId": FOREIGN}, {"group": "all"}]},
            "remove": {"items": [{"userId": "222222222222"}]},
        },
    }
    grants = grants_of(record("ec2.amazonaws.com", "ModifySnapshotAttribute", params))
    assert summary(grants) == [
        ("account", FOREIGN, FOREIGN, False),
        ("everyone", "all", None, False),
        ("account", "222222222222", "222222222222", True),
    ]
    assert {g.resource.id for g in grants} == {"snap-1"}
    assert {g.resource.account_id for g in grants} == {OWNER}
    assert {g.permission for g in grants} == {"createVolumePermission"}


def test_ec2_snapshot_flat_request_form() -> None:
    params = {
        "snapshotId": "snap-2",
        "operationType": "remove",
        "userIds": {"items": [{"userId": FOREIGN}]},
        "groupNames": ["all"],
    }
    grants = grants_of(record("ec2.amazonaws.com", "ModifySnapshotAttribute", params))
    assert summary(grants) == [("account", FOREIGN, FOREIGN, True), ("everyone", "all", None, True)]


def test_ec2_image_organizations_and_revocation() -> None:
    org = "arn:aws:organizations::333333333333:organization/o-abc"
    unit = "arn:aws:organizations::333333333333:ou/o-abc/ou-def"
    params = {
        "imageId": "ami-1",
        "launchPermission": {
            "add": {"items": [{"organizationArn": org}, {"organizationalUnitArn": unit}]},
            "remove": {"items": [{"group": "all"}, {"userId": FOREIGN}]},
        },
    }
    grants = grants_of(record("ec2.amazonaws.com", "ModifyImageAttribute", params))
    assert summary(grants) == [
        ("organization", org, "333333333333", False),
        ("organization", unit, "333333333333", False),
        ("everyone", "all", None, True),
        ("account", FOREIGN, FOREIGN, True),
    ]
    assert grants[0].resource.type == "ec2:image"


def test_ec2_image_description_change_is_no_grant() -> None:
    params = {"imageId": "ami-1", "description": {"value": "x"}}
    assert grants_of(record("ec2.amazonaws.com", "ModifyImageAttribute", params)) == ()


def test_ec2_fpga_image() -> None:
    params = {"fpgaImageId": "afi-1", "loadPermission": {"add": {"items": [{"userId": FOREIGN}]}}}
    (grant,) = grants_of(record("ec2.amazonaws.com", "ModifyFpgaImageAttribute", params))
    assert (grant.resource.type, grant.grantee, grant.permission) == (
        "ec2:fpga-image",
        FOREIGN,
        "loadPermission",
    )


# --- RDS ------------------------------------------------------------------------------------


def test_rds_snapshot_public_and_revoke() -> None:
    params = {
        "dBSnapshotIdentifier": "db-snap",
        "attributeName": "restore",
        "valuesToAdd": ["all"],
        "valuesToRemove": [FOREIGN],
    }
    grants = grants_of(record("rds.amazonaws.com", "ModifyDBSnapshotAttribute", params))
    assert summary(grants) == [
        ("everyone", "all", None, False),
        ("account", FOREIGN, FOREIGN, True),
    ]
    assert grants[0].resource.type == "rds:db-snapshot"


def test_rds_cluster_snapshot_by_arn() -> None:
    arn = "arn:aws:rds:us-east-1:444444444444:cluster-snapshot:cs1"
    params = {
        "dBClusterSnapshotIdentifier": arn,
        "attributeName": "restore",
        "valuesToAdd": [FOREIGN],
    }
    (grant,) = grants_of(record("rds.amazonaws.com", "ModifyDBClusterSnapshotAttribute", params))
    assert (grant.resource.type, grant.resource.id, grant.resource.account_id) == (
        "rds:db-cluster-snapshot",
        "cs1",
        "444444444444",
    )
    assert grant.resource.arn == arn


def test_rds_other_attribute_is_no_grant() -> None:
    params = {"dBSnapshotIdentifier": "s", "attributeName": "other", "valuesToAdd": ["all"]}
    assert grants_of(record("rds.amazonaws.com", "ModifyDBSnapshotAttribute", params)) == ()


# --- S3 -------------------------------------------------------------------------------------


BUCKET_POLICY = policy(
    allow("*", Condition={"StringEquals": {"aws:SourceVpce": "vpce-1"}}),
    allow({"AWS": [f"arn:aws:iam::{FOREIGN}:root", "222222222222"]}, ["s3:GetObject", "s3:List*"]),
    allow({"AWS": "arn:aws:iam::333333333333:role/reader"}),
    allow({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject"),
    allow({"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}),
    {"Effect": "Deny", "Principal": "*", "Action": "s3:*"},
    {"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{OWNER}:root"}, "Action": "s3:*"},
)


@pytest.mark.parametrize("as_text", [False, True])
def test_s3_bucket_policy(as_text: bool) -> None:
    document: object = json.dumps(BUCKET_POLICY) if as_text else BUCKET_POLICY
    params = {"bucketName": "data", "bucketPolicy": document, "policy": [""]}
    grants = grants_of(record("s3.amazonaws.com", "PutBucketPolicy", params))
    assert summary(grants) == [
        ("everyone", "*", None, False),
        ("account", FOREIGN, FOREIGN, False),
        ("account", "222222222222", "222222222222", False),
        ("principal", "arn:aws:iam::333333333333:role/reader", "333333333333", False),
        ("service", "cloudtrail.amazonaws.com", None, False),
        (
            "principal",
            "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
            None,
            False,
        ),
        ("everyone", "*", None, False),
    ]
    assert (grants[0].permission, grants[0].conditional) == ("s3:GetObject", True)
    assert grants[1].permission == "s3:GetObject,s3:List*"
    assert grants[-1].permission == "s3:* (NotPrincipal)"
    assert [g.conditional for g in grants[1:]] == [False] * (len(grants) - 1)
    assert {(g.resource.type, g.resource.id) for g in grants} == {("s3:bucket", "data")}


def test_s3_bucket_acl_body_and_headers() -> None:
    owner_id = "aaaa"
    params = {
        "bucketName": "data",
        "AccessControlPolicy": {
            "Owner": {"ID": owner_id},
            "AccessControlList": {
                "Grant": [
                    {
                        "Grantee": {"ID": owner_id, "xsi:type": "CanonicalUser"},
                        "Permission": "FULL_CONTROL",
                    },
                    {
                        "Grantee": {"URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                        "Permission": "READ",
                    },
                    {
                        "Grantee": {
                            "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
                        },
                        "Permission": "WRITE",
                    },
                    {"Grantee": {"ID": "bbbb"}, "Permission": "READ_ACP"},
                    {"Grantee": {"EmailAddress": "x@example.com"}, "Permission": "READ"},
                    {
                        "Grantee": {"URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
                        "Permission": "WRITE",
                    },
                ]
            },
        },
        "x-amz-grant-read": 'uri="http://acs.amazonaws.com/groups/global/AllUsers", id="cccc"',
    }
    grants = grants_of(record("s3.amazonaws.com", "PutBucketAcl", params))
    assert [(g.grantee_kind, g.grantee, g.permission) for g in grants] == [
        ("everyone", "*", "READ"),
        ("everyone", "*", "WRITE (AuthenticatedUsers)"),
        ("principal", "bbbb", "READ_ACP"),
        ("principal", "x@example.com", "READ"),
        ("group", "http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE"),
        ("principal", "cccc", "READ"),
    ]


def test_s3_canned_acl_on_object() -> None:
    params = {"bucketName": "data", "key": "a/b.txt", "x-amz-acl": ["public-read"]}
    (grant,) = grants_of(record("s3.amazonaws.com", "PutObjectAcl", params))
    assert (grant.grantee_kind, grant.permission) == ("everyone", "READ")
    assert (grant.resource.type, grant.resource.id) == ("s3:object", "data/a/b.txt")


def test_s3_private_acl_is_no_grant() -> None:
    params = {"bucketName": "data", "x-amz-acl": ["private"]}
    assert grants_of(record("s3.amazonaws.com", "PutBucketAcl", params)) == ()


# --- IAM ------------------------------------------------------------------------------------


def test_iam_create_role_trust_policy() -> None:
    trust = policy(
        allow({"AWS": "arn:aws:iam::999999999999:role/ci"}, "sts:AssumeRole"),
        allow({"AWS": "*"}, "sts:AssumeRole"),
        allow({"AWS": "222222222222"}, ["sts:AssumeRole", "sts:TagSession"]),
        allow({"Service": ["lambda.amazonaws.com", "ec2.amazonaws.com"]}, "sts:AssumeRole"),
        allow(
            {"Federated": f"arn:aws:iam::{OWNER}:oidc-provider/{GITHUB}"},
            "sts:AssumeRoleWithWebIdentity",
        ),
        {
            "Effect": "Deny",
            "Principal": {"AWS": "arn:aws:iam::888888888888:root"},
            "Action": "sts:AssumeRole",
        },
    )
    params = {"roleName": "ci-role", "assumeRolePolicyDocument": json.dumps(trust)}
    grants = grants_of(record("iam.amazonaws.com", "CreateRole", params))
    assert summary(grants) == [
        ("principal", "arn:aws:iam::999999999999:role/ci", FOREIGN, False),
        ("everyone", "*", None, False),
        ("account", "222222222222", "222222222222", False),
        ("service", "lambda.amazonaws.com", None, False),
        ("service", "ec2.amazonaws.com", None, False),
        (
            "principal",
            f"arn:aws:iam::{OWNER}:oidc-provider/{GITHUB}",
            OWNER,
            False,
        ),
    ]
    assert grants[2].permission == "sts:AssumeRole,sts:TagSession"
    assert {(g.resource.type, g.resource.id) for g in grants} == {("iam:role", "ci-role")}


def test_iam_trust_policy_url_encoded_and_single_statement() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": FOREIGN}}
    encoded = quote(json.dumps({"Statement": statement}))
    assert encoded.startswith("%7B")
    params = {"roleName": "r", "policyDocument": encoded}
    (grant,) = grants_of(record("iam.amazonaws.com", "UpdateAssumeRolePolicy", params))
    assert (grant.grantee_kind, grant.grantee, grant.permission) == (
        "account",
        FOREIGN,
        "sts:AssumeRole",
    )


def test_malformed_policy_is_salvaged_not_fatal() -> None:
    good = json.dumps(policy(allow({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, "sts:AssumeRole")))
    truncated = good[:-2] + ', {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::2222'
    params = {"roleName": "r", "policyDocument": truncated}
    event = one_event(record("iam.amazonaws.com", "UpdateAssumeRolePolicy", params))
    assert summary(event.grants) == [("account", FOREIGN, FOREIGN, False)]
    garbage = {"roleName": "r", "policyDocument": "{not json"}
    assert grants_of(record("iam.amazonaws.com", "UpdateAssumeRolePolicy", garbage)) == ()
    odd = {"roleName": "r", "policyDocument": {"Statement": [1, "x", {"Effect": "Allow"}]}}
    assert grants_of(record("iam.amazonaws.com", "UpdateAssumeRolePolicy", odd)) == ()


# --- Lambda ---------------------------------------------------------------------------------


def lambda_permission(name: str = "AddPermission20150331v2", **params: Any) -> tuple[Grant, ...]:
    return grants_of(record("lambda.amazonaws.com", name, {"functionName": "fn", **params}))


def test_lambda_add_permission_forms() -> None:
    assert summary(lambda_permission(principal=FOREIGN, action="lambda:InvokeFunction")) == [
        ("account", FOREIGN, FOREIGN, False)
    ]
    (service,) = lambda_permission(principal="s3.amazonaws.com", sourceAccount="222222222222")
    assert (service.grantee_kind, service.grantee, service.grantee_account_id) == (
        "service",
        "s3.amazonaws.com",
        "222222222222",
    )
    assert (service.permission, service.conditional) == ("lambda:InvokeFunction", True)
    (narrowed,) = lambda_permission(principal="*", sourceAccount="222222222222")
    assert (narrowed.grantee_kind, narrowed.grantee_account_id) == ("account", "222222222222")
    assert not narrowed.conditional  # the grantee is the narrowed account itself
    (org,) = lambda_permission(principal="*", principalOrgID="o-abc")
    assert (org.grantee_kind, org.grantee, org.conditional) == ("organization", "o-abc", False)
    (public,) = lambda_permission(principal="*", functionUrlAuthType="NONE")
    assert public.grantee_kind == "everyone"
    assert public.permission == "lambda:InvokeFunction (functionUrlAuthType NONE)"
    assert not public.conditional
    (role,) = lambda_permission(principal=f"arn:aws:iam::{FOREIGN}:role/x")
    assert (role.grantee_kind, role.grantee_account_id) == ("principal", FOREIGN)
    assert not role.conditional


def test_lambda_permission_narrowed_by_source_arn_is_conditional() -> None:
    bucket = "arn:aws:s3:::uploads"
    (service,) = lambda_permission(principal="s3.amazonaws.com", sourceArn=bucket)
    assert (service.grantee_kind, service.grantee_account_id) == ("service", None)
    assert (service.permission, service.conditional) == ("lambda:InvokeFunction", True)
    (anyone,) = lambda_permission(principal="*", sourceArn=bucket)
    assert (anyone.grantee_kind, anyone.conditional) == ("everyone", True)
    (plain,) = lambda_permission(principal="s3.amazonaws.com")
    assert (plain.grantee_kind, plain.conditional) == ("service", False)
    (account,) = lambda_permission(principal=FOREIGN, sourceArn=bucket)
    assert (account.grantee_kind, account.conditional) == ("account", False)


def test_lambda_remove_permission() -> None:
    assert lambda_permission("RemovePermission20150331v2", statementId="backdoor") == ()
    (grant,) = lambda_permission("RemovePermission20150331v2", principal="*")
    assert (grant.grantee_kind, grant.revoke) == ("everyone", True)


def test_lambda_layer_and_function_url() -> None:
    params = {
        "layerName": "lib",
        "versionNumber": 3,
        "principal": "*",
        "action": "lambda:GetLayerVersion",
    }
    (layer,) = grants_of(
        record("lambda.amazonaws.com", "AddLayerVersionPermission20181031", params)
    )
    assert (layer.resource.type, layer.resource.id, layer.grantee_kind) == (
        "lambda:layer-version",
        "lib:3",
        "everyone",
    )
    url = {"functionName": "fn", "authType": "NONE"}
    (grant,) = grants_of(record("lambda.amazonaws.com", "CreateFunctionUrlConfig20211031", url))
    assert grant.grantee_kind == "everyone"
    iam = {"functionName": "fn", "authType": "AWS_IAM"}
    assert grants_of(record("lambda.amazonaws.com", "CreateFunctionUrlConfig20211031", iam)) == ()
