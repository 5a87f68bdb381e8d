"""cross-tenant-credential-use: one tenant's cloud credentials used from somewhere they do not live.

A VM's instance role credentials are served by the metadata service to code inside that VM; an
attacker who reads them (SSRF to 169.254.169.254, a compromised workload, a VM escape reading a
neighbour's memory) can replay them from anywhere until they expire (ATT&CK T1552.005, then
T1078.004 Valid Accounts: Cloud Accounts). GuardDuty calls this InstanceCredentialExfiltration
(OutsideAWS / InsideAWS). The provider knows what no tenant does: which addresses are each VM's
own, and which belong to *another tenant*. So:

- credentials of tenant A (instance role, access key) used from an address of tenant B: the
  cross-tenant case, CRITICAL (B's workload holds A's credentials);
- instance credentials used from an address that is not the instance's own (the internet,
  another VM): HIGH; from another VM of the same tenant: MEDIUM (lateral movement).

Calls an AWS service makes on the principal's behalf (no client address) and calls from the
provider's NAT or endpoint ranges (setting `trusted_cidrs`) are not alerts.
"""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.cloud import (
    actor_label,
    credential_tenant,
    instance_id,
    instance_vm,
    is_service_call,
    vm_ips,
)
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.errors import ConfigError
from fenghuo.inventory.index import InventoryIndex, VmRecord
from fenghuo.model import ApiCall, Event
from fenghuo.model.alert import Entity, Severity

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=32)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)
    except ValueError as exc:
        msg = f"cross-tenant-credential-use: bad trusted_cidrs entry: {exc}"
        raise ConfigError(msg) from None


def _trusted(ip: str, cidrs: Iterable[str]) -> bool:
    addr = ipaddress.ip_address(ip)
    return any(addr in net for net in _networks(tuple(str(c) for c in cidrs)))


@dataclass(frozen=True)
class Misuse:
    severity: Severity
    confidence: float
    where: str  # the source address described, for the summary
    guardduty: str | None  # the GuardDuty finding type it corresponds to, when one does
    source_tenant: str | None = None
    source_vm: VmRecord | None = None


def judge(
    index: InventoryIndex, call: ApiCall, owner: str, instance: str | None, vm: VmRecord | None
) -> Misuse | None:
    """Whether the call's source address is wrong for its credentials, and how wrong."""
    ip = call.source_ip or ""
    actor = call.actor
    source = index.owner_of_ip(ip)
    source_tenant = source[1] if source and source[0] == "tenant" else None
    source_vm = index.vm_by_ip(ip)
    at = f"{ip} (VM {source_vm.name})" if source_vm else ip
    if source_tenant is not None and source_tenant != owner:
        # A role session of another account may be a sanctioned cross-account role; keys and
        # instance credentials never leave their tenant.
        role_session = actor.role_name is not None and instance is None
        return Misuse(
            Severity.HIGH if role_session else Severity.CRITICAL,
            0.7 if role_session else 0.9,
            f"{at}, an address of tenant {source_tenant}",
            "InstanceCredentialExfiltration.InsideAWS" if instance else None,
            source_tenant,
            source_vm,
        )
    if instance is None:
        return None  # user keys from the internet or the tenant's own network: ordinary
    if vm is not None and ip in vm_ips(index, vm):
        return None
    if source_tenant == owner:
        if source_vm is None or vm is None or source_vm.name == vm.name:
            return None  # the tenant's own address space (its NAT gateway, say)
        return Misuse(
            Severity.MEDIUM, 0.6, f"{at}, another VM of the same tenant", None, None, source_vm
        )
    if source is not None:
        where = f"{ip}, an address of provider service {source[1]}"
    else:
        where = f"{ip}, outside the cloud"
    return Misuse(
        Severity.HIGH,
        0.85 if vm is not None else 0.6,
        where,
        "InstanceCredentialExfiltration.OutsideAWS",
    )


