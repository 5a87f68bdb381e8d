"""cross-tenant-sharing: a tenant's data or access granted to another tenant, an outsider or everyone.

Sharing an EBS snapshot, an AMI or an RDS snapshot with another account lets that account copy the
disk or database out (ATT&CK T1537, Transfer Data to Cloud Account); a role trust policy naming a
foreign principal lets it act inside the account (T1098.003); a resource policy with `Principal: *`
(a bucket, a Lambda function) opens the resource to everyone. In a multi-tenant cloud the
provider can tell what no single tenant can: whether the grantee account is *another tenant's*
(cross-tenant leakage), an account the provider does not know, or the tenant's own.

The parser turns every sharing call into `Grant`s on the `ApiCall`; this detector judges each
successful, non-revoking grant against the inventory's account-to-tenant map. Grants within one
tenant's accounts, to service principals and revocations are not alerts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.cloud import (
    actor_label,
    credential_tenant,
    resource_entity,
    resource_label,
    resource_owner,
)
from fenghuo.detectors.taxonomy import DATA_SECURITY
from fenghuo.inventory.index import InventoryIndex
from fenghuo.model import ApiCall, Event, Grant
from fenghuo.model.alert import Entity, Severity

# ATT&CK per resource type, for the finding's details (the alert carries the detector's).
_TECHNIQUES = {"iam:role": "T1098.003"}
_DEFAULT_TECHNIQUE = "T1537"


# kind -> (severity, confidence, title)
_KINDS: dict[str, tuple[Severity, float, str]] = {
    "everyone": (Severity.CRITICAL, 0.95, "Resource made public"),
    "everyone-conditional": (
        Severity.HIGH,
        0.7,
        "Resource opened to everyone under a condition",
    ),
    "tenant": (Severity.HIGH, 0.9, "Resource shared with another tenant"),
    "external": (Severity.HIGH, 0.85, "Resource shared with an external account"),
    "unknown-principal": (Severity.MEDIUM, 0.5, "Resource shared with an unknown principal"),
}


@dataclass(frozen=True)
class Exposure:
    """How far one grant reaches, judged against the inventory."""

    kind: str  # a key of _KINDS
    grantee_text: str  # for the summary: "external account 0987...", "everyone"
    owner_account: str
    owner_tenant: str
    grantee_tenant: str | None = None

    @property
    def severity(self) -> Severity:
        return _KINDS[self.kind][0]

    @property
    def confidence(self) -> float:
        return _KINDS[self.kind][1]

    @property
    def title(self) -> str:
        return _KINDS[self.kind][2]


def judge(
    index: InventoryIndex, call: ApiCall, grant: Grant, allowed: frozenset[str]
) -> Exposure | None:
    """The exposure a grant creates, or None when it shares nothing with anyone else."""
    if grant.revoke or grant.grantee_kind in ("service", "group"):
        return None
    owner_account = resource_owner(call, grant.resource)
    owner_tenant = index.tenant_of_account(owner_account)
    if owner_account is None or owner_tenant is None:
        return None  # not a tenant's resource: nothing of ours is exposed

    def exposure(kind: str, text: str, grantee_tenant: str | None = None) -> Exposure:
        return Exposure(kind, text, owner_account or "", owner_tenant or "", grantee_tenant)

    if grant.grantee_kind == "everyone":
        if grant.conditional:
            return exposure("everyone-conditional", "everyone (narrowed by a policy condition)")
        return exposure("everyone", "everyone")
    account = grant.grantee_account_id
    if account is None:
        text = f"{grant.grantee_kind} {grant.grantee} of an unknown account"
        return exposure("unknown-principal", text)
    if account in allowed:
        return None
    grantee_tenant = index.tenant_of_account(account)
    if grantee_tenant == owner_tenant:
        return None
    what = "organization of account" if grant.grantee_kind == "organization" else "account"
    if grantee_tenant is not None:
        return exposure("tenant", f"{what} {account} of tenant {grantee_tenant}", grantee_tenant)
    return exposure("external", f"external {what} {account}")


class CrossTenantSharing(Detector):
    meta = DetectorMeta(
        id="cross-tenant-sharing",
        title="Resource shared across tenants or made public",
        severity=Severity.HIGH,
        confidence=0.85,
        technique="T1537",
        category=DATA_SECURITY,
        description=(
            "A successful call granted access to a tenant's snapshot, image, database snapshot, "
            "bucket, role trust policy or other resource policy to another tenant's account, to "
            "an account the provider does not know, or to everyone."
        ),
        runbook=(
            "1. Confirm with the owning tenant whether the share is intended; if not, revoke it "
            "(remove the account from the snapshot/image attribute, restore the previous policy). "
            "2. Check whether the grantee already used it: CopySnapshot, CreateVolume, "
            "CopyImage/RunInstances, RestoreDBInstanceFromDBSnapshot, AssumeRole, Invoke calls "
            "naming the resource. "
            "3. Treat the caller's credentials as compromised until explained: rotate keys, "
            "review their other calls. "
            "4. For another tenant's grantee account: open an incident for both tenants."
        ),
        dedup_window=dt.timedelta(hours=1),
    )
    inputs = (ApiCall,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, ApiCall) or event.outcome != "success":
            return None
        if not any(not g.revoke for g in event.grants):
            return None
        return event.account_id or event.tenant_id or "?"

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, ApiCall)
        index = ctx.inventory
        allowed = frozenset(str(a) for a in ctx.setting("allowed_accounts", ()))
        caller_tenant = credential_tenant(index, event)
        for grant in event.grants:
            exposure = judge(index, event, grant, allowed)
            if exposure is not None:
                yield self._finding(event, grant, exposure, caller_tenant)

    def _finding(
        self, call: ApiCall, grant: Grant, exposure: Exposure, caller_tenant: str | None
    ) -> Finding:
        resource = grant.resource
        actor = call.actor
        actor_tenant = caller_tenant if caller_tenant != exposure.owner_tenant else None
        caller = actor_label(actor)
        if actor.account_id and actor.account_id != exposure.owner_account:
            caller += f" of account {actor.account_id}"
        if actor_tenant is not None:
            caller += f" (tenant {actor_tenant})"
        permission = f" ({grant.permission})" if grant.permission else ""
        entities = [
            resource_entity(resource),
            Entity("account", exposure.owner_account),
        ]
        if grant.grantee_account_id:
            entities.append(Entity("account", grant.grantee_account_id))
        if exposure.grantee_tenant:
            entities.append(Entity("tenant", exposure.grantee_tenant))
        if actor.account_id:
            entities.append(Entity("account", actor.account_id))
        if call.source_ip:
            entities.append(Entity("ip", call.source_ip))
        return Finding(
            summary=(
                f"{caller} shared {resource_label(resource)} of tenant {exposure.owner_tenant} "
                f"(account {exposure.owner_account}) with {exposure.grantee_text}{permission} "
                f"via {call.action}"
            ),
            title=exposure.title,
            tenant_id=exposure.owner_tenant,
            actor_tenant_id=actor_tenant,
            first_seen=call.event_time,
            last_seen=call.event_time,
            evidence=(call.id,),
            entities=tuple(entities),
            severity=exposure.severity,
            confidence=exposure.confidence,
            dedup_key=(
                f"{exposure.owner_account}|{resource.type}|{resource.id}|"
                f"{grant.grantee_kind}|{grant.grantee}"
            ),
            details={
                "exposure": exposure.kind,
                "technique": _TECHNIQUES.get(resource.type, _DEFAULT_TECHNIQUE),
                "action": call.action,
                "resource": {"type": resource.type, "id": resource.id, "arn": resource.arn},
                "owner_account": exposure.owner_account,
                "grantee": grant.grantee,
                "grantee_kind": grant.grantee_kind,
                "grantee_account": grant.grantee_account_id,
                "grantee_tenant": exposure.grantee_tenant,
                "permission": grant.permission,
                "conditional": grant.conditional,
                "caller": actor.arn,
                "source_ip": call.source_ip or call.source,
            },
        )

    cases = (
        Case(
            "stratus ec2-share-ebs-snapshot: umbrella snapshot to an external account",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "me-central-3r", "eventCategory": "Management", "eventID": "6897ff63-d738-445c-9e86-43e5b1f8e12f", "eventName": "ModifySnapshotAttribute", "eventSource": "ec2.amazonaws.com", "eventTime": "2024-08-01T12:28:02Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "756680937392", "requestID": "aeddc4a7-2043-405e-8b19-5a913367249e", "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "098797384747"}]}}, "snapshotId": "snap-041993b54a9b3af6f"}, "responseElements": {"_return": true, "requestId": "aeddc4a7-2043-405e-8b19-5a913367249e"}, "sourceIPAddress": "253.76.43.253", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.me-central-3r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_7fcd50f2-f1da-4c82-bb7d-38b82021b080", "userIdentity": {"accessKeyId": "AKIAYLJU0B35TFSNKCS2", "accountId": "756680937392", "arn": "arn:aws:iam::756680937392:user/christophe", "principalId": "AIDA7ETKRIUXU83QKECM", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (Expect(Severity.HIGH, "umbrella", summary_contains="external account 098797384747"),),
        ),
        Case(
            "stratus ec2-share-ami: initech image to umbrella",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "me-south-1r", "eventCategory": "Management", "eventID": "1f00bcfa-e050-4c2e-b99b-768ebe3a3dd3", "eventName": "ModifyImageAttribute", "eventSource": "ec2.amazonaws.com", "eventTime": "2024-08-01T12:25:57Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "118238665043", "requestID": "dd81ae39-a261-4e85-87a4-01fe22abc602", "requestParameters": {"attributeType": "launchPermission", "imageId": "ami-de1fbCab6ccB03e6D", "launchPermission": {"add": {"items": [{"userId": "846424999548"}]}}}, "responseElements": {"_return": true, "requestId": "dd81ae39-a261-4e85-87a4-01fe22abc602"}, "sourceIPAddress": "253.19.58.252", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.me-south-1r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_a532baf6-7731-4c0f-b089-48508276f787", "userIdentity": {"accessKeyId": "AKIA40XZ2OQU8R4QKTAC", "accountId": "118238665043", "arn": "arn:aws:iam::118238665043:user/christophe", "principalId": "AIDAYO61EC4B4W5G6BXN", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (Expect(Severity.HIGH, "initech", summary_contains="of tenant umbrella"),),
        ),
        Case(
            "stratus rds-share-snapshot: umbrella DB snapshot to hooli",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "meiso-eastwest-2r", "eventCategory": "Management", "eventID": "fef2bf02-bbea-4d0f-a91c-e6ccfe3fba46", "eventName": "ModifyDBSnapshotAttribute", "eventSource": "rds.amazonaws.com", "eventTime": "2024-08-01T12:38:06Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": false, "recipientAccountId": "171471557522", "requestID": "3fd13676-52a0-4680-8491-71a8e28ea7f5", "requestParameters": {"attributeName": "restore", "dBSnapshotIdentifier": "exfiltration", "valuesToAdd": ["503161813013"]}, "responseElements": {"dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": ["503161813013"]}], "dBSnapshotIdentifier": "exfiltration"}, "sourceIPAddress": "204.10.215.184", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "rds.meiso-eastwest-2r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_5ca5319a-2127-4f13-a878-495bc59244b3", "userIdentity": {"accessKeyId": "AKIAIYTVC64GTXUFCS2X", "accountId": "171471557522", "arn": "arn:aws:iam::171471557522:user/christophe", "principalId": "AIDA3MGXB5NR71XRJU40", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (Expect(Severity.HIGH, "umbrella", summary_contains="of tenant hooli"),),
        ),
        Case(
            "stratus iam-backdoor-role: hooli role trusts an external account",
            (
                Records(
                    "cloudtrail",
                    r"""
{"awsRegion": "ca-isob-northsouth-1r", "eventCategory": "Management", "eventID": "62e290e2-ee95-4a7c-a9f8-db4ef462b12d", "eventName": "UpdateAssumeRolePolicy", "eventSource": "iam.amazonaws.com", "eventTime": "2024-08-01T13:29:57Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "751203476945", "requestID": "295ee6e3-1da9-416f-885d-ad65d876ef82", "requestParameters": {"policyDocument": "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\n        \"Service\": \"ec2.amazonaws.com\"\n      },\n      \"Action\": \"sts:AssumeRole\"\n    },\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": {\n        \"AWS\": \"arn:aws:iam::193672423079:root\"\n      },\n      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}", "roleName": "stratus-red-team-backdoor-r-role"}, "responseElements": null, "sourceIPAddress": "225.178.039.250", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "iam.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_180e078f-4ad3-40c5-9ec3-efff37e17b25", "userIdentity": {"accessKeyId": "AKIAMUV7B57OZM0RV05D", "accountId": "751203476945", "arn": "arn:aws:iam::751203476945:user/christophe", "principalId": "AIDA7SLGLLJ9LWK18E4Y", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH, "hooli", summary_contains="iam:role stratus-red-team-backdoor"
                ),
            ),
        ),
        Case(
            "stratus lambda-backdoor-function: hooli function invocable by everyone",
            (
                Records(
                    "cloudtrail",
                    r"""
{"awsRegion": "ca-centralnorth-1r", "eventCategory": "Management", "eventID": "b67a9bba-d9da-4980-bf74-baed881b117d", "eventName": "AddPermission20150331v2", "eventSource": "lambda.amazonaws.com", "eventTime": "2024-08-01T13:47:16Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": false, "recipientAccountId": "880896431042", "requestID": "c84f1436-60be-4ad8-a6f7-f3c44d47df3a", "requestParameters": {"action": "lambda:InvokeFunction", "functionName": "stratus-red-team-backdoor-f-func", "principal": "*", "statementId": "backdoor"}, "responseElements": {"statement": "{\"Sid\":\"backdoor\",\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"lambda:InvokeFunction\",\"Resource\":\"arn:aws:lambda:ca-centralnorth-1r:880896431042:function:stratus-red-team-backdoor-f-func\"}"}, "sourceIPAddress": "151.236.251.251", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "lambda.ca-centralnorth-1r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_a5b48423-fe4e-446d-a058-0f2b624cdfb1", "userIdentity": {"accessKeyId": "AKIAYALJGCQ7J893JO5I", "accountId": "880896431042", "arn": "arn:aws:iam::880896431042:user/christophe", "principalId": "AIDAC4Q0BJF2SN7BSHFO", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (Expect(Severity.CRITICAL, "hooli", summary_contains="with everyone"),),
        ),
        Case(
            "bucket policy with Principal * makes a bucket public",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDA6ON6E4XEGITEXAMPL", "arn": "arn:aws:iam::111111111111:user/deploy", "accountId": "111111111111", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "deploy"}, "eventTime": "2026-01-05T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "awsRegion": "cn-north-1", "sourceIPAddress": "198.51.100.20", "userAgent": "[aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12]", "requestParameters": {"bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::acme-customer-exports/*"}]}, "bucketName": "acme-customer-exports", "Host": "acme-customer-exports.s3.cn-north-1.amazonaws.com.cn", "policy": [""]}, "responseElements": null, "additionalEventData": {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 214, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": "Y2hlY2tzdW0=", "bytesTransferredOut": 0}, "requestID": "9D7A1F0C2B3E4D5F", "eventID": "0f7a2c1e-8d4b-4e3f-9a1b-2c3d4e5f6a7b", "readOnly": false, "resources": [{"accountId": "111111111111", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::acme-customer-exports"}], "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111111111111", "eventCategory": "Management", "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "acme-customer-exports.s3.cn-north-1.amazonaws.com.cn"}}
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL, "acme", summary_contains="s3:bucket acme-customer-exports"
                ),
            ),
        ),
        Case(
            "another tenant's principal opens a bucket to its own account",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDA6ON6E4XEGIT0ACME", "arn": "arn:aws:iam::111111111111:user/ops", "accountId": "111111111111", "accessKeyId": "AKIAI44QH8DHBEXAMPLE", "userName": "ops"}, "eventTime": "2026-01-05T10:05:00Z", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "awsRegion": "cn-north-1", "sourceIPAddress": "10.1.0.11", "userAgent": "[aws-cli/2.15.30]", "requestParameters": {"bucketPolicy": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"}, "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::globex-ledger", "arn:aws:s3:::globex-ledger/*"]}]}, "bucketName": "globex-ledger", "Host": "globex-ledger.s3.cn-north-1.amazonaws.com.cn", "policy": [""]}, "responseElements": null, "requestID": "8C6B0E1D2A3F4B5C", "eventID": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "readOnly": false, "resources": [{"accountId": "222222222222", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::globex-ledger"}], "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "222222222222", "eventCategory": "Management"}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH, "globex", actor_tenant_id="acme", summary_contains="tenant acme"
                ),
            ),
        ),
        Case(
            "public function permission narrowed by a source ARN",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "principalId": "AIDAGLOBEXDEPLOY0001", "arn": "arn:aws:iam::222222222222:user/deploy", "accountId": "222222222222", "accessKeyId": "AKIAGLOBEXDEPLOY0001", "userName": "deploy"}, "eventTime": "2026-01-05T11:00:00Z", "eventSource": "lambda.amazonaws.com", "eventName": "AddPermission20150331v2", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "terraform-provider-aws/5.42.0", "requestParameters": {"functionName": "thumbnailer", "statementId": "s3-invoke", "action": "lambda:InvokeFunction", "principal": "*", "sourceArn": "arn:aws:s3:::globex-uploads"}, "responseElements": {"statement": "{\\"Sid\\":\\"s3-invoke\\",\\"Effect\\":\\"Allow\\",\\"Principal\\":\\"*\\",\\"Action\\":\\"lambda:InvokeFunction\\",\\"Resource\\":\\"arn:aws:lambda:cn-north-1:222222222222:function:thumbnailer\\",\\"Condition\\":{\\"ArnLike\\":{\\"AWS:SourceArn\\":\\"arn:aws:s3:::globex-uploads\\"}}}"}, "requestID": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918", "eventID": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "222222222222", "eventCategory": "Management"}
""",
                ),
            ),
            (Expect(Severity.HIGH, "globex", summary_contains="narrowed by a policy condition"),),
        ),
        Case(
            "snapshot shared between two accounts of the same tenant",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "eventName": "ModifySnapshotAttribute", "eventSource": "ec2.amazonaws.com", "eventTime": "2026-01-05T10:10:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "756680937392", "requestID": "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a", "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "846424999548"}]}}, "snapshotId": "snap-0umbrellabackup1"}, "responseElements": {"_return": true}, "sourceIPAddress": "10.4.0.31", "userAgent": "aws-cli/2.15.30", "userIdentity": {"accessKeyId": "AKIAUMBRELLABACKUP01", "accountId": "756680937392", "arn": "arn:aws:iam::756680937392:user/backup-bot", "principalId": "AIDAUMBRELLABACKUP01", "type": "IAMUser", "userName": "backup-bot"}}
