"""Grants made by resource-policy calls of SQS, SNS, KMS, ECR, Secrets Manager, EFS, Glacier,
Backup, EventBridge and RAM (see `cloudtrail_grants` for the rules every extractor follows)."""

from __future__ import annotations

from collections.abc import Callable

from fenghuo.ingest.parsers.cloudtrail_fields import (
    JsonObject,
    get_bool,
    get_obj,
    get_str,
    is_account,
    strings,
)
from fenghuo.ingest.parsers.cloudtrail_policy import (
    account_grants,
    policy_grants,
    principal_grant,
)
from fenghuo.ingest.parsers.cloudtrail_resources import (
    Call,
    resource_for,
    resource_from_arn,
)
from fenghuo.model import Grant

Extractor = Callable[[Call], list[Grant]]


def _policy_call(rtype: str, resource_keys: tuple[str, ...], *policy_path: str) -> Extractor:
    """A call that sets a resource policy found at `policy_path` in the request parameters."""

    def extract(call: Call) -> list[Grant]:
        resource = call.resource(rtype, *resource_keys)
        if resource is None:
            return []
        parent: JsonObject | None = call.params
        for key in policy_path[:-1]:
            parent = get_obj(parent, key)
        policy = parent.get(policy_path[-1]) if parent is not None else None
        # Glacier wraps the policy text once more: {"policy": {"policy": "..."}}.
        wrapped = get_obj(parent, policy_path[-1])
        for key in ("policy", "Policy"):
            if wrapped is not None and key in wrapped:
                policy = wrapped[key]
        return policy_grants(resource, policy)

    return extract


def _sns_topic_attributes(call: Call) -> list[Grant]:
    resource = call.resource("sns:topic", "topicArn")
    if resource is None or get_str(call.params, "attributeName") != "Policy":
        return []
    return policy_grants(resource, call.params.get("attributeValue"))


def _sns_create_topic(call: Call) -> list[Grant]:
    topic_arn = get_str(call.response, "topicArn")
    resource = resource_from_arn(topic_arn, call.owner) if topic_arn else None
    resource = resource or call.resource("sns:topic", "name")
    policy = get_obj(call.params, "attributes")
    return policy_grants(resource, policy.get("Policy")) if resource and policy else []


def _add_permission(rtype: str, resource_key: str, accounts: str, actions: str) -> Extractor:
    """SQS / SNS `AddPermission`: a list of account ids and a list of actions."""

    def extract(call: Call) -> list[Grant]:
        resource = call.resource(rtype, resource_key)
        if resource is None:
            return []
        permission = ",".join(strings(call.params.get(actions))) or None
        values: list[str] = []
        for key in (accounts, accounts[0].upper() + accounts[1:], accounts.lower()):
            values.extend(strings(call.params.get(key)))
        return account_grants(resource, values, permission)

    return extract


def _sqs_create_queue(call: Call) -> list[Grant]:
    queue_url = get_str(call.response, "queueUrl")
    resource = resource_for("sqs:queue", queue_url, call.owner) if queue_url else None
    resource = resource or call.resource("sqs:queue", "queueName")
    attributes = get_obj(call.params, "attributes")
    return policy_grants(resource, attributes.get("Policy")) if resource and attributes else []


def _kms_create_grant(call: Call) -> list[Grant]:
    resource = call.resource("kms:key", "keyId")
    principal = get_str(call.params, "granteePrincipal")
    if resource is None or principal is None:
        return []
    permission = ",".join(strings(call.params.get("operations"))) or "kms:CreateGrant"
    return [principal_grant(resource, principal, permission)]


def _kms_create_key(call: Call) -> list[Grant]:
    metadata = get_obj(call.response, "keyMetadata")
    key_arn = get_str(metadata, "arn")
    resource = resource_from_arn(key_arn, call.owner) if key_arn else None
    if resource is None:
        key_id = get_str(metadata, "keyId")
        resource = resource_for("kms:key", key_id, call.owner) if key_id else None
    return policy_grants(resource, call.params.get("policy")) if resource else []