class CrossTenantCredentialUse(Detector):
    meta = DetectorMeta(
        id="cross-tenant-credential-use",
        title="Cloud credentials used from another tenant or outside their instance",
        severity=Severity.HIGH,
        confidence=0.85,
        technique="T1078.004",
        category=CYBER_ATTACK,
        description=(
            "An API call was made with one tenant's credentials from an address of another "
            "tenant, or with a VM's instance role credentials from an address that is not the "
            "VM's own (stolen from the metadata service and replayed elsewhere)."
        ),
        runbook=(
            "1. Revoke the credentials: for an instance role, revoke active sessions of the role "
            "(deny tokens issued before now) and rotate; for an access key, deactivate it. "
            "2. List every call made with them from that address (same access key id) and undo "
            "what they changed. "
            "3. Find how they leaked: SSRF or IMDSv1 use on the VM, a compromised workload, or "
            "for a cross-tenant source, the other tenant's VM (possible VM escape or co-tenant "
            "attack): isolate it and open an incident for both tenants. "
            "4. Enforce IMDSv2 and restrict the role with aws:SourceVpc / aws:EC2InstanceSourceIP."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (ApiCall,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, ApiCall) or event.source_ip is None or is_service_call(event):
            return None
        actor = event.actor
        # Instance sessions by their session name (an instance id, or what the inventory calls one).
        if actor.role_name and actor.session_name and actor.session_name.startswith("i-"):
            return actor.session_name
        return actor.access_key_id or actor.arn

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, ApiCall)
        ip = event.source_ip
        if ip is None or _trusted(ip, ctx.setting("trusted_cidrs", ())):
            return
        index = ctx.inventory
        owner = credential_tenant(index, event)
        if owner is None:
            return  # not a tenant's credentials
        instance = instance_id(index, event.actor)
        vm = instance_vm(index, event)
        misuse = judge(index, event, owner, instance, vm)
        if misuse is not None:
            yield self._finding(index, event, owner, instance, vm, misuse)

    def _finding(
        self,
        index: InventoryIndex,
        call: ApiCall,
        owner: str,
        instance: str | None,
        vm: VmRecord | None,
        m: Misuse,
    ) -> Finding:
        actor = call.actor
        ip = call.source_ip or ""
        if instance:
            own = sorted(vm_ips(index, vm)) if vm else []
            vm_text = vm.name if vm else "an instance unknown to the inventory"
            credentials = f"instance role credentials of {vm_text} ({actor_label(actor)})"
            own_text = f"; the instance's own addresses: {', '.join(own) or 'none known'}"
            technique = "T1552.005"
        else:
            credentials = f"credentials of {actor_label(actor)} ({actor.access_key_id or '?'})"
            own_text = ""
            technique = "T1078.004"
        entities = [Entity("ip", ip)]
        if actor.account_id:
            entities.append(Entity("account", actor.account_id))
        if vm is not None:
            entities.append(Entity("host", vm.host))
        if m.source_vm is not None:
            entities += [Entity("vm", m.source_vm.name), Entity("host", m.source_vm.host)]
        credential = instance or actor.access_key_id or actor.arn or "?"
        return Finding(
            summary=(
                f"Tenant {owner}'s {credentials} called {call.action} from {m.where}{own_text}"
            ),
            tenant_id=owner,
            actor_tenant_id=m.source_tenant,
            vm_id=vm.name if vm else None,
            first_seen=call.event_time,
            last_seen=call.event_time,
            evidence=(call.id,),
            entities=tuple(entities),
            severity=m.severity,
            confidence=m.confidence,
            dedup_key=f"{credential}|{ip}",
            details={
                "technique": technique,
                "credential": credential,
                "access_key_id": actor.access_key_id,
                "principal": actor.arn,
                "instance_id": instance,
                "source_ip": ip,
                "source_tenant": m.source_tenant,
                "source_vm": m.source_vm.name if m.source_vm else None,
                "guardduty_equivalent": m.guardduty,
                "action": call.action,
                "user_agent": call.user_agent,
            },
        )

    cases = (
        Case(
            "stratus ec2-steal-instance-credentials: initech-app-1's role used from the internet",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "us-north-2r", "eventCategory": "Management", "eventID": "b379479b-05c9-4c3c-af4b-cbd43acf29e1", "eventName": "GetCallerIdentity", "eventSource": "sts.amazonaws.com", "eventTime": "2024-08-02T08:23:55Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "e46e7e10-ae9e-4170-b205-5d327c156416", "requestParameters": null, "responseElements": null, "sourceIPAddress": "18.236.253.47", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "sts.us-north-2r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240", "userIdentity": {"accessKeyId": "ASIAP5CT9NN8EYVU1FXV", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-786a3A8B5C0d92eF4", "principalId": "AROALHCCSKSM395EGX3XN:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2024-08-02T08:20:52Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "1.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role", "principalId": "AROALHCCSKSM395EGX3XN", "type": "Role", "userName": "stratus-red-team-ec2-steal-credentials-role"}, "webIdFederationData": {}}, "type": "AssumedRole"}}
{"awsRegion": "us-north-2r", "eventCategory": "Management", "eventID": "394cf343-b9cf-48ce-8a94-e188656ae8ba", "eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "eventTime": "2024-08-02T08:23:56Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "7b9d34cc-91db-4ea0-9290-2897ad31b037", "requestParameters": {"filterSet": {}, "instancesSet": {}}, "responseElements": null, "sourceIPAddress": "18.236.253.47", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.us-north-2r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240", "userIdentity": {"accessKeyId": "ASIAP5CT9NN8EYVU1FXV", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/stratus-red-team-ec2-steal-credentials-role/i-786a3A8B5C0d92eF4", "principalId": "AROALHCCSKSM395EGX3XN:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2024-08-02T08:20:52Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "1.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/stratus-red-team-ec2-steal-credentials-role", "principalId": "AROALHCCSKSM395EGX3XN", "type": "Role", "userName": "stratus-red-team-ec2-steal-credentials-role"}}, "type": "AssumedRole"}}
{"awsRegion": "us-north-2r", "eventCategory": "Management", "eventID": "2a5178c8-b4c7-44ba-b066-1ecc79b7087c", "eventName": "SendCommand", "eventSource": "ssm.amazonaws.com", "eventTime": "2024-08-02T08:23:24Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": false, "recipientAccountId": "017622104382", "requestID": "ff024f6e-78cd-4f36-95cf-7179c6421e32", "requestParameters": {"documentName": "AWS-RunShellScript", "instanceIds": ["i-786a3A8B5C0d92eF4"], "interactive": false, "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS"}, "responseElements": {"command": {"commandId": "f6887251-cdde-4251-a026-f50a25f521f7", "documentName": "AWS-RunShellScript", "instanceIds": ["i-786a3A8B5C0d92eF4"], "status": "Pending", "targetCount": 1}}, "sourceIPAddress": "18.236.253.47", "tlsDetails": {"cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256", "clientProvidedHostHeader": "ssm.us-north-2r.amazonaws.com", "tlsVersion": "TLSv1.2"}, "userAgent": "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240", "userIdentity": {"accessKeyId": "AKIAAM80VXLJF8NPK4VC", "accountId": "017622104382", "arn": "arn:aws:iam::017622104382:user/christophe", "principalId": "AIDASSXYG8SJ3JDII10C", "type": "IAMUser", "userName": "christophe"}}
{"awsRegion": "us-north-2r", "eventCategory": "Management", "eventID": "d1d5c2a4-63d4-4d54-8a0e-2f9f1e9c8b7a", "eventName": "GetCommandInvocation", "eventSource": "ssm.amazonaws.com", "eventTime": "2024-08-02T08:23:54Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "5c1a2b3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "requestParameters": {"commandId": "f6887251-cdde-4251-a026-f50a25f521f7", "instanceId": "i-786a3A8B5C0d92eF4"}, "responseElements": null, "sourceIPAddress": "18.236.253.47", "userAgent": "stratus-red-team_c763d13b-d099-488a-bb3e-f57cb2fed240", "userIdentity": {"accessKeyId": "AKIAAM80VXLJF8NPK4VC", "accountId": "017622104382", "arn": "arn:aws:iam::017622104382:user/christophe", "principalId": "AIDASSXYG8SJ3JDII10C", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "initech",
                    summary_contains="initech-app-1 (role stratus-red-team-ec2-steal-credentials-role",
                ),
            ),
        ),
        Case(
            "initech-app-1's role credentials used from acme's VM",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b", "eventName": "ListBuckets", "eventSource": "s3.amazonaws.com", "eventTime": "2026-01-05T10:00:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "F2A3B4C5D6E7F8A9", "requestParameters": {"Host": "s3.cn-north-1.amazonaws.com.cn"}, "responseElements": null, "sourceIPAddress": "10.1.0.11", "userAgent": "[aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12]", "userIdentity": {"accessKeyId": "ASIAINITECHAPP1STOLN", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/initech-app-role/i-786a3A8B5C0d92eF4", "principalId": "AROAINITECHAPPROLE01:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2026-01-05T09:40:00Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "2.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/initech-app-role", "principalId": "AROAINITECHAPPROLE01", "type": "Role", "userName": "initech-app-role"}}, "type": "AssumedRole"}}
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "f2a3b4c5-d6e7-4f8a-9b0c-1d2e3f4a5b6c", "eventName": "DescribeSnapshots", "eventSource": "ec2.amazonaws.com", "eventTime": "2026-01-05T10:00:07Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "a3b4c5d6-e7f8-4a9b-8c0d-1e2f3a4b5c6d", "requestParameters": {"ownersSet": {"items": [{"owner": "self"}]}}, "responseElements": null, "sourceIPAddress": "10.1.0.11", "userAgent": "[aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12]", "userIdentity": {"accessKeyId": "ASIAINITECHAPP1STOLN", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/initech-app-role/i-786a3A8B5C0d92eF4", "principalId": "AROAINITECHAPPROLE01:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2026-01-05T09:40:00Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "2.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/initech-app-role", "principalId": "AROAINITECHAPPROLE01", "type": "Role", "userName": "initech-app-role"}}, "type": "AssumedRole"}}
""",
                ),
            ),
            (
                Expect(
                    Severity.CRITICAL,
                    "initech",
                    actor_tenant_id="acme",
                    summary_contains="10.1.0.11 (VM acme-web-1), an address of tenant acme",
                ),
            ),
        ),
        Case(
            "umbrella's access key used from acme's VM",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "a4b5c6d7-e8f9-4a0b-9c1d-2e3f4a5b6c7d", "eventName": "GetCallerIdentity", "eventSource": "sts.amazonaws.com", "eventTime": "2026-01-05T10:02:00Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": true, "recipientAccountId": "756680937392", "requestID": "b5c6d7e8-f9a0-4b1c-8d2e-3f4a5b6c7d8e", "requestParameters": null, "responseElements": null, "sourceIPAddress": "10.1.0.12", "userAgent": "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 lang/python#3.11.7", "userIdentity": {"accessKeyId": "AKIAUMBRELLABACKUP01", "accountId": "756680937392", "arn": "arn:aws:iam::756680937392:user/backup-bot", "principalId": "AIDAUMBRELLABACKUP01", "type": "IAMUser", "userName": "backup-bot"}}
""",
                ),
            ),
            (Expect(Severity.CRITICAL, "umbrella", actor_tenant_id="acme"),),
        ),
        Case(
            "acme-web-1's role credentials used from acme-db-1",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "c6d7e8f9-a0b1-4c2d-9e3f-4a5b6c7d8e9f", "eventName": "GetSecretValue", "eventSource": "secretsmanager.amazonaws.com", "eventTime": "2026-01-05T10:04:00Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": true, "recipientAccountId": "111111111111", "requestID": "d7e8f9a0-b1c2-4d3e-8f4a-5b6c7d8e9f0a", "requestParameters": {"secretId": "prod/web/db-password"}, "responseElements": null, "sourceIPAddress": "10.1.0.12", "userAgent": "Boto3/1.34.69", "userIdentity": {"accessKeyId": "ASIAACMEWEB1SESSION1", "accountId": "111111111111", "arn": "arn:aws:sts::111111111111:assumed-role/acme-web-role/i-0acme0000000001", "principalId": "AROAACMEWEBROLE00001:i-0acme0000000001", "sessionContext": {"attributes": {"creationDate": "2026-01-05T09:00:00Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "2.0", "sessionIssuer": {"accountId": "111111111111", "arn": "arn:aws:iam::111111111111:role/acme-web-role", "principalId": "AROAACMEWEBROLE00001", "type": "Role", "userName": "acme-web-role"}}, "type": "AssumedRole"}}
""",
                ),
            ),
            (Expect(Severity.MEDIUM, "acme", summary_contains="another VM of the same tenant"),),
        ),
        Case(
            "initech-app-1's role credentials used from initech-app-1",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventID": "e8f9a0b1-c2d3-4e4f-8a5b-6c7d8e9f0a1b", "eventName": "GetObject", "eventSource": "s3.amazonaws.com", "eventTime": "2026-01-05T10:06:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": false, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "F9A0B1C2D3E4F5A6", "requestParameters": {"bucketName": "initech-app-config", "key": "app.yaml", "Host": "initech-app-config.s3.cn-north-1.amazonaws.com.cn"}, "responseElements": null, "resources": [{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::initech-app-config/app.yaml"}, {"accountId": "017622104382", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::initech-app-config"}], "sourceIPAddress": "10.3.0.15", "userAgent": "[aws-sdk-go-v2/1.25.0]", "userIdentity": {"accessKeyId": "ASIAINITECHAPP1SESS1", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/initech-app-role/i-786a3A8B5C0d92eF4", "principalId": "AROAINITECHAPPROLE01:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2026-01-05T09:40:00Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "2.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/initech-app-role", "principalId": "AROAINITECHAPPROLE01", "type": "Role", "userName": "initech-app-role"}}, "type": "AssumedRole"}, "eventCategory": "Data"}
""",
                ),
            ),
            (),
        ),
        Case(
            "an IAM user's access key from the internet",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "me-central-3r", "eventCategory": "Management", "eventID": "6897ff63-d738-445c-9e86-43e5b1f8e12f", "eventName": "ModifySnapshotAttribute", "eventSource": "ec2.amazonaws.com", "eventTime": "2024-08-01T12:28:02Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": false, "recipientAccountId": "756680937392", "requestID": "aeddc4a7-2043-405e-8b19-5a913367249e", "requestParameters": {"attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "098797384747"}]}}, "snapshotId": "snap-041993b54a9b3af6f"}, "responseElements": {"_return": true, "requestId": "aeddc4a7-2043-405e-8b19-5a913367249e"}, "sourceIPAddress": "253.76.43.253", "userAgent": "stratus-red-team_7fcd50f2-f1da-4c82-bb7d-38b82021b080", "userIdentity": {"accessKeyId": "AKIAYLJU0B35TFSNKCS2", "accountId": "756680937392", "arn": "arn:aws:iam::756680937392:user/christophe", "principalId": "AIDA7ETKRIUXU83QKECM", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (),
        ),
        Case(
            "an AWS service acting with the instance's role",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "a0b1c2d3-e4f5-4a6b-9c7d-8e9f0a1b2c3d", "eventName": "CreateLogStream", "eventSource": "logs.amazonaws.com", "eventTime": "2026-01-05T10:08:00Z", "eventType": "AwsApiCall", "eventVersion": "1.08", "managementEvent": true, "readOnly": false, "recipientAccountId": "017622104382", "requestID": "b1c2d3e4-f5a6-4b7c-8d8e-9f0a1b2c3d4e", "requestParameters": {"logGroupName": "/initech/app", "logStreamName": "i-786a3A8B5C0d92eF4"}, "responseElements": null, "sourceIPAddress": "ssm.amazonaws.com", "userAgent": "ssm.amazonaws.com", "userIdentity": {"accessKeyId": "ASIAINITECHAPP1SESS1", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/initech-app-role/i-786a3A8B5C0d92eF4", "principalId": "AROAINITECHAPPROLE01:i-786a3A8B5C0d92eF4", "invokedBy": "ssm.amazonaws.com", "sessionContext": {"attributes": {"creationDate": "2026-01-05T09:40:00Z", "mfaAuthenticated": "false"}, "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/initech-app-role", "principalId": "AROAINITECHAPPROLE01", "type": "Role", "userName": "initech-app-role"}}, "type": "AssumedRole"}}
""",
                ),
            ),
            (),
        ),
        Case(
            "instance credentials through the provider's NAT range",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "cn-north-1", "eventCategory": "Management", "eventID": "c2d3e4f5-a6b7-4c8d-9e9f-0a1b2c3d4e5f", "eventName": "DescribeInstances", "eventSource": "ec2.amazonaws.com", "eventTime": "2026-01-05T10:09:00Z", "eventType": "AwsApiCall", "eventVersion": "1.09", "managementEvent": true, "readOnly": true, "recipientAccountId": "017622104382", "requestID": "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f6a", "requestParameters": {"filterSet": {}, "instancesSet": {}}, "responseElements": null, "sourceIPAddress": "52.80.14.9", "userAgent": "[aws-cli/2.15.30]", "userIdentity": {"accessKeyId": "ASIAINITECHAPP1SESS1", "accountId": "017622104382", "arn": "arn:aws:sts::017622104382:assumed-role/initech-app-role/i-786a3A8B5C0d92eF4", "principalId": "AROAINITECHAPPROLE01:i-786a3A8B5C0d92eF4", "sessionContext": {"attributes": {"creationDate": "2026-01-05T09:40:00Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "2.0", "sessionIssuer": {"accountId": "017622104382", "arn": "arn:aws:iam::017622104382:role/initech-app-role", "principalId": "AROAINITECHAPPROLE01", "type": "Role", "userName": "initech-app-role"}}, "type": "AssumedRole"}}
""",
                ),
            ),
            (),
            settings={"trusted_cidrs": ["52.80.0.0/16"]},
        ),
    )
