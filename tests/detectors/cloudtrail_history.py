"""Deterministic benign CloudTrail history for baseline tests, in the real record format.

Five principals of four demo tenants work every 5-minute slot: describes, reads and writes of
their own buckets, now and then a denied call; umbrella's ETL user (umbrella is peered with
globex) reads a globex bucket in about one slot in ten, so cross-tenant access has a baseline
that is not zero. `bulk_read` is the attack: many reads of another tenant's bucket.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any

from fenghuo.detectors.testing import demo_inventory
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.model import Event

START = dt.datetime(2026, 1, 5, 0, 0, tzinfo=dt.UTC)
Record = dict[str, Any]

# (tenant, account, user, source address, own bucket)
PRINCIPALS = [
    ("acme", "111111111111", "deploy", "10.1.0.11", "acme-assets"),
    ("acme", "111111111111", "backup", "10.1.0.12", "acme-backups"),
    ("globex", "222222222222", "analyst", "10.2.0.21", "globex-reports"),
    ("initech", "118238665043", "ops", "10.3.0.15", "initech-payroll"),
    ("umbrella", "756680937392", "etl", "10.4.0.31", "umbrella-exports"),
]
READS = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("ec2.amazonaws.com", "DescribeSnapshots"),
    ("sts.amazonaws.com", "GetCallerIdentity"),
    ("iam.amazonaws.com", "GetRole"),
]


def _identity(account: str, user: str) -> Record:
    key = f"AKIA{account[:6]}{user.upper():0<10}"[:20]
    return {
        "type": "IAMUser",
        "principalId": f"AIDA{account}{user.upper()}",
        "arn": f"arn:aws:iam::{account}:user/{user}",
        "accountId": account,
        "accessKeyId": key,
        "userName": user,
    }


class _Writer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0

    def _id(self) -> str:
        self.serial += 1
        return f"{self.rng.getrandbits(32):08x}-0000-4000-8000-{self.serial:012d}"

    def record(
        self,
        at: dt.datetime,
        account: str,
        user: str,
        ip: str,
        service: str,
        name: str,
        *,
        read_only: bool,
        params: Record | None = None,
        resources: list[Record] | None = None,
        recipient: str | None = None,
        failed: bool = False,
    ) -> Record:
        record: Record = {
            "eventVersion": "1.09",
            "userIdentity": _identity(account, user),
            "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": service,
            "eventName": name,
            "awsRegion": "cn-north-1",
            "sourceIPAddress": ip,
            "userAgent": "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0",
            "requestParameters": params,
            "responseElements": None,
            "requestID": self._id(),
            "eventID": self._id(),
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": service != "s3.amazonaws.com",
            "recipientAccountId": recipient or account,
            "eventCategory": "Data" if service == "s3.amazonaws.com" else "Management",
        }
        if resources:
            record["resources"] = resources
        if failed:
            record["errorCode"] = "AccessDenied"
            record["errorMessage"] = "Access Denied"
        return record

    def s3(
        self,
        at: dt.datetime,
        account: str,
        user: str,
        ip: str,
        name: str,
        bucket: str,
        owner: str,
        key: str,
    ) -> Record:
        return self.record(
            at,
            account,
            user,
            ip,
            "s3.amazonaws.com",
            name,
            read_only=name == "GetObject",
            params={"bucketName": bucket, "key": key, "Host": f"{bucket}.s3.amazonaws.com"},
            resources=[
                {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"},
            ],
            recipient=owner,
        )


def benign_records(hours: int = 24, seed: int = 1, start: dt.datetime = START) -> list[Record]:
    writer = _Writer(seed)
    rng = writer.rng
    records: list[Record] = []
    for slot in range(hours * 12):
        base = start + dt.timedelta(minutes=5 * slot)
        for _tenant, account, user, ip, bucket in PRINCIPALS:
            for _ in range(rng.randint(2, 10)):
                at = base + dt.timedelta(seconds=rng.randrange(300))
                kind = rng.random()
                if kind < 0.5:
                    service, name = rng.choice(READS)
                    failed = rng.random() < 0.03
                    records.append(
                        writer.record(
                            at, account, user, ip, service, name, read_only=True, failed=failed
                        )
                    )
                else:
                    name = "GetObject" if kind < 0.85 else "PutObject"
                    key = f"data/{rng.randrange(40):03d}.json"
                    records.append(writer.s3(at, account, user, ip, name, bucket, account, key))
            if user == "etl" and rng.random() < 0.1:
                for _ in range(rng.randint(1, 2)):
                    at = base + dt.timedelta(seconds=rng.randrange(300))
                    key = f"shared/{rng.randrange(10):02d}.csv"
                    records.append(
                        writer.s3(
                            at,
                            account,
                            user,
                            ip,
                            "GetObject",
                            "globex-reports",
                            "222222222222",
                            key,
                        )
                    )
    return records


def bulk_read(
    count: int, at: dt.datetime, bucket: str = "initech-payroll", owner: str = "118238665043"
) -> list[Record]:
    """umbrella's ETL user reading `count` objects of another tenant's bucket within a minute."""
    writer = _Writer(99)
    return [
        writer.s3(
            at + dt.timedelta(seconds=i % 60),
            "756680937392",
            "etl",
            "10.4.0.31",
            "GetObject",
            bucket,
            owner,
            f"2025/12/payroll-{i:04d}.csv",
        )
        for i in range(count)
    ]


def to_events(records: list[Record]) -> list[Event]:
    """Parsed and attributed against the demo inventory, as ingest does."""
    normaliser = Normaliser(demo_inventory(), clock=lambda: START)
    lines = [json.dumps(r) for r in records]
    events: list[Event] = []
    for result in normaliser.stream("cloudtrail", raw_lines("history", lines)):
        assert not isinstance(result, RecordError), result
        events.append(result)
    return events


def ndjson(records: list[Record]) -> str:
    return "\n".join(json.dumps(r) for r in records) + "\n"
