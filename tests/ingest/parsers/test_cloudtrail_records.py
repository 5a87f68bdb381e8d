"""CloudTrail parser: record errors and the mapping of record fields to `ApiCall`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from fenghuo.ingest.parsers.cloudtrail import parse_time
from fenghuo.model import ApiCall, event_id
from tests.ingest.parsers.helpers import errors, events_of
from tests.ingest.parsers.test_cloudtrail import one_event, parse_text, record

# --- record errors --------------------------------------------------------------------------


def test_bad_json_line_in_ndjson() -> None:
    good = [
        json.dumps(record("sts.amazonaws.com", f"GetCallerIdentity{i}", None)) for i in range(3)
    ]
    text = "\n".join(
        [good[0], '{"eventTime": "2024-08-01T12:00:00Z", oops}', good[1], "not json", good[2]]
    )
    results = parse_text(text, "trail.ndjson")
    assert len(events_of(results, ApiCall)) == 3
    bad_json, not_json = errors(results)
    assert (bad_json.line, not_json.line) == (2, 4)
    assert bad_json.source == "trail.ndjson"
    assert bad_json.format == "cloudtrail"
    assert bad_json.reason.startswith("invalid JSON: ")
    assert "line 2 column" in bad_json.reason
    assert bad_json.raw == '{"eventTime": "2024-08-01T12:00:00Z", oops}'
    assert not_json.raw == "not json"


def test_truncated_first_ndjson_line_does_not_swallow_the_rest() -> None:
    good = json.dumps(record("sts.amazonaws.com", "GetCallerIdentity", None))
    results = parse_text('{"eventTime": "2024-08-01T1\n' + good + "\n" + good)
    (error,) = errors(results)
    assert error.line == 1
    assert [e.raw.line for e in events_of(results, ApiCall)] == [2, 3]


def test_missing_fields_and_bad_time_in_array() -> None:
    recs: list[Any] = [record("ec2.amazonaws.com", "RunInstances", {})]
    missing_time = record("ec2.amazonaws.com", "StopInstances", {})
    del missing_time["eventTime"]
    bad_time = record("ec2.amazonaws.com", "StartInstances", {}, eventTime="yesterday")
    no_name = record("ec2.amazonaws.com", "x", {})
    del no_name["eventName"]
    no_source = record("ec2.amazonaws.com", "TerminateInstances", {}, eventSource=7)
    recs += [missing_time, 42, bad_time, ["not", "an", "object"], no_name, no_source]
    recs.append(record("ec2.amazonaws.com", "RebootInstances", {}))
    text = json.dumps(recs, indent=2)
    results = parse_text(text)
    assert [e.action for e in events_of(results, ApiCall)] == ["RunInstances", "RebootInstances"]
    failed = errors(results)
    reasons = [e.reason for e in failed]
    assert reasons[0] == "missing eventTime"
    assert reasons[1] == "record is not a JSON object but int"
    assert reasons[2].startswith("bad eventTime 'yesterday'")
    assert reasons[3] == "record is not a JSON object but list"
    assert reasons[4] == "missing eventName"
    assert reasons[5] == "eventSource is not a string"
    lines = text.splitlines()
    for error in failed:
        assert error.line is not None
        first = lines[error.line - 1].strip().rstrip(",")
        assert error.raw.startswith(first)
        json.loads(error.raw)  # the record's own JSON text
    assert lines[failed[1].line - 1].strip() == "42,"  # type: ignore[operator]


def test_invalid_json_document_is_one_error_with_position() -> None:
    recs = [record("ec2.amazonaws.com", f"Describe{i}", {}) for i in range(3)]
    text = json.dumps(recs, indent=2)
    # Remove the comma between the second and third record.
    cut = text.rindex("\n  },\n  {")
    broken = text[:cut] + "\n  }\n  {" + text[cut + len("\n  },\n  {") :]
    results = parse_text(broken)
    assert [e.action for e in events_of(results, ApiCall)] == ["Describe0", "Describe1"]
    (error,) = errors(results)
    third = broken[:cut].count("\n") + 3  # the line of the third record's opening brace
    assert (
        error.reason
        == f"invalid JSON: expecting ',' or ']' after an array element at line {third} column 3"
    )
    assert error.line == third
    assert error.raw.startswith("{")


def test_unterminated_document_at_end_of_stream() -> None:
    recs = [record("ec2.amazonaws.com", "Describe", {})]
    text = json.dumps({"Records": recs}, indent=2)[:-4]
    results = parse_text(text)
    assert len(events_of(results, ApiCall)) == 1
    (error,) = errors(results)
    assert "invalid JSON" in error.reason


def test_broken_string_inside_document() -> None:
    results = parse_text('[\n  {"eventTime": "2024\n  "x"}\n]')
    (error,) = errors(results)
    assert error.line == 2
    assert not events_of(results, ApiCall)


def test_lone_surrogate_is_a_record_error() -> None:
    rec = json.dumps(record("s3.amazonaws.com", "GetObject", {"key": "x"}))
    rec = rec.replace('"x"', '"\\ud800"')
    (error,) = errors(parse_text(rec))
    assert "surrogate" in error.reason
    pair = rec.replace("\\ud800", "\\ud83d\\ude00")
    assert events_of(parse_text(pair), ApiCall)
    # Records not first in its object: the record text is re-encoded, the check still applies.
    wrapped = '{"Other": 1, "Records": [' + rec + "]}"
    (error,) = errors(parse_text(wrapped))
    assert "surrogate" in error.reason


# --- field mapping --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-08-01T12:28:02Z", dt.datetime(2024, 8, 1, 12, 28, 2, tzinfo=dt.UTC)),
        ("2024-08-01T12:28:02.5Z", dt.datetime(2024, 8, 1, 12, 28, 2, 500000, tzinfo=dt.UTC)),
        (
            "2024-08-01T12:28:02.123456789Z",
            dt.datetime(2024, 8, 1, 12, 28, 2, 123456, tzinfo=dt.UTC),
        ),
        ("2024-08-01T14:28:02+02:00", dt.datetime(2024, 8, 1, 12, 28, 2, tzinfo=dt.UTC)),
        ("2024-08-01T12:28:02", dt.datetime(2024, 8, 1, 12, 28, 2, tzinfo=dt.UTC)),
    ],
)
def test_parse_time(text: str, expected: dt.datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is dt.UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2024-08-01",
        "2024-13-01T00:00:00Z",
        "1722515282",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2024-01-01T00:00:00+99:99",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    rec = record("sts.amazonaws.com", "GetCallerIdentity", None, eventTime=text)
    (error,) = errors(parse_text(json.dumps(rec)))
    assert "eventTime" in error.reason


def test_failure_and_service_source() -> None:
    rec = record(
        "s3.amazonaws.com",
        "GetBucketAcl",
        {"bucketName": "b"},
        errorCode="AccessDenied",
        errorMessage="Access Denied",
        sourceIPAddress="ec2.amazonaws.com",
        readOnly="true",
        vpcEndpointId="vpce-0123",
    )
    del rec["recipientAccountId"]
    event = one_event(rec)
    assert (event.outcome, event.error_code, event.error_message) == (
        "failure",
        "AccessDenied",
        "Access Denied",
    )
    assert (event.source_ip, event.source) == (None, "ec2.amazonaws.com")
    assert event.read_only is True
    assert event.vpc_endpoint_id == "vpce-0123"
    assert event.account_id == "111111111111"  # from userIdentity when recipient is missing
    assert event.id == event_id("cloudtrail", "", rec["eventID"])


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"eventType": "AwsConsoleSignIn", "eventCategory": "Management"},
         ("AwsConsoleSignIn", "Management")),
        ({"eventType": "AwsApiCall", "eventCategory": "Data"}, ("AwsApiCall", "Data")),
        ({"eventType": "AwsServiceEvent"}, ("AwsServiceEvent", None)),
        ({"eventType": 7, "eventCategory": ""}, (None, None)),
        ({}, (None, None)),
    ],
)  # fmt: skip
def test_event_type_and_category(extra: dict[str, Any], expected: tuple[str | None, ...]) -> None:
    event = one_event(record("s3.amazonaws.com", "GetObject", None, **extra))
    assert (event.event_type, event.event_category) == expected


def test_ipv6_source_is_normalised() -> None:
    rec = record("s3.amazonaws.com", "ListBuckets", None, sourceIPAddress="2001:DB8::0001")
    assert one_event(rec).source_ip == "2001:db8::1"


def test_missing_event_id_hashes_the_record() -> None:
    rec = record("s3.amazonaws.com", "ListBuckets", None)
    del rec["eventID"]
    first = one_event(rec)
    reordered = dict(reversed(list(rec.items())))
    assert one_event(reordered).id == first.id
    assert first.raw.record_id is None
    assert one_event({**rec, "userAgent": "other"}).id != first.id


def test_assumed_role_actor_from_session_issuer() -> None:
    identity = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE:i-0123456789abcdef0",
        "accountId": "222222222222",
        "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": "arn:aws:iam::222222222222:role/path/web-role",
                "accountId": "222222222222",
            }
        },
    }
    actor = one_event(
        record("ec2.amazonaws.com", "DescribeInstances", {}, userIdentity=identity)
    ).actor
    assert actor.role_name == "web-role"
    assert actor.session_name == actor.instance_id == "i-0123456789abcdef0"
    assert actor.arn is None


def test_role_session_that_is_not_an_instance() -> None:
    identity = {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::222222222222:assumed-role/admin/alice@example.com",
        "invokedBy": "cloudformation.amazonaws.com",
    }
    actor = one_event(record("ec2.amazonaws.com", "RunInstances", {}, userIdentity=identity)).actor
    assert (actor.role_name, actor.session_name) == ("admin", "alice@example.com")
    assert actor.instance_id is None
    assert actor.invoked_by == "cloudformation.amazonaws.com"


def test_resources_from_list_and_parameters() -> None:
    rec = record(
        "ec2.amazonaws.com",
        "CopySnapshot",
        {
            "sourceSnapshotId": "snap-0aaa",
            "instancesSet": {"items": [{"instanceId": "i-0bbb"}, {"instanceId": "i-0ccc"}]},
            "functionName": "arn:aws:lambda:us-east-1:333333333333:function:f",
            "queueUrl": "https://sqs.us-east-1.amazonaws.com/444444444444/q1",
            "repositoryName": "repo",
            "registryId": "555555555555",
        },
        resources=[
            {
                "ARN": "arn:aws:ec2:us-east-1::snapshot/snap-0aaa",
                "accountId": "666666666666",
                "type": "AWS::EC2::Snapshot",
            },
            {
                "ARN": "arn:aws:rds:us-east-1:111111111111:snapshot:s1",
                "type": "AWS::RDS::DBSnapshot",
            },
            {"accountId": "x"},
        ],
    )
    found = {(r.type, r.id): (r.arn, r.account_id) for r in one_event(rec).resources}
    assert found == {
        ("ec2:snapshot", "snap-0aaa"): (
            "arn:aws:ec2:us-east-1::snapshot/snap-0aaa",
            "666666666666",
        ),
        ("rds:db-snapshot", "s1"): (
            "arn:aws:rds:us-east-1:111111111111:snapshot:s1",
            "111111111111",
        ),
        ("ec2:instance", "i-0bbb"): (None, "111111111111"),
        ("ec2:instance", "i-0ccc"): (None, "111111111111"),
        ("lambda:function", "f"): (
            "arn:aws:lambda:us-east-1:333333333333:function:f",
            "333333333333",
        ),
        ("sqs:queue", "q1"): (None, "444444444444"),
        ("ecr:repository", "repo"): (None, "555555555555"),
    }


def test_odd_shapes_do_not_fail_the_record() -> None:
    rec = record(
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        {"snapshotId": ["x", 1], "createVolumePermission": "add"},
        userIdentity="root",
        resources="none",
        readOnly=1,
        awsRegion=None,
    )
    event = one_event(rec)
    assert event.actor.type is None
    assert event.read_only is None
    assert event.region is None
    assert event.grants == ()