""",
                ),
            ),
            (),
        ),
        Case(
            "revoking an external account's access",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "me-central-3r", "eventCategory": "Management", "eventID": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "eventName": "ModifySnapshotAttribute", "eventSource": "ec2.amazonaws.com", "eventTime": "2024-08-01T12:40:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "756680937392", "requestID": "6f7a8b9c-0d1e-4f2a-9b3c-4d5e6f7a8b9c", "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"remove": {"items": [{"userId": "098797384747"}]}}, "snapshotId": "snap-041993b54a9b3af6f"}, "responseElements": {"_return": true}, "sourceIPAddress": "253.76.43.253", "userAgent": "aws-cli/2.15.30", "userIdentity": {"accessKeyId": "AKIAYLJU0B35TFSNKCS2", "accountId": "756680937392", "arn": "arn:aws:iam::756680937392:user/christophe", "principalId": "AIDA7ETKRIUXU83QKECM", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (),
        ),
        Case(
            "a denied attempt to share a snapshot",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "eventName": "ModifySnapshotAttribute", "eventSource": "ec2.amazonaws.com", "eventTime": "2026-01-05T10:20:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "222222222222", "requestID": "8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e", "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "098797384747"}]}}, "snapshotId": "snap-0globexledger01"}, "responseElements": null, "errorCode": "Client.UnauthorizedOperation", "errorMessage": "You are not authorized to perform this operation.", "sourceIPAddress": "198.51.100.20", "userAgent": "aws-cli/2.15.30", "userIdentity": {"accessKeyId": "AKIAGLOBEXREADONLY01", "accountId": "222222222222", "arn": "arn:aws:iam::222222222222:user/auditor", "principalId": "AIDAGLOBEXREADONLY01", "type": "IAMUser", "userName": "auditor"}}
""",
                ),
            ),
            (),
        ),
        Case(
            "a trust policy for a service principal only",
            (
                Records(
                    "cloudtrail",
                    r"""
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f", "eventName": "CreateRole", "eventSource": "iam.amazonaws.com", "eventTime": "2026-01-05T10:30:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "017622104382", "requestID": "0d1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a", "requestParameters": {"roleName": "app-instance-role", "assumeRolePolicyDocument": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}"}, "responseElements": {"role": {"roleName": "app-instance-role", "arn": "arn:aws:iam::017622104382:role/app-instance-role"}}, "sourceIPAddress": "203.0.113.7", "userAgent": "terraform-provider-aws/5.42.0", "userIdentity": {"accessKeyId": "AKIAINITECHTERRAFORM", "accountId": "017622104382", "arn": "arn:aws:iam::017622104382:user/terraform", "principalId": "AIDAINITECHTERRAFORM", "type": "IAMUser", "userName": "terraform"}}
""",
                ),
            ),
            (),
        ),
        Case(
            "stratus cloudtrail-stop and steal-instance-credentials share nothing",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "apiso-centralnorth-2r", "eventCategory": "Management", "eventID": "10163ed2-2253-469d-a5ee-cbc6651f8934", "eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com", "eventTime": "2024-07-31T13:06:24Z", "eventType": "AwsApiCall", "eventVersion": "1.10", "managementEvent": true, "readOnly": false, "recipientAccountId": "143434273843", "requestID": "14c891b6-11b5-4787-ae97-64a974977078", "requestParameters": {"name": "stratus-red-team-ct-stop-trail-buykxbqejv"}, "responseElements": null, "sourceIPAddress": "86.245.153.234", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "cloudtrail.apiso-centralnorth-2r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571", "userIdentity": {"accessKeyId": "AKIAGGWFBBHBE7D3M9WI", "accountId": "143434273843", "arn": "arn:aws:iam::143434273843:user/christophe", "principalId": "AIDAOC1SYDVN0AF0FMMR", "type": "IAMUser", "userName": "christophe"}}
{"awsRegion": "us-north-2r", "eventCategory": "Management", "eventID": "2a5178c8-b4c7-44ba-b066-1ecc79b7087c", "eventName": "SendCommand", "eventSource": "ssm.amazonaws.com", "eventTime": "2024-08-02T08:23:24Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": false, "recipientAccountId": "017622104382", "requestID": "ff024f6e-78cd-4f36-95cf-7179c6421e32", "requestParameters": {"documentName": "AWS-RunShellScript", "instanceIds": ["i-786a3A8B5C0d92eF4"], "interactive": false, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}, "responseElements": {"command": {"commandId": "f6887251-cdde-4251-a026-f50a25f521f7", "documentName": "AWS-RunShellScript", "instanceIds": ["i-786a3A8B5C0d92eF4"], "status": "Pending", "targetCount": 1}}, "sourceIPAddress": "18.236.253.47", "userAgent": "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240", "userIdentity": {"accessKeyId": "AKIAAM80VXLJF8NPK4VC", "accountId": "017622104382", "arn": "arn:aws:iam::017622104382:user/christophe", "principalId": "AIDASSXYG8SJ3JDII10C", "type": "IAMUser", "userName": "christophe"}}
{"awsRegion": "us-north-2r", "eventCategory": "Management", "eventID": "394cf343-b9cf-48ce-8a94-e188656ae8ba", "eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "eventTime": "2024-08-02T08:23:56Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "7b9d34cc-91db-4ea0-9290-2897ad31b037", "requestParameters": {"filterSet": {}, "instancesSet": {}}, "responseElements": null, "sourceIPAddress": "18.236.253.47", "userAgent": "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240", "userIdentity": {"accessKeyId": "ASIAP5CT9NN8EYVU1FXV", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-786a3A8B5C0d92eF4", "principalId": "AROALHCCSKSM395EGX3XN:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2024-08-02T08:20:52Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "1.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role", "principalId": "AROALHCCSKSM395EGX3XN", "type": "Role", "userName": "stratus-red-team-ec2-steal-credentials-role"}}, "type": "AssumedRole"}}
""",
                ),
            ),
            (),
        ),
    )
