"""audit-logging-tampering: control-plane calls that blind the provider's and the tenant's audit.

An intruder holding a tenant's cloud credentials (stolen keys, an instance role read through the
metadata service, a co-tenant that escaped its VM) turns off what would record the rest of the
intrusion: it stops or deletes the CloudTrail trail, stops the AWS Config recorder, deletes the
GuardDuty detector or the CloudWatch Logs group the trail delivers to (ATT&CK T1562.008, Impair
Defenses: Disable or Modify Cloud Logs; GuardDuty's Stealth:IAMUser/CloudTrailLoggingDisabled,
Elastic's "AWS CloudTrail Log Suspended/Deleted/Updated"). In a multi-tenant cloud that trail is
also the provider's only record of what the tenant's credentials did to shared infrastructure.

Tiers, judged on the call's name alone:

- stop or delete (StopLogging, DeleteTrail, CloudTrail Lake stores, GuardDuty DeleteDetector,
  Config Stop/DeleteConfigurationRecorder, DeleteDeliveryChannel, DeleteLogGroup of a trail's
  log group): HIGH when it succeeded;
- a weakening that needs no parameters to judge (GuardDuty member leaving its administrator
  account, which hides its findings from the central/provider view): MEDIUM;
- a reconfiguration that *may* weaken (UpdateTrail, PutEventSelectors, PutInsightSelectors,
  GuardDuty UpdateDetector): LOW. The `ApiCall` model carries the resources a call names but
  not its request parameters, so `isMultiRegionTrail: false`, a new S3 bucket, event selectors
  without management events or `enable: false` cannot be told from a harmless KMS key or SNS
  topic change here; the analyst checks the trail (runbook). Raising them to MEDIUM on every
  routine Terraform apply would be noise; judging them needs the parser to carry those fields.
- a stop/delete/weakening that failed (AccessDenied, not found): LOW. Nothing was blinded, but
  someone tried with credentials not allowed to: often stolen ones probing their reach. A failed
  reconfiguration is not reported.

The victim is the tenant owning the trail/detector/recorder's account; the actor tenant is the
tenant whose credentials made the call, when it is another one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.cloud import actor_label, credential_tenant, resource_entity
from fenghuo.detectors.taxonomy import ABNORMAL_BEHAVIOUR, CYBER_ATTACK
from fenghuo.model import ApiCall, Event, Resource
from fenghuo.model.alert import Entity, Severity

_CLOUDTRAIL = "cloudtrail.amazonaws.com"
_GUARDDUTY = "guardduty.amazonaws.com"
_CONFIG = "config.amazonaws.com"
_LOGS = "logs.amazonaws.com"

# Log group names CloudTrail's console and documentation give a trail's CloudWatch Logs group
# (`aws-cloudtrail-logs-<account>-<suffix>`, `CloudTrail/DefaultLogGroup`); others are named in
# the setting `trail_log_groups`.
_TRAIL_LOG_GROUP = re.compile(r"cloudtrail", re.IGNORECASE)


Tier = Literal["stop", "weaken", "reconfigure"]


@dataclass(frozen=True)
class Tampering:
    """What one kind of call does to audit logging."""

    tier: Tier
    done: str  # "stopped logging of", or with "{}" where the thing goes
    tried: str  # "stop logging of"
    what: str  # "CloudTrail trail"
    resource_type: str  # the parser's resource type for the thing, for the dedup key
    title: str


_STOP: Final = "stop"
_WEAKEN: Final = "weaken"
_RECONFIGURE: Final = "reconfigure"

_CALLS: dict[tuple[str, str], Tampering] = {
    (_CLOUDTRAIL, "StopLogging"): Tampering(
        _STOP,
        "stopped logging of",
        "stop logging of",
        "CloudTrail trail",
        "cloudtrail:trail",
        "CloudTrail logging stopped",
    ),
    (_CLOUDTRAIL, "DeleteTrail"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "CloudTrail trail",
        "cloudtrail:trail",
        "CloudTrail trail deleted",
    ),
    (_CLOUDTRAIL, "DeleteEventDataStore"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "CloudTrail Lake event data store",
        "cloudtrail:eventdatastore",
        "CloudTrail Lake event data store deleted",
    ),
    (_CLOUDTRAIL, "StopEventDataStoreIngestion"): Tampering(
        _STOP,
        "stopped ingestion of",
        "stop ingestion of",
        "CloudTrail Lake event data store",
        "cloudtrail:eventdatastore",
        "CloudTrail Lake ingestion stopped",
    ),
    (_CLOUDTRAIL, "UpdateTrail"): Tampering(
        _RECONFIGURE,
        "reconfigured",
        "reconfigure",
        "CloudTrail trail",
        "cloudtrail:trail",
        "CloudTrail trail reconfigured",
    ),
    (_CLOUDTRAIL, "PutEventSelectors"): Tampering(
        _RECONFIGURE,
        "changed the event selectors of",
        "change the event selectors of",
        "CloudTrail trail",
        "cloudtrail:trail",
        "CloudTrail event selectors changed",
    ),
    (_CLOUDTRAIL, "PutInsightSelectors"): Tampering(
        _RECONFIGURE,
        "changed the Insights selectors of",
        "change the Insights selectors of",
        "CloudTrail trail",
        "cloudtrail:trail",
        "CloudTrail Insights selectors changed",
    ),
    (_GUARDDUTY, "DeleteDetector"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "GuardDuty detector",
        "guardduty:detector",
        "GuardDuty detector deleted",
    ),
    (_GUARDDUTY, "UpdateDetector"): Tampering(
        _RECONFIGURE,
        "reconfigured",
        "reconfigure",
        "GuardDuty detector",
        "guardduty:detector",
        "GuardDuty detector reconfigured",
    ),
    (_GUARDDUTY, "DisassociateFromAdministratorAccount"): Tampering(
        _WEAKEN,
        "detached {} from its administrator account",
        "detach {} from its administrator account",
        "GuardDuty detector",
        "guardduty:detector",
        "GuardDuty member detached from its administrator",
    ),
    (_GUARDDUTY, "DisassociateFromMasterAccount"): Tampering(
        _WEAKEN,
        "detached {} from its administrator account",
        "detach {} from its administrator account",
        "GuardDuty detector",
        "guardduty:detector",
        "GuardDuty member detached from its administrator",
    ),
    (_CONFIG, "StopConfigurationRecorder"): Tampering(
        _STOP,
        "stopped",
        "stop",
        "AWS Config configuration recorder",
        "config:configuration-recorder",
        "AWS Config recorder stopped",
    ),
    (_CONFIG, "DeleteConfigurationRecorder"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "AWS Config configuration recorder",
        "config:configuration-recorder",
        "AWS Config recorder deleted",
    ),
    (_CONFIG, "DeleteServiceLinkedConfigurationRecorder"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "AWS Config service-linked configuration recorder",
        "config:configuration-recorder",
        "AWS Config recorder deleted",
    ),
    (_CONFIG, "DeleteDeliveryChannel"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "AWS Config delivery channel",
        "config:delivery-channel",
        "AWS Config delivery channel deleted",
    ),
    (_LOGS, "DeleteLogGroup"): Tampering(
        _STOP,
        "deleted",
        "delete",
        "CloudTrail log group",
        "logs:log-group",
        "CloudTrail log group deleted",
    ),
}

# tier -> (severity, confidence) of a successful call; a failed stop or weakening is LOW.
_TIERS: dict[Tier, tuple[Severity, float]] = {
    _STOP: (Severity.HIGH, 0.9),
    _WEAKEN: (Severity.MEDIUM, 0.7),
    _RECONFIGURE: (Severity.LOW, 0.4),
}
_FAILED = (Severity.LOW, 0.5)


def _target(call: ApiCall, kind: Tampering) -> Resource | None:
    """The trail, detector, recorder or log group the call names (the parser's resources)."""
    return next((r for r in call.resources if r.type == kind.resource_type), None)


def _is_trail_log_group(name: str, configured: Iterable[str]) -> bool:
    return bool(_TRAIL_LOG_GROUP.search(name)) or name in {str(g) for g in configured}


class AuditLoggingTampering(Detector):
    meta = DetectorMeta(
        id="audit-logging-tampering",
        title="Cloud audit logging stopped, deleted or weakened",
        severity=Severity.HIGH,
        confidence=0.9,
        technique="T1562.008",
        # GB/T 20986-2023 02 网络攻击事件 (cyber attack): switching off the audit trail is the
        # defense-evasion step of an intrusion (ATT&CK TA0005), done with the account's
        # credentials to hide what follows; it is neither a data incident itself (03: nothing
        # is read or leaked by it) nor mere abnormal behaviour (08). An authorised operator
        # acting against policy makes it 06 (违规操作), which only the investigation can tell:
        # the incident is reclassified then. Findings that blind nothing (a denied attempt, an
        # unjudged reconfiguration) carry 08 异常行为事件 instead.
        category=CYBER_ATTACK,
        description=(
            "A successful control-plane call stopped or deleted an audit source of a tenant's "
            "account: CloudTrail StopLogging/DeleteTrail (and CloudTrail Lake stores), GuardDuty "
            "DeleteDetector, AWS Config Stop/DeleteConfigurationRecorder or "
            "DeleteDeliveryChannel, or DeleteLogGroup of a trail's CloudWatch Logs group (high); "
            "a GuardDuty member left its administrator (medium). Trail, selector and detector "
            "updates whose effect the event does not show, and denied stop/delete attempts, are "
            "low."
        ),
        runbook=(
            "1. Restore visibility first: StartLogging on the trail (or recreate it from the "
            "tenant's or provider's baseline), StartConfigurationRecorder, recreate the GuardDuty "
            "detector and re-associate it with the administrator account. "
            "2. Identify the caller (actor, access key, source address, user agent) and whether "
            "the change was a planned one (change ticket, the tenant's IaC pipeline); if not, "
            "treat the credentials as compromised: deactivate the key or revoke the role's "
            "sessions. "
            "3. For UpdateTrail/PutEventSelectors/UpdateDetector (low): read the configuration "
            "now (GetTrail, GetEventSelectors, GetTrailStatus, GetDetector) and compare with the "
            "baseline: multi-region off, another S3 bucket (especially another account's), log "
            "file validation off, management events excluded, detector disabled all mean "
            "tampering: escalate as a high. "
            "4. The gap is blind: reconstruct it from what the tenant could not switch off (the "
            "provider's organisation trail, VPC flow logs, hypervisor telemetry) and look for the "
            "intrusion it was meant to hide: new keys or roles, sharing, instance launches. "
            "5. Caller of another tenant (actor tenant set): open an incident for both tenants."
        ),
        dedup_window=dt.timedelta(hours=1),
    )
    inputs = (ApiCall,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, ApiCall) or (event.service, event.action) not in _CALLS:
            return None
        return event.account_id or event.tenant_id or "?"

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, ApiCall)
        kind = _CALLS[(event.service, event.action)]
        failed = event.outcome != "success"
        if failed and kind.tier == _RECONFIGURE:
            return  # a refused reconfiguration changed nothing and says little
        target = _target(event, kind)
        if kind.resource_type == "logs:log-group" and (
            target is None
            or not _is_trail_log_group(target.id, ctx.setting("trail_log_groups", ()))
        ):
            return  # an application's log group: not the audit trail
        yield self._finding(event, kind, target, failed, ctx)

    def _finding(
        self, call: ApiCall, kind: Tampering, target: Resource | None, failed: bool, ctx: Context
    ) -> Finding:
        index = ctx.inventory
        actor = call.actor
        owner_account = (target.account_id if target else None) or call.account_id
        owner = index.tenant_of_account(owner_account) or call.tenant_id
        caller_tenant = credential_tenant(index, call)
        actor_tenant = caller_tenant if caller_tenant != owner else None

        caller = actor_label(actor)
        if actor.account_id and actor.account_id != owner_account:
            caller += f" of account {actor.account_id}"
        if actor_tenant is not None:
            caller += f" (tenant {actor_tenant})"
        # Unnamed (a denied call's parameters are often null; Config's recorder is not a
        # resource the parser names): one recorder per region, any number of trails.
        article = "the " if kind.resource_type.startswith("config:") else "a "
        thing = f"{kind.what} {target.id}" if target else f"{article}{kind.what}"
        where = f"account {owner_account or '?'}"
        where += f" of tenant {owner}" if owner else " (no tenant: the provider's or unknown)"
        if call.region:
            where += f", {call.region}"
        origin = call.source_ip or call.source or "an unknown address"
        if actor.invoked_by:
            origin += f" via {actor.invoked_by}"
        if failed:
            severity, confidence = _FAILED
            verb = f"tried to {kind.tried}"
            outcome = f"; refused: {call.error_code or 'error'}"
            title = f"Attempt denied: {kind.title}"
        else:
            severity, confidence = _TIERS[kind.tier]
            verb = kind.done
            outcome = ""
            title = kind.title
        if kind.tier == _RECONFIGURE:
            outcome += "; whether it weakened logging is not in the event: check the configuration"
        act = verb.format(thing) if "{}" in verb else f"{verb} {thing}"
        blinding = not failed and kind.tier != _RECONFIGURE

        entities = [Entity("account", owner_account)] if owner_account else []
        if target is not None:
            entities.append(resource_entity(target))
        if actor.account_id:
            entities.append(Entity("account", actor.account_id))
        if call.source_ip:
            entities.append(Entity("ip", call.source_ip))
        return Finding(
            summary=f"{caller} {act} in {where} ({call.action} from {origin}){outcome}",
            title=title,
            tenant_id=owner,
            actor_tenant_id=actor_tenant,
            first_seen=call.event_time,
            last_seen=call.event_time,
            evidence=(call.id,),
            entities=tuple(entities),
            severity=severity,
            confidence=confidence,
            category=None if blinding else ABNORMAL_BEHAVIOUR,
            dedup_key=(
                f"{owner_account or '?'}|{call.region or '?'}|{kind.resource_type}|"
                f"{target.id if target else '?'}"
            ),
            details={
                "action": call.action,
                "service": call.service,
                "tier": kind.tier,
                "outcome": call.outcome,
                "error_code": call.error_code,
                "resource": (
                    {"type": target.type, "id": target.id, "arn": target.arn} if target else None
                ),
                "owner_account": owner_account,
                "caller": actor.arn,
                "access_key_id": actor.access_key_id,
                "caller_tenant": caller_tenant,
                "source_ip": call.source_ip or call.source,
                "user_agent": call.user_agent,
                "guardduty_equivalent": (
                    "Stealth:IAMUser/CloudTrailLoggingDisabled"
                    if not failed and call.action in ("StopLogging", "DeleteTrail")
                    else None
                ),
            },
        )

    cases = (
        Case(
            "stratus cloudtrail-stop: initech's trail stopped from the internet",
            (
                Records(
                    "cloudtrail",
                    """
{"awsRegion": "apiso-centralnorth-2r", "eventCategory": "Management", "eventID": "10163ed2-2253-469d-a5ee-cbc6651f8934", "eventName": "StopLogging", "eventSource": "cloudtrail.amazonaws.com", "eventTime": "2024-07-31T13:06:24Z", "eventType": "AwsApiCall", "eventVersion": "1.10", "managementEvent": true, "readOnly": false, "recipientAccountId": "143434273843", "requestID": "14c891b6-11b5-4787-ae97-64a974977078", "requestParameters": {"name": "stratus-red-team-ct-stop-trail-buykxbqejv"}, "responseElements": null, "sourceIPAddress": "86.245.153.234", "tlsDetails": {"cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "cloudtrail.apiso-centralnorth-2r.amazonaws.com", "tlsVersion": "TLSv1.3"}, "userAgent": "stratus-red-team_c97089f1-1ae3-4ecc-b006-f5e8fd0f2571", "userIdentity": {"accessKeyId": "AKIAGGWFBBHBE7D3M9WI", "accountId": "143434273843", "arn": "arn:aws:iam::143434273843:user/christophe", "principalId": "AIDAOC1SYDVN0AF0FMMR", "type": "IAMUser", "userName": "christophe"}}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "initech",
                    summary_contains=(
                        "IAM user christophe stopped logging of CloudTrail trail "
                        "stratus-red-team-ct-stop-trail-buykxbqejv in account 143434273843 of "
                        "tenant initech, apiso-centralnorth-2r (StopLogging from 86.245.153.234)"
                    ),
                ),
            ),
        ),
        Case(
            "globex's organisation trail deleted by a role session",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "principalId": "AROAGLOBEXADMIN00001:mallory", "arn": "arn:aws:sts::222222222222:assumed-role/OrgAdmin/mallory", "accountId": "222222222222", "accessKeyId": "ASIAGLOBEXADMIN00001", "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAGLOBEXADMIN00001", "arn": "arn:aws:iam::222222222222:role/OrgAdmin", "accountId": "222222222222", "userName": "OrgAdmin"}, "attributes": {"creationDate": "2026-01-05T09:58:12Z", "mfaAuthenticated": "false"}}}, "eventTime": "2026-01-05T10:02:41Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "DeleteTrail", "awsRegion": "cn-north-1", "sourceIPAddress": "198.51.100.77", "userAgent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/cloudtrail.delete-trail", "requestParameters": {"name": "arn:aws-cn:cloudtrail:cn-north-1:222222222222:trail/globex-org-trail"}, "responseElements": null, "requestID": "5d0f4c2e-8a1b-4e7d-9c3f-2b6a7e8d9f01", "eventID": "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "222222222222", "eventCategory": "Management", "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "cloudtrail.cn-north-1.amazonaws.com.cn"}}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "globex",
                    summary_contains=(
                        "role OrgAdmin/mallory deleted CloudTrail trail globex-org-trail in account "
                        "222222222222 of tenant globex"
                    ),
                ),
            ),
        ),
        Case(
            "acme's credentials delete globex's GuardDuty detector",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDA6ON6E4XEGIT0ACME", "arn": "arn:aws:iam::111111111111:user/ops", "accountId": "111111111111", "accessKeyId": "AKIAI44QH8DHBEXAMPLE", "userName": "ops"}, "eventTime": "2026-01-05T10:07:13Z", "eventSource": "guardduty.amazonaws.com", "eventName": "DeleteDetector", "awsRegion": "cn-north-1", "sourceIPAddress": "10.1.0.11", "userAgent": "[aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off command/guardduty.delete-detector]", "requestParameters": {"detectorId": "12abc34d567e8fa901bc2d34e56789f0"}, "responseElements": null, "requestID": "0e1d2c3b-4a59-4687-b7c6-d5e4f3a2b1c0", "eventID": "c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "222222222222", "eventCategory": "Management"}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "globex",
                    actor_tenant_id="acme",
                    summary_contains=(
                        "IAM user ops of account 111111111111 (tenant acme) deleted GuardDuty "
                        "detector 12abc34d567e8fa901bc2d34e56789f0 in account 222222222222 of "
                        "tenant globex"
                    ),
                ),
            ),
        ),
        Case(
            "umbrella's Config recorder stopped and the trail's log group deleted",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAUMBRELLABACKUP01", "arn": "arn:aws:iam::756680937392:user/backup-bot", "accountId": "756680937392", "accessKeyId": "AKIAUMBRELLABACKUP01", "userName": "backup-bot"}, "eventTime": "2026-01-05T11:20:05Z", "eventSource": "config.amazonaws.com", "eventName": "StopConfigurationRecorder", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.45", "userAgent": "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69", "requestParameters": {"configurationRecorderName": "default"}, "responseElements": null, "requestID": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "eventID": "d3e4f5a6-b7c8-4d9e-8f0a-1b2c3d4e5f6a", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "756680937392", "eventCategory": "Management"}
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAUMBRELLABACKUP01", "arn": "arn:aws:iam::756680937392:user/backup-bot", "accountId": "756680937392", "accessKeyId": "AKIAUMBRELLABACKUP01", "userName": "backup-bot"}, "eventTime": "2026-01-05T11:20:31Z", "eventSource": "logs.amazonaws.com", "eventName": "DeleteLogGroup", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.45", "userAgent": "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69", "requestParameters": {"logGroupName": "aws-cloudtrail-logs-756680937392-7c1e2f3a"}, "responseElements": null, "requestID": "8e7d6c5b-4a39-4281-9f60-5e4d3c2b1a09", "eventID": "e4f5a6b7-c8d9-4e0f-9a1b-2c3d4e5f6a7b", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "756680937392", "eventCategory": "Management"}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "umbrella",
                    summary_contains=(
                        "stopped the AWS Config configuration recorder in account 756680937392"
                    ),
                ),
                Expect(
                    Severity.HIGH,
                    "umbrella",
                    summary_contains=(
                        "deleted CloudTrail log group aws-cloudtrail-logs-756680937392-7c1e2f3a"
                    ),
                ),
            ),
        ),
        Case(
            "a log group the operator names as a trail's, and a GuardDuty member leaving",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAHOOLIOPS00000001", "arn": "arn:aws:iam::751203476945:user/ops", "accountId": "751203476945", "accessKeyId": "AKIAHOOLIOPS00000001", "userName": "ops"}, "eventTime": "2026-01-05T12:10:00Z", "eventSource": "logs.amazonaws.com", "eventName": "DeleteLogGroup", "awsRegion": "cn-north-1", "sourceIPAddress": "192.0.2.44", "userAgent": "aws-cli/2.15.30", "requestParameters": {"logGroupName": "hooli-audit"}, "responseElements": null, "requestID": "92a3b4c5-d6e7-4f8a-9b0c-1d2e3f4a5b6c", "eventID": "b3c4d5e6-f7a8-4b9c-8d0e-1f2a3b4c5d6e", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "751203476945", "eventCategory": "Management"}
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAHOOLIOPS00000001", "arn": "arn:aws:iam::751203476945:user/ops", "accountId": "751203476945", "accessKeyId": "AKIAHOOLIOPS00000001", "userName": "ops"}, "eventTime": "2026-01-05T12:11:00Z", "eventSource": "guardduty.amazonaws.com", "eventName": "DisassociateFromAdministratorAccount", "awsRegion": "cn-north-1", "sourceIPAddress": "192.0.2.44", "userAgent": "aws-cli/2.15.30", "requestParameters": {"detectorId": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}, "responseElements": null, "requestID": "a3b4c5d6-e7f8-4a9b-8c1d-2e3f4a5b6c7d", "eventID": "c4d5e6f7-a8b9-4c0d-9e1f-2a3b4c5d6e7f", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "751203476945", "eventCategory": "Management"}
""",
                ),
            ),
            (
                Expect(
                    Severity.HIGH,
                    "hooli",
                    summary_contains="deleted CloudTrail log group hooli-audit in account 751203476945",
                ),
                Expect(
                    Severity.MEDIUM,
                    "hooli",
                    summary_contains=(
                        "IAM user ops detached GuardDuty detector "
                        "a1b2c3d4e5f60718293a4b5c6d7e8f90 from its administrator account in "
                        "account 751203476945 of tenant hooli"
                    ),
                ),
            ),
            settings={"trail_log_groups": ["hooli-audit"]},
        ),
        Case(
            "a denied StopLogging is a low-severity attempt",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "principalId": "AROAACMEAPPROLE00001:i-0acme0000000001", "arn": "arn:aws:sts::111111111111:assumed-role/acme-web-role/i-0acme0000000001", "accountId": "111111111111", "accessKeyId": "ASIAACMEWEB000000001", "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAACMEAPPROLE00001", "arn": "arn:aws:iam::111111111111:role/acme-web-role", "accountId": "111111111111", "userName": "acme-web-role"}, "attributes": {"creationDate": "2026-01-05T09:00:00Z", "mfaAuthenticated": "false"}, "ec2RoleDelivery": "2.0"}}, "eventTime": "2026-01-05T10:15:09Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging", "awsRegion": "cn-north-1", "sourceIPAddress": "10.1.0.11", "userAgent": "aws-cli/2.15.30", "errorCode": "AccessDenied", "errorMessage": "User: arn:aws:sts::111111111111:assumed-role/acme-web-role/i-0acme0000000001 is not authorized to perform: cloudtrail:StopLogging on resource: arn:aws-cn:cloudtrail:cn-north-1:111111111111:trail/acme-trail because no identity-based policy allows the cloudtrail:StopLogging action", "requestParameters": null, "responseElements": null, "requestID": "1a2b3c4d-5e6f-4789-8abc-def012345678", "eventID": "f5a6b7c8-d9e0-4f1a-8b2c-3d4e5f6a7b8c", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111111111111", "eventCategory": "Management"}
