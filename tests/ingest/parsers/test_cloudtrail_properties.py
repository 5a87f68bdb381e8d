"""Property tests: whatever the input, the CloudTrail parser never raises, yields only events or
record errors, keeps one result per record, and every event survives a JSON round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers.base import ParseResult
from fenghuo.model import ApiCall
from tests.ingest.parsers.helpers import check_results
from tests.ingest.parsers.test_cloudtrail import parse_text, record
from tests.ingest.parsers.test_cloudtrail_grants import BUCKET_POLICY
from tests.ingest.parsers.test_cloudtrail_grants_services import FOREIGN_POLICY, QUEUE

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["*", "all", "111111111111", "arn:aws:iam::999999999999:root", "Allow"])
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
JSONISH_LINES = st.lists(st.text(alphabet='{}[]",:\\ \tae0Z-T.\u00e9', max_size=40), max_size=12)


def check(results: list[ParseResult]) -> None:
    check_results(results, ApiCall, format_name="cloudtrail")


def grant_records() -> list[dict[str, Any]]:
    return [
        record(
            "ec2.amazonaws.com",
            "ModifySnapshotAttribute",
            {
                "snapshotId": "snap-1",
                "createVolumePermission": {"add": {"items": [{"userId": "2"}, {"group": "all"}]}},
            },
        ),
        record(
            "s3.amazonaws.com",
            "PutBucketPolicy",
            {"bucketName": "b", "bucketPolicy": BUCKET_POLICY},
        ),
        record(
            "s3.amazonaws.com",
            "PutBucketAcl",
            {
                "bucketName": "b",
                "AccessControlPolicy": {
                    "AccessControlList": {"Grant": [{"Grantee": {"ID": "x"}, "Permission": "READ"}]}
                },
                "x-amz-grant-read": 'id="y"',
            },
        ),
        record(
            "lambda.amazonaws.com",
            "AddPermission20150331v2",
            {"functionName": "f", "principal": "*"},
        ),
        record(
            "sqs.amazonaws.com",
            "SetQueueAttributes",
            {"queueUrl": QUEUE, "attributes": {"Policy": FOREIGN_POLICY}},
        ),
        record(
            "ram.amazonaws.com",
            "CreateResourceShare",
            {"name": "s", "principals": ["1"], "resourceArns": ["arn:aws:ec2:r:1:subnet/s"]},
        ),
        record(
            "rds.amazonaws.com",
            "ModifyDBSnapshotAttribute",
            {"dBSnapshotIdentifier": "s", "attributeName": "restore", "valuesToAdd": ["all"]},
        ),
        record(
            "iam.amazonaws.com",
            "CreateRole",
            {"roleName": "r", "assumeRolePolicyDocument": FOREIGN_POLICY},
        ),
    ]


@pytest.fixture(scope="module")
def corpus(samples: Path) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = grant_records()
    for path in sorted((samples / "cloudtrail").glob("stratus-*.json")):
        records.extend(json.loads(path.read_text())[:3])
    return records


def _mutate(data: st.DataObject, value: Any, depth: int = 0) -> Any:
    """Replace, delete or descend into one member of a JSON value."""
    if isinstance(value, dict) and value and depth < 6:
        key = data.draw(st.sampled_from(sorted(value)))
        choice = data.draw(st.sampled_from(["replace", "delete", "descend", "descend"]))
        if choice == "delete":
            del value[key]
        elif choice == "replace":
            value[key] = data.draw(JSON_VALUES)
        else:
            value[key] = _mutate(data, value[key], depth + 1)
        return value
    if isinstance(value, list) and value and depth < 6:
        index = data.draw(st.integers(0, len(value) - 1))
        value[index] = _mutate(data, value[index], depth + 1)
        return value
    if isinstance(value, str) and value[:1] in ("{", "[") and data.draw(st.booleans()):
        try:  # a policy document inside a string: mutate the document
            return json.dumps(_mutate(data, json.loads(value), depth + 1))
        except ValueError:
            return value
    return data.draw(JSON_VALUES)


@SETTINGS
@given(st.lists(st.text(max_size=80), max_size=12))
def test_random_text_never_raises(lines: list[str]) -> None:
    check(parse_text("\n".join(lines)))


@SETTINGS
@given(JSONISH_LINES)
def test_jsonish_text_never_raises(lines: list[str]) -> None:
    check(parse_text("\n".join(lines)))


@SETTINGS
@given(st.lists(JSON_VALUES, min_size=1, max_size=6))
def test_random_json_records_one_result_each(values: list[Any]) -> None:
    values = [v for v in values if not (isinstance(v, dict) and isinstance(v.get("Records"), list))]
    ndjson = parse_text("\n".join(json.dumps(v) for v in values))
    check(ndjson)
    # A line holding an array is a document of records; any other value is one record (or error).
    assert len(ndjson) == sum(len(v) if isinstance(v, list) else 1 for v in values)
    array = parse_text(json.dumps(values, indent=2))
    check(array)
    assert len(array) == len(values)


@SETTINGS
@given(st.data())
def test_mutated_real_records(corpus: list[dict[str, Any]], data: st.DataObject) -> None:
    chosen = data.draw(st.lists(st.sampled_from(corpus), min_size=1, max_size=4))
    mutated = [_mutate(data, copy.deepcopy(rec)) for rec in chosen]
    for text in (
        "\n".join(json.dumps(m) for m in mutated),
        json.dumps(mutated, indent=2),
        json.dumps({"Records": mutated}),
    ):
        results = parse_text(text)
        check(results)
        assert len(results) == len(mutated)
    again = parse_text(json.dumps(mutated, indent=2))
    assert [getattr(r, "id", None) for r in again] == [getattr(r, "id", None) for r in results]


@SETTINGS
@given(st.data())
def test_damaged_text_of_real_records(corpus: list[dict[str, Any]], data: st.DataObject) -> None:
    rec = data.draw(st.sampled_from(corpus))
    text = json.dumps([rec, rec], indent=data.draw(st.sampled_from([None, 1, 3])))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(text)))
        if data.draw(st.booleans()):
            text = text[:position] + text[position + data.draw(st.integers(1, 8)) :]
        else:
            text = (
                text[:position]
                + data.draw(st.text(alphabet='{}[]",:\n\\x', max_size=3))
                + text[position:]
            )
    check(parse_text(text))


TIMES = st.from_regex(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})?",
    fullmatch=True,
)


@SETTINGS
@given(TIMES | st.text(max_size=30))
def test_any_event_time_is_an_event_or_an_error(text: str) -> None:
    results = parse_text(
        json.dumps(record("sts.amazonaws.com", "GetCallerIdentity", None, eventTime=text))
    )
    check(results)
    assert len(results) == 1
