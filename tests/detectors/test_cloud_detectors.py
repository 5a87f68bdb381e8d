"""cross-tenant-sharing and cross-tenant-credential-use beyond their cases: every Stratus Red Team
sample file whole, settings, deduplication, and the judgements cases cannot show."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fenghuo.detectors.base import Case, Detector, Expect, Records
from fenghuo.detectors.cloud import is_service_source, principal_key
from fenghuo.detectors.rules.cross_tenant_credential_use import (
    CrossTenantCredentialUse,
    _networks,
)
from fenghuo.detectors.rules.cross_tenant_sharing import CrossTenantSharing
from fenghuo.detectors.testing import case_problems, run_case
from fenghuo.errors import ConfigError
from fenghuo.model import Actor
from fenghuo.model.alert import Alert, Severity

H, C, M = Severity.HIGH, Severity.CRITICAL, Severity.MEDIUM

# Stratus file stem -> the alerts each detector must raise on the whole file: (severity, tenant).
SAMPLE_ALERTS: dict[str, dict[str, list[tuple[Severity, str]]]] = {
    "exfiltration.ec2-share-ebs-snapshot": {"sharing": [(H, "umbrella")], "credentials": []},
    "exfiltration.ec2-share-ami": {"sharing": [(H, "initech")], "credentials": []},
    "exfiltration.rds-share-snapshot": {"sharing": [(H, "umbrella")], "credentials": []},
    "persistence.iam-backdoor-role": {"sharing": [(H, "hooli")], "credentials": []},
    "persistence.lambda-backdoor-function": {"sharing": [(C, "hooli")], "credentials": []},
    "defense-evasion.cloudtrail-stop": {"sharing": [], "credentials": []},
    "credential-access.ec2-steal-instance-credentials": {
        "sharing": [],
        "credentials": [(H, "initech")],
    },
}
DETECTORS: dict[str, Detector] = {
    "sharing": CrossTenantSharing(),
    "credentials": CrossTenantCredentialUse(),
}


def _run(detector: Detector, text: str, settings: dict[str, Any] | None = None) -> list[Alert]:
    case = Case("test", (Records("cloudtrail", text),), (), settings or {})
    return run_case(detector, case)


def _lines(*records: dict[str, Any]) -> str:
    return "\n".join(json.dumps(r) for r in records)


@pytest.mark.parametrize("stem", sorted(SAMPLE_ALERTS))
@pytest.mark.parametrize("which", sorted(DETECTORS))
def test_stratus_samples(samples: Path, stem: str, which: str) -> None:
    text = (samples / "cloudtrail" / f"stratus-aws.{stem}.json").read_text(encoding="utf-8")
    alerts = _run(DETECTORS[which], text)
    expected = [Expect(severity, tenant) for severity, tenant in SAMPLE_ALERTS[stem][which]]
    case = Case(stem, (), tuple(expected))
    assert case_problems(case, alerts) == []
    for alert in alerts:
        assert alert.actor_tenant_id is None  # the callers are the owners' own principals
        assert alert.host_id is None


# --- cross-tenant-sharing -------------------------------------------------------------------


def _snapshot_share(*add: str, remove: tuple[str, ...] = (), account: str = "756680937392") -> str:
    record = {
        "eventVersion": "1.09",
        "eventTime": "2026-01-05T10:00:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "ModifySnapshotAttribute",
        "awsRegion": "cn-north-1",
        "eventID": "11111111-2222-4333-8444-555555555555",
        "recipientAccountId": account,
        "sourceIPAddress": "198.51.100.20",
        "userIdentity": {
            "type": "IAMUser",
            "accountId": account,
            "arn": f"arn:aws:iam::{account}:user/ops",
            "userName": "ops",
            "accessKeyId": "AKIAOPS0000000000001",
        },
        "requestParameters": {
            "snapshotId": "snap-0123456789abcdef0",
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "createVolumePermission": {
                "add": {"items": [{"userId": a} for a in add]},
                "remove": {"items": [{"userId": a} for a in remove]},
            },
        },
        "responseElements": {"_return": True},
    }
    return _lines(record)


def test_one_alert_per_foreign_grantee_none_for_the_tenants_own() -> None:
    text = _snapshot_share("846424999548", "503161813013", "098797384747", "424242424242")
    alerts = _run(CrossTenantSharing(), text)
    grantees = sorted((a.details["grantee"], a.details["exposure"]) for a in alerts)
    assert grantees == [
        ("098797384747", "external"),
        ("424242424242", "external"),
        ("503161813013", "tenant"),
    ]
    hooli = next(a for a in alerts if a.details["grantee_tenant"] == "hooli")
    assert {("tenant", "hooli"), ("account", "503161813013")} <= {
        (e.type, e.id) for e in hooli.entities
    }
    assert hooli.details["technique"] == "T1537"
    assert len({a.id for a in alerts}) == 3


def test_allowed_accounts_are_not_alerts() -> None:
    text = _snapshot_share("098797384747", "424242424242")
    alerts = _run(CrossTenantSharing(), text, {"allowed_accounts": ["424242424242"]})
    assert [a.details["grantee"] for a in alerts] == ["098797384747"]


def test_a_mixed_add_and_remove_alerts_on_the_add_only() -> None:
    text = _snapshot_share("098797384747", remove=("424242424242",))
    alerts = _run(CrossTenantSharing(), text)
    assert [a.details["grantee"] for a in alerts] == ["098797384747"]


def test_resources_of_accounts_no_tenant_owns_are_not_ours() -> None:
    assert _run(CrossTenantSharing(), _snapshot_share("*", account="424242424242")) == []


def test_a_trust_policy_backdoor_is_labelled_account_manipulation(samples: Path) -> None:
    path = samples / "cloudtrail" / "stratus-aws.persistence.iam-backdoor-role.json"
    (alert,) = _run(CrossTenantSharing(), path.read_text(encoding="utf-8"))
    assert alert.details["technique"] == "T1098.003"
    assert alert.details["grantee"] == "193672423079"
    assert alert.technique == "T1537"


def test_a_grant_to_a_canonical_user_is_medium() -> None:
    record = {
        "eventVersion": "1.09",
        "eventTime": "2026-01-05T10:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "PutBucketAcl",
        "awsRegion": "cn-north-1",
        "eventID": "21111111-2222-4333-8444-555555555555",
        "recipientAccountId": "222222222222",
        "sourceIPAddress": "198.51.100.20",
        "userIdentity": {
            "type": "IAMUser",
            "accountId": "222222222222",
            "arn": "arn:aws:iam::222222222222:user/ops",
            "userName": "ops",
        },
        "requestParameters": {
            "bucketName": "globex-logs",
            "AccessControlPolicy": {
                "Owner": {"ID": "aaaa0000"},
                "AccessControlList": {
                    "Grant": [
                        {"Grantee": {"ID": "aaaa0000"}, "Permission": "FULL_CONTROL"},
                        {"Grantee": {"ID": "bbbb1111"}, "Permission": "READ"},
                    ]
                },
            },
        },
        "responseElements": None,
    }
    (alert,) = _run(CrossTenantSharing(), _lines(record))
    assert (alert.severity, alert.tenant_id) == (M, "globex")
    assert alert.details["exposure"] == "unknown-principal"


# --- cross-tenant-credential-use -------------------------------------------------------------


def _instance_call(
    ip: str,
    *,
    session: str = "i-786a3A8B5C0d92eF4",
    account: str = "017622104382",
    event_id: str = "31111111-2222-4333-8444-555555555555",
    at: str = "2026-01-05T10:00:00Z",
) -> dict[str, Any]:
    return {
        "eventVersion": "1.08",
        "eventTime": at,
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "cn-north-1",
        "eventID": event_id,
        "recipientAccountId": account,
        "sourceIPAddress": ip,
        "userIdentity": {
            "type": "AssumedRole",
            "accountId": account,
            "arn": f"arn:aws:sts::{account}:assumed-role/app-role/{session}",
            "principalId": f"AROAAPPROLE000000001:{session}",
            "accessKeyId": "ASIAAPPROLE000000001",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "accountId": account,
                    "arn": f"arn:aws:iam::{account}:role/app-role",
                    "userName": "app-role",
                }
            },
        },
    }


def test_calls_from_one_address_merge_another_address_is_another_alert() -> None:
    text = _lines(
        _instance_call("18.236.253.47", event_id="a1", at="2026-01-05T10:00:00Z"),
        _instance_call("18.236.253.47", event_id="a2", at="2026-01-05T10:05:00Z"),
        _instance_call("203.0.113.7", event_id="a3", at="2026-01-05T10:06:00Z"),
        _instance_call("10.3.0.15", event_id="a4", at="2026-01-05T10:07:00Z"),
    )
    alerts = _run(CrossTenantCredentialUse(), text)
    by_ip = {a.details["source_ip"]: a for a in alerts}
    assert sorted(by_ip) == ["18.236.253.47", "203.0.113.7"]
    assert by_ip["18.236.253.47"].evidence_count == 2
    assert by_ip["18.236.253.47"].vm_id == "initech-app-1"
    assert by_ip["18.236.253.47"].details["guardduty_equivalent"] == (
        "InstanceCredentialExfiltration.OutsideAWS"
    )
    assert by_ip["18.236.253.47"].details["technique"] == "T1552.005"


def test_cross_tenant_instance_credentials_name_both_vms() -> None:
    (alert,) = _run(CrossTenantCredentialUse(), _lines(_instance_call("10.1.0.11")))
    assert (alert.severity, alert.tenant_id, alert.actor_tenant_id) == (C, "initech", "acme")
    assert alert.details["source_vm"] == "acme-web-1"
    assert alert.details["guardduty_equivalent"] == "InstanceCredentialExfiltration.InsideAWS"
    assert {("vm", "acme-web-1"), ("vm", "initech-app-1"), ("host", "hv-01")} <= {
        (e.type, e.id) for e in alert.entities
    }


def test_an_instance_unknown_to_the_inventory_used_from_outside() -> None:
    call = _instance_call("18.236.253.47", session="i-0feedfacecafe0001")
    (alert,) = _run(CrossTenantCredentialUse(), _lines(call))
    assert (alert.severity, alert.tenant_id, alert.vm_id) == (H, "initech", None)
    assert alert.confidence == 0.6


def test_an_instance_unknown_to_the_inventory_inside_its_tenant_is_fine() -> None:
    call = _instance_call("10.3.0.99", session="i-0feedfacecafe0001")
    assert _run(CrossTenantCredentialUse(), _lines(call)) == []


def test_a_role_session_from_another_tenant_is_high_not_critical() -> None:
    call = _instance_call("10.2.0.21", session="etl-nightly")
    (alert,) = _run(CrossTenantCredentialUse(), _lines(call))
    assert (alert.severity, alert.tenant_id, alert.actor_tenant_id) == (H, "initech", "globex")


def test_a_provider_service_address_is_not_the_instances() -> None:
    (alert,) = _run(CrossTenantCredentialUse(), _lines(_instance_call("10.255.0.2")))
    assert alert.severity == H
    assert "provider service dns" in alert.summary


def test_trusted_cidrs_must_be_networks() -> None:
    with pytest.raises(ConfigError, match="trusted_cidrs"):
        _networks(("10.0.0.0/8", "not-a-network"))


# --- shared helpers ----------------------------------------------------------------------------


def test_service_sources_and_principal_keys() -> None:
    assert is_service_source("ec2.amazonaws.com")
    assert is_service_source("AWS Internal")
    assert not is_service_source("225.178.039.250")
    assert not is_service_source(None)
    role = Actor(account_id="111111111111", role_name="app", session_name="i-0abc")
    assert principal_key(role) == "arn:aws:iam::111111111111:role/app"
    user = Actor(arn="arn:aws:iam::111111111111:user/bob", account_id="111111111111")
    assert principal_key(user) == "arn:aws:iam::111111111111:user/bob"
