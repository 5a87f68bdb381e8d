"""CloudTrail parser: real Stratus Red Team samples, the three input shapes, record errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from fenghuo.ingest.parsers import make_parser, parser_class
from fenghuo.ingest.parsers.base import ParseContext, ParseResult, RecordError
from fenghuo.ingest.parsers.cloudtrail import CloudTrailParser
from fenghuo.model import ApiCall, Grant, decode_event, encode_event, event_id
from tests.ingest.parsers.helpers import FIXED, errors, events_of, only, run

STRATUS = "cloudtrail/stratus-aws.{}.json"


def parse_text(text: str, source: str = "test.json") -> list[ParseResult]:
    """Every result of one parser over `text`, with a fixed ingest clock."""
    return run(CloudTrailParser(ParseContext(clock=lambda: FIXED)), text.splitlines(), source)


def record(source: str, name: str, params: object = None, **extra: Any) -> dict[str, Any]:
    """A minimal valid record in account 111111111111."""
    base: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventTime": "2024-08-01T12:00:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": f"id-{name}-{len(json.dumps(params))}",
        "recipientAccountId": "111111111111",
        "sourceIPAddress": "198.51.100.7",
        "userIdentity": {
            "type": "IAMUser",
            "accountId": "111111111111",
            "arn": "arn:aws:iam::111111111111:user/alice",
            "userName": "alice",
        },
        "requestParameters": params,
    }
    base.update(extra)
    return base


def one_event(rec: object) -> ApiCall:
    (event,) = only(parse_text(json.dumps(rec)), ApiCall)
    return event


def grants_of(rec: object) -> tuple[Grant, ...]:
    return one_event(rec).grants


def sample(samples: Path, name: str) -> tuple[list[ApiCall], list[RecordError]]:
    path = samples / STRATUS.format(name)
    results = parse_text(path.read_text(), str(path))
    return events_of(results, ApiCall), errors(results)


# --- samples --------------------------------------------------------------------------------


def test_registered() -> None:
    assert parser_class("cloudtrail") is CloudTrailParser
    assert isinstance(make_parser("cloudtrail"), CloudTrailParser)


def test_every_sample_parses_without_errors(samples: Path) -> None:
    files = sorted((samples / "cloudtrail").glob("stratus-*.json"))
    assert len(files) == 7
    for path in files:
        results = parse_text(path.read_text(), str(path))
        assert not errors(results), path
        assert len(events_of(results, ApiCall)) == len(json.loads(path.read_text())), path
        for event in events_of(results, ApiCall):
            assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    ("name", "resource", "grantee", "permission"),
    [
        (
            "exfiltration.ec2-share-ebs-snapshot",
            ("ec2:snapshot", "snap-041993b54a9b3af6f", "756680937392"),
            "098797384747",
            "createVolumePermission",
        ),
        (
            "exfiltration.ec2-share-ami",
            ("ec2:image", "ami-de1fbCab6ccB03e6D", "118238665043"),
            "846424999548",
            "launchPermission",
        ),
        (
            "exfiltration.rds-share-snapshot",
            ("rds:db-snapshot", "exfiltration", "171471557522"),
            "503161813013",
            "restore",
        ),
    ],
)
def test_sample_shared_with_foreign_account(
    samples: Path, name: str, resource: tuple[str, str, str], grantee: str, permission: str
) -> None:
    (event,), _ = sample(samples, name)
    (grant,) = event.grants
    assert (grant.resource.type, grant.resource.id, grant.resource.account_id) == resource
    assert grant.grantee_kind == "account"
    assert grant.grantee == grant.grantee_account_id == grantee
    assert grant.permission == permission
    assert not grant.revoke
    assert grant.resource in event.resources
    assert event.outcome == "success"


def test_sample_iam_backdoor_role(samples: Path) -> None:
    (event,), _ = sample(samples, "persistence.iam-backdoor-role")
    assert event.action == "UpdateAssumeRolePolicy"
    service, account = event.grants
    assert (service.grantee_kind, service.grantee) == ("service", "ec2.amazonaws.com")
    assert service.grantee_account_id is None
    assert (account.grantee_kind, account.grantee_account_id) == ("account", "193672423079")
    assert account.permission == "sts:AssumeRole"
    assert account.resource.type == "iam:role"
    assert account.resource.id == "stratus-red-team-backdoor-r-role"
    # 225.178.039.250 has a leading zero: not a valid address, kept as given.
    assert event.source_ip is None
    assert event.source == "225.178.039.250"


def test_sample_lambda_backdoor_function(samples: Path) -> None:
    (event,), _ = sample(samples, "persistence.lambda-backdoor-function")
    assert event.action == "AddPermission20150331v2"
    (grant,) = event.grants
    assert (grant.grantee_kind, grant.grantee, grant.grantee_account_id) == ("everyone", "*", None)
    assert grant.resource == event.resources[0]
    assert grant.resource.id == "stratus-red-team-backdoor-f-func"
    assert grant.permission == "lambda:InvokeFunction"


def test_sample_stolen_instance_credentials(samples: Path) -> None:
    events, _ = sample(samples, "credential-access.ec2-steal-instance-credentials")
    assert len(events) == 45
    assert not any(e.grants for e in events)
    assumed = [e for e in events if e.actor.type == "AssumedRole"]
    assert {e.action for e in assumed} == {"GetCallerIdentity", "DescribeInstances"}
    for event in assumed:
        assert event.actor.instance_id == "i-786a3A8B5C0d92eF4"
        assert event.actor.session_name == "i-786a3A8B5C0d92eF4"
        assert event.actor.role_name == "stratus-red-team-ec2-steal-credentials-role"
        assert event.actor.access_key_id == "ASIAP5CT9NN8EYVU1FXV"
        assert event.source_ip == "18.236.253.47"
    users = [e for e in events if e.actor.type == "IAMUser"]
    assert all(e.actor.instance_id is None and e.actor.user_name == "christophe" for e in users)
    (send,) = [e for e in events if e.action == "SendCommand"]
    assert [(r.type, r.id) for r in send.resources] == [("ec2:instance", "i-786a3A8B5C0d92eF4")]
    # Line numbers point at each record's opening brace in the pretty-printed array.
    assert [e.raw.line for e in events[:3]] == [2, 86, 126]


def test_sample_cloudtrail_stop(samples: Path) -> None:
    (event,), _ = sample(samples, "defense-evasion.cloudtrail-stop")
    assert event.grants == ()
    assert (event.service, event.action) == ("cloudtrail.amazonaws.com", "StopLogging")
    assert event.resources[0].type == "cloudtrail:trail"


def test_envelope_fields(samples: Path) -> None:
    (event,), _ = sample(samples, "exfiltration.ec2-share-ebs-snapshot")
    assert event.id == event_id(
        "cloudtrail", "756680937392", "6897ff63-d738-445c-9e86-43e5b1f8e12f"
    )
    assert event.event_time == dt.datetime(2024, 8, 1, 12, 28, 2, tzinfo=dt.UTC)
    assert event.ingest_time == FIXED
    assert event.source_format == "cloudtrail"
    assert event.raw.line == 2
    assert event.raw.record_id == "6897ff63-d738-445c-9e86-43e5b1f8e12f"
    assert event.raw.source.endswith("ec2-share-ebs-snapshot.json")
    assert event.host_id is None
    assert event.tenant_id is None
    assert event.attribution == "pending"
    assert (event.region, event.account_id) == ("me-central-3r", "756680937392")
    assert event.request_id == "aeddc4a7-2043-405e-8b19-5a913367249e"
    assert event.read_only is False
    assert event.user_agent == "stratus-red-team_7fcd50f2-f1da-4c82-bb7d-38b82021b080"
    assert (event.event_type, event.event_category) == ("AwsApiCall", "Management")


def test_same_input_same_ids(samples: Path) -> None:
    path = samples / STRATUS.format("credential-access.ec2-steal-instance-credentials")
    first = [e.id for e in events_of(parse_text(path.read_text()), ApiCall)]
    second = [e.id for e in events_of(parse_text(path.read_text()), ApiCall)]
    assert first == second
    assert len(set(first)) == len(first)


# --- input shapes ---------------------------------------------------------------------------


def _without_line(event: ApiCall) -> ApiCall:
    """The event without what depends on the document's layout: the line and the record's text
    (kept as written); the text must still be the same record, as JSON."""
    assert event.raw.original is not None
    assert json.loads(event.raw.original)["eventID"] == event.raw.record_id
    raw = msgspec.structs.replace(event.raw, line=None, original=None)
    return msgspec.structs.replace(event, raw=raw)


def test_three_shapes_give_identical_events(samples: Path) -> None:
    path = samples / STRATUS.format("credential-access.ec2-steal-instance-credentials")
    records = json.loads(path.read_text())
    records += [
        json.loads((samples / STRATUS.format(n)).read_text())[0]
        for n in ("exfiltration.ec2-share-ami", "persistence.iam-backdoor-role")
    ]
    shapes = {
        "records-one-line": json.dumps({"Records": records}),
        "records-pretty": json.dumps({"Records": records}, indent=2),
        "records-not-first": json.dumps({"Digest": False, "Records": records}, indent=1),
        "array-pretty": json.dumps(records, indent=3),
        "array-one-line": json.dumps(records),
        "ndjson": "\n".join(json.dumps(r) for r in records) + "\n",
        "ndjson-blank-lines": "\n\n".join(json.dumps(r) for r in records) + "\n\n",
    }
    parsed = {name: parse_text(text) for name, text in shapes.items()}
    for name, results in parsed.items():
        assert not errors(results), name
    reference = [_without_line(e) for e in events_of(parsed["ndjson"], ApiCall)]
    assert len(reference) == len(records)
    for name, results in parsed.items():
        assert [_without_line(e) for e in events_of(results, ApiCall)] == reference, name


def test_ndjson_line_numbers() -> None:
    recs = [record("ec2.amazonaws.com", f"Describe{i}", {}) for i in range(3)]
    text = json.dumps(recs[0]) + "\n\n" + json.dumps(recs[1]) + "\n" + json.dumps(recs[2])
    assert [e.raw.line for e in events_of(parse_text(text), ApiCall)] == [1, 3, 4]


def test_pretty_records_file_line_numbers() -> None:
    recs = [record("ec2.amazonaws.com", f"Describe{i}", {}) for i in range(2)]
    text = json.dumps({"Records": recs}, indent=2)
    lines = text.splitlines()
    expected = [n for n, line in enumerate(lines, 1) if line == "    {"]
    assert [e.raw.line for e in events_of(parse_text(text), ApiCall)] == expected


def test_concatenated_pretty_documents() -> None:
    first = json.dumps([record("s3.amazonaws.com", "ListBuckets", None)], indent=2)
    second = json.dumps({"Records": [record("s3.amazonaws.com", "GetObject", None)]}, indent=2)
    results = parse_text(first + "\n" + second)
    assert [e.action for e in events_of(results, ApiCall)] == ["ListBuckets", "GetObject"]
    assert events_of(results, ApiCall)[1].raw.line == first.count("\n") + 4


def test_records_stream_per_line_as_delivered() -> None:
    docs = [
        json.dumps({"Records": [record("kms.amazonaws.com", f"Decrypt{i}", None)]})
        for i in range(3)
    ]
    results = parse_text("\n".join(docs))
    assert [(e.action, e.raw.line) for e in events_of(results, ApiCall)] == [
        ("Decrypt0", 1),
        ("Decrypt1", 2),
        ("Decrypt2", 3),
    ]