""",
                ),
            ),
            (
                Expect(
                    Severity.LOW,
                    "acme",
                    summary_contains=(
                        "role acme-web-role/i-0acme0000000001 tried to stop logging of a CloudTrail "
                        "trail in account 111111111111 of tenant acme"
                    ),
                ),
            ),
        ),
        Case(
            "an UpdateTrail is low: its effect is not in the event",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAINITECHTERRAFORM", "arn": "arn:aws:iam::017622104382:user/terraform", "accountId": "017622104382", "accessKeyId": "AKIAINITECHTERRAFORM", "userName": "terraform"}, "eventTime": "2026-01-05T10:40:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "UpdateTrail", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 terraform-provider-aws/5.42.0", "requestParameters": {"name": "initech-trail", "snsTopicName": "initech-trail-notifications"}, "responseElements": {"name": "initech-trail", "s3BucketName": "initech-cloudtrail-logs", "snsTopicName": "initech-trail-notifications", "snsTopicARN": "arn:aws-cn:sns:cn-north-1:017622104382:initech-trail-notifications", "includeGlobalServiceEvents": true, "isMultiRegionTrail": true, "trailARN": "arn:aws-cn:cloudtrail:cn-north-1:017622104382:trail/initech-trail", "logFileValidationEnabled": true, "isOrganizationTrail": false}, "requestID": "2b3c4d5e-6f70-4819-9abc-def012345679", "eventID": "a6b7c8d9-e0f1-4a2b-9c3d-4e5f6a7b8c9d", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "017622104382", "eventCategory": "Management"}
""",
                ),
            ),
            (
                Expect(
                    Severity.LOW,
                    "initech",
                    summary_contains="IAM user terraform reconfigured CloudTrail trail initech-trail",
                ),
            ),
        ),
        Case(
            "starting, creating and reading trails blinds nothing",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAINITECHTERRAFORM", "arn": "arn:aws:iam::017622104382:user/terraform", "accountId": "017622104382", "accessKeyId": "AKIAINITECHTERRAFORM", "userName": "terraform"}, "eventTime": "2026-01-05T10:30:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "CreateTrail", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 terraform-provider-aws/5.42.0", "requestParameters": {"name": "initech-trail", "s3BucketName": "initech-cloudtrail-logs", "includeGlobalServiceEvents": true, "isMultiRegionTrail": true, "enableLogFileValidation": true, "isOrganizationTrail": false}, "responseElements": {"name": "initech-trail", "s3BucketName": "initech-cloudtrail-logs", "includeGlobalServiceEvents": true, "isMultiRegionTrail": true, "trailARN": "arn:aws-cn:cloudtrail:cn-north-1:017622104382:trail/initech-trail", "logFileValidationEnabled": true, "isOrganizationTrail": false}, "requestID": "3c4d5e6f-7081-4a29-8bcd-ef0123456780", "eventID": "b7c8d9e0-f1a2-4b3c-8d4e-5f6a7b8c9d0e", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "017622104382", "eventCategory": "Management"}
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAINITECHTERRAFORM", "arn": "arn:aws:iam::017622104382:user/terraform", "accountId": "017622104382", "accessKeyId": "AKIAINITECHTERRAFORM", "userName": "terraform"}, "eventTime": "2026-01-05T10:30:02Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "StartLogging", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 terraform-provider-aws/5.42.0", "requestParameters": {"name": "arn:aws-cn:cloudtrail:cn-north-1:017622104382:trail/initech-trail"}, "responseElements": null, "requestID": "4d5e6f70-8192-4b3a-9cde-f01234567891", "eventID": "c8d9e0f1-a2b3-4c4d-9e5f-6a7b8c9d0e1f", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "017622104382", "eventCategory": "Management"}
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAINITECHTERRAFORM", "arn": "arn:aws:iam::017622104382:user/terraform", "accountId": "017622104382", "accessKeyId": "AKIAINITECHTERRAFORM", "userName": "terraform"}, "eventTime": "2026-01-05T10:30:04Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "DescribeTrails", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 terraform-provider-aws/5.42.0", "requestParameters": {"trailNameList": ["initech-trail"], "includeShadowTrails": false}, "responseElements": null, "requestID": "5e6f7081-92a3-4c4b-8def-012345678902", "eventID": "d9e0f1a2-b3c4-4d5e-8f6a-7b8c9d0e1f2a", "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "017622104382", "eventCategory": "Management"}
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAINITECHTERRAFORM", "arn": "arn:aws:iam::017622104382:user/terraform", "accountId": "017622104382", "accessKeyId": "AKIAINITECHTERRAFORM", "userName": "terraform"}, "eventTime": "2026-01-05T10:30:05Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "GetTrailStatus", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 terraform-provider-aws/5.42.0", "requestParameters": {"name": "initech-trail"}, "responseElements": null, "requestID": "6f708192-a3b4-4d5c-9ef0-123456789013", "eventID": "e0f1a2b3-c4d5-4e6f-9a7b-8c9d0e1f2a3b", "readOnly": true, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "017622104382", "eventCategory": "Management"}
""",
                ),
            ),
            (),
        ),
        Case(
            "a denied UpdateTrail and an application log group's deletion",
            (
                Records(
                    "cloudtrail",
                    """
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAGLOBEXREADONLY01", "arn": "arn:aws:iam::222222222222:user/auditor", "accountId": "222222222222", "accessKeyId": "AKIAGLOBEXREADONLY01", "userName": "auditor"}, "eventTime": "2026-01-05T10:50:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "UpdateTrail", "awsRegion": "cn-north-1", "sourceIPAddress": "198.51.100.20", "userAgent": "aws-cli/2.15.30", "errorCode": "AccessDenied", "errorMessage": "User: arn:aws:iam::222222222222:user/auditor is not authorized to perform: cloudtrail:UpdateTrail", "requestParameters": {"name": "globex-org-trail", "isMultiRegionTrail": false}, "responseElements": null, "requestID": "708192a3-b4c5-4e6d-8f01-23456789a024", "eventID": "f1a2b3c4-d5e6-4f7a-8b8c-9d0e1f2a3b4c", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "222222222222", "eventCategory": "Management"}
{"eventVersion": "1.09", "userIdentity": {"type": "IAMUser", "principalId": "AIDAGLOBEXDEPLOY0001", "arn": "arn:aws:iam::222222222222:user/deploy", "accountId": "222222222222", "accessKeyId": "AKIAGLOBEXDEPLOY0001", "userName": "deploy"}, "eventTime": "2026-01-05T10:55:00Z", "eventSource": "logs.amazonaws.com", "eventName": "DeleteLogGroup", "awsRegion": "cn-north-1", "sourceIPAddress": "203.0.113.7", "userAgent": "terraform-provider-aws/5.42.0", "requestParameters": {"logGroupName": "/aws/lambda/thumbnailer"}, "responseElements": null, "requestID": "8192a3b4-c5d6-4f7e-9012-3456789ab135", "eventID": "a2b3c4d5-e6f7-4a8b-9c9d-0e1f2a3b4c5d", "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "222222222222", "eventCategory": "Management"}
""",
                ),
            ),
            (),
        ),
    )
