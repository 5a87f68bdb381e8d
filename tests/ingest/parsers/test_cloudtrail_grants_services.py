"""Grant extraction: resource policies of SQS, SNS, KMS, ECR, Secrets Manager, EFS, Glacier,
Backup, EventBridge; RAM shares; failed calls and deduplication."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.ingest.parsers.test_cloudtrail import grants_of, one_event, record
from tests.ingest.parsers.test_cloudtrail_grants import FOREIGN, OWNER, allow, policy, summary

# --- other resource policies ----------------------------------------------------------------


QUEUE = "https://sqs.us-east-1.amazonaws.com/111111111111/jobs"
FOREIGN_POLICY = json.dumps(policy(allow({"AWS": f"arn:aws:iam::{FOREIGN}:root"}, "*")))


@pytest.mark.parametrize(
    ("source", "name", "params", "resource"),
    [
        (
            "sqs.amazonaws.com",
            "SetQueueAttributes",
            {"queueUrl": QUEUE, "attributes": {"Policy": FOREIGN_POLICY}},
            ("sqs:queue", "jobs"),
        ),
        (
            "sns.amazonaws.com",
            "SetTopicAttributes",
            {
                "topicArn": "arn:aws:sns:us-east-1:111111111111:alerts",
                "attributeName": "Policy",
                "attributeValue": FOREIGN_POLICY,
            },
            ("sns:topic", "alerts"),
        ),
        (
            "kms.amazonaws.com",
            "PutKeyPolicy",
            {"keyId": "1234abcd-12ab", "policyName": "default", "policy": FOREIGN_POLICY},
            ("kms:key", "1234abcd-12ab"),
        ),
        (
            "ecr.amazonaws.com",
            "SetRepositoryPolicy",
            {"repositoryName": "app", "registryId": "555555555555", "policyText": FOREIGN_POLICY},
            ("ecr:repository", "app"),
        ),
        (
            "secretsmanager.amazonaws.com",
            "PutResourcePolicy",
            {"secretId": "prod/db", "resourcePolicy": FOREIGN_POLICY},
            ("secretsmanager:secret", "prod/db"),
        ),
        (
            "elasticfilesystem.amazonaws.com",
            "PutFileSystemPolicy",
            {"fileSystemId": "fs-1", "policy": FOREIGN_POLICY},
            ("elasticfilesystem:file-system", "fs-1"),
        ),
        (
            "glacier.amazonaws.com",
            "SetVaultAccessPolicy",
            {"accountId": "-", "vaultName": "archive", "policy": {"policy": FOREIGN_POLICY}},
            ("glacier:vault", "archive"),
        ),
        (
            "backup.amazonaws.com",
            "PutBackupVaultAccessPolicy",
            {"backupVaultName": "vault", "policy": FOREIGN_POLICY},
            ("backup:backup-vault", "vault"),
        ),
        (
            "events.amazonaws.com",
            "PutPermission",
            {"eventBusName": "bus", "policy": FOREIGN_POLICY},
            ("events:event-bus", "bus"),
        ),
        (
            "sqs.amazonaws.com",
            "CreateQueue",
            {"queueName": "jobs", "attributes": {"Policy": FOREIGN_POLICY}},
            ("sqs:queue", "jobs"),
        ),
    ],
)
def test_resource_policies(
    source: str, name: str, params: dict[str, Any], resource: tuple[str, str]
) -> None:
    event = one_event(record(source, name, params))
    (grant,) = event.grants
    assert (grant.grantee_kind, grant.grantee, grant.grantee_account_id) == (
        "account",
        FOREIGN,
        FOREIGN,
    )
    assert (grant.resource.type, grant.resource.id) == resource
    assert grant.resource in event.resources
    expected_owner = "555555555555" if source.startswith("ecr") else OWNER
    assert grant.resource.account_id == expected_owner


def test_sqs_and_sns_add_permission() -> None:
    sqs = {
        "queueUrl": QUEUE,
        "label": "l",
        "aWSAccountIds": [FOREIGN, "222222222222"],
        "actions": ["SendMessage"],
    }
    grants = grants_of(record("sqs.amazonaws.com", "AddPermission", sqs))
    assert summary(grants) == [
        ("account", FOREIGN, FOREIGN, False),
        ("account", "222222222222", "222222222222", False),
    ]
    assert grants[0].permission == "SendMessage"
    sns = {
        "topicArn": "arn:aws:sns:us-east-1:111111111111:alerts",
        "label": "l",
        "aWSAccountId": [FOREIGN],
        "actionName": ["Publish", "Subscribe"],
    }
    (grant,) = grants_of(record("sns.amazonaws.com", "AddPermission", sns))
    assert (grant.grantee, grant.permission) == (FOREIGN, "Publish,Subscribe")
    assert (
        grants_of(
            record("sqs.amazonaws.com", "RemovePermission", {"queueUrl": QUEUE, "label": "l"})
        )
        == ()
    )


def test_kms_create_grant() -> None:
    params = {
        "keyId": "arn:aws:kms:us-east-1:111111111111:key/k1",
        "granteePrincipal": f"arn:aws:iam::{FOREIGN}:role/thief",
        "operations": ["Decrypt", "CreateGrant"],
    }
    (grant,) = grants_of(record("kms.amazonaws.com", "CreateGrant", params))
    assert (grant.grantee_kind, grant.grantee_account_id, grant.permission) == (
        "principal",
        FOREIGN,
        "Decrypt,CreateGrant",
    )
    assert (grant.resource.type, grant.resource.id) == ("kms:key", "k1")


def test_ram_share_and_disassociate() -> None:
    subnet = "arn:aws:ec2:us-east-1:111111111111:subnet/subnet-1"
    params = {
        "name": "share",
        "resourceArns": [subnet],
        "principals": [FOREIGN, "arn:aws:organizations::333333333333:organization/o-abc"],
        "allowExternalPrincipals": True,
    }
    grants = grants_of(record("ram.amazonaws.com", "CreateResourceShare", params))
    assert summary(grants) == [
        ("account", FOREIGN, FOREIGN, False),
        (
            "organization",
            "arn:aws:organizations::333333333333:organization/o-abc",
            "333333333333",
            False,
        ),
    ]
    assert (grants[0].resource.type, grants[0].resource.id) == ("ec2:subnet", "subnet-1")
    assert grants[0].permission == "ram:share"
    share_arn = "arn:aws:ram:us-east-1:111111111111:resource-share/abc"
    params = {"resourceShareArn": share_arn, "principals": [FOREIGN]}
    (revoked,) = grants_of(record("ram.amazonaws.com", "DisassociateResourceShare", params))
    assert (revoked.resource.type, revoked.resource.id, revoked.revoke) == (
        "ram:resource-share",
        "abc",
        True,
    )


def test_failed_call_still_carries_its_grants() -> None:
    params = {
        "snapshotId": "snap-1",
        "createVolumePermission": {"add": {"items": [{"userId": FOREIGN}]}},
    }
    event = one_event(
        record(
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            params,
            errorCode="Client.UnauthorizedOperation",
        )
    )
    assert event.outcome == "failure"
    assert summary(event.grants) == [("account", FOREIGN, FOREIGN, False)]


def test_duplicate_principals_are_one_grant() -> None:
    doc = policy(allow({"AWS": FOREIGN}), allow({"AWS": [FOREIGN, FOREIGN]}))
    grants = grants_of(
        record("s3.amazonaws.com", "PutBucketPolicy", {"bucketName": "b", "bucketPolicy": doc})
    )
    assert len(grants) == 1


def test_unrelated_calls_have_no_grants() -> None:
    assert grants_of(record("s3.amazonaws.com", "GetBucketPolicy", {"bucketName": "b"})) == ()
    assert grants_of(record("lambda.amazonaws.com", "AddPermission", None)) == ()


def test_eventbridge_principal_permission_with_condition() -> None:
    org = {"type": "StringEquals", "key": "aws:PrincipalOrgID", "value": "o-abc"}
    params = {"eventBusName": "bus", "action": "events:PutEvents", "principal": "*"}
    (open_bus,) = grants_of(record("events.amazonaws.com", "PutPermission", params))
    assert (open_bus.grantee_kind, open_bus.permission, open_bus.conditional) == (
        "everyone",
        "events:PutEvents",
        False,
    )
    narrowed = {**params, "condition": org}
    (grant,) = grants_of(record("events.amazonaws.com", "PutPermission", narrowed))
    assert (grant.grantee_kind, grant.permission, grant.conditional) == (
        "everyone",
        "events:PutEvents",
        True,
    )