def _ecr_repository_policy(call: Call) -> list[Grant]:
    repository = get_str(call.params, "repositoryName")
    if repository is None:
        return []
    registry = get_str(call.params, "registryId")
    owner = registry if is_account(registry) else None
    resource = resource_for("ecr:repository", repository, call.owner, owner)
    return policy_grants(resource, call.params.get("policyText"))


def _ram_share(revoke: bool) -> Extractor:
    """RAM: every listed resource (or the share itself) shared with every listed principal."""

    def extract(call: Call) -> list[Grant]:
        resources = [
            r
            for r in (
                resource_from_arn(a, call.owner) for a in strings(call.params.get("resourceArns"))
            )
            if r is not None
        ]
        if not resources:
            share = get_obj(call.response, "resourceShare")
            share_arn = get_str(call.params, "resourceShareArn") or get_str(
                share, "resourceShareArn"
            )
            share_resource = resource_from_arn(share_arn, call.owner) if share_arn else None
            if share_resource is None:
                share_resource = call.resource("ram:resource-share", "name")
            resources = [share_resource] if share_resource else []
        permission = "ram:share"
        if get_bool(call.params, "allowExternalPrincipals") is False:
            permission = "ram:share (organization only)"
        principals = strings(call.params.get("principals"))
        return [
            principal_grant(resource, principal, permission, revoke=revoke)
            for resource in resources
            for principal in principals
        ]

    return extract


def _eventbridge_permission(call: Call) -> list[Grant]:
    resource = call.resource("events:event-bus", "eventBusName") or resource_for(
        "events:event-bus", "default", call.owner
    )
    if get_str(call.params, "policy") is not None:
        return policy_grants(resource, call.params.get("policy"))
    principal = get_str(call.params, "principal")
    if principal is None:
        return []
    permission = get_str(call.params, "action") or "events:PutEvents"
    conditional = get_obj(call.params, "condition") is not None
    return [principal_grant(resource, principal, permission, conditional=conditional)]


SERVICE_EXTRACTORS: dict[tuple[str, str], Extractor] = {
    ("sqs.amazonaws.com", "SetQueueAttributes"): _policy_call(
        "sqs:queue", ("queueUrl",), "attributes", "Policy"
    ),
    ("sqs.amazonaws.com", "CreateQueue"): _sqs_create_queue,
    ("sqs.amazonaws.com", "AddPermission"): _add_permission(
        "sqs:queue", "queueUrl", "aWSAccountIds", "actions"
    ),
    ("sns.amazonaws.com", "SetTopicAttributes"): _sns_topic_attributes,
    ("sns.amazonaws.com", "CreateTopic"): _sns_create_topic,
    ("sns.amazonaws.com", "AddPermission"): _add_permission(
        "sns:topic", "topicArn", "aWSAccountId", "actionName"
    ),
    ("kms.amazonaws.com", "PutKeyPolicy"): _policy_call("kms:key", ("keyId",), "policy"),
    ("kms.amazonaws.com", "CreateKey"): _kms_create_key,
    ("kms.amazonaws.com", "CreateGrant"): _kms_create_grant,
    ("ecr.amazonaws.com", "SetRepositoryPolicy"): _ecr_repository_policy,
    ("secretsmanager.amazonaws.com", "PutResourcePolicy"): _policy_call(
        "secretsmanager:secret", ("secretId",), "resourcePolicy"
    ),
    ("elasticfilesystem.amazonaws.com", "PutFileSystemPolicy"): _policy_call(
        "elasticfilesystem:file-system", ("fileSystemId",), "policy"
    ),
    ("glacier.amazonaws.com", "SetVaultAccessPolicy"): _policy_call(
        "glacier:vault", ("vaultName",), "policy"
    ),
    ("backup.amazonaws.com", "PutBackupVaultAccessPolicy"): _policy_call(
        "backup:backup-vault", ("backupVaultName",), "policy"
    ),
    ("events.amazonaws.com", "PutPermission"): _eventbridge_permission,
    ("ram.amazonaws.com", "CreateResourceShare"): _ram_share(revoke=False),
    ("ram.amazonaws.com", "AssociateResourceShare"): _ram_share(revoke=False),
    ("ram.amazonaws.com", "DisassociateResourceShare"): _ram_share(revoke=True),
}
