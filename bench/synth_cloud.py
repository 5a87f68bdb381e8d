"""Synthetic CloudTrail records for the ingest benchmarks.

They follow the Stratus Red Team detonation logs in `../shared/samples/cloudtrail`
(field set, identities, sharing calls with their request parameters); the mix is mostly read-only
management calls, some writes, about 18 % sharing calls that carry grants (to another tenant's or
an external account, or to everyone) and a few denied calls. Accounts, instances and addresses come
from the demo inventory, plus outsiders it does not know. Seeded, so runs repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Callable
from typing import Any

from bench.corpus import Corpus
from bench.synth_hypervisor import BASE_TIME

Record = dict[str, Any]

# tenant accounts of the demo inventory, and accounts it does not know
TENANT_ACCOUNTS = [
    "111111111111",
    "222222222222",
    "017622104382",
    "143434273843",
    "118238665043",
    "756680937392",
    "171471557522",
    "846424999548",
    "751203476945",
    "880896431042",
    "503161813013",
]
EXTERNAL_ACCOUNTS = ["098797384747", "193672423079", "424242424242", "909090909090"]
INSTANCES = [
    "i-0acme0000000001",
    "i-0acme0000000002",
    "i-0globex000000001",
    "i-786a3A8B5C0d92eF4",
    "i-0umbrella0000001",
    "i-0ffffffffffffff9",
]
REGIONS = ["cn-north-1", "cn-northwest-1", "us-north-2r"]
PUBLIC_IPS = [
    "18.236.253.47",
    "204.10.215.184",
    "151.236.251.251",
    "86.245.153.234",
    "198.51.100.20",
    "203.0.113.7",
]
VM_IPS = ["10.1.0.11", "10.1.0.12", "10.2.0.21", "10.3.0.15", "10.4.0.31"]
AGENTS = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 lang/python#3.11.7",
    "terraform-provider-aws/5.42.0 (+https://registry.terraform.io)",
    "console.amazonaws.com",
]


class TrailWriter:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.time = float(BASE_TIME)

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _identity(self, account: str) -> tuple[Record, str]:
        """userIdentity (IAM user, or an instance's role credentials) and the source address."""
        rng = self.rng
        key = "AKIA" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=16))
        if rng.random() < 0.35:
            instance = rng.choice(INSTANCES)
            role = "app-instance-role"
            identity = {
                "accessKeyId": "ASIA" + key[4:],
                "accountId": account,
                "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{instance}",
                "principalId": f"AROALHCCSKSM395EGX3XN:{instance}",
                "sessionContext": {
                    "attributes": {
                        "creationDate": "2026-01-05T09:20:52Z",
                        "mfaAuthenticated": "false",
                    },
                    "ec2RoleDelivery": "2.0",
                    "sessionIssuer": {
                        "accountId": account,
                        "arn": f"arn:aws:iam::{account}:role/{role}",
                        "principalId": "AROALHCCSKSM395EGX3XN",
                        "type": "Role",
                        "userName": role,
                    },
                },
                "type": "AssumedRole",
            }
            source = rng.choice(VM_IPS) if rng.random() < 0.8 else rng.choice(PUBLIC_IPS)
            return identity, source
        user = rng.choice(["christophe", "deploy", "backup-bot", "alice"])
        identity = {
            "accessKeyId": key,
            "accountId": account,
            "arn": f"arn:aws:iam::{account}:user/{user}",
            "principalId": "AIDA" + key[4:],
            "type": "IAMUser",
            "userName": user,
        }
        return identity, rng.choice(PUBLIC_IPS)

    def record(self) -> Record:
        rng = self.rng
        self.time += rng.expovariate(50.0)
        account = (
            rng.choice(TENANT_ACCOUNTS) if rng.random() < 0.9 else rng.choice(EXTERNAL_ACCOUNTS)
        )
        region = rng.choice(REGIONS)
        identity, source = self._identity(account)
        maker = rng.choices(CALLS, [w for w, _ in CALLS_W])[0]
        service, name, read_only, params, response = maker(self, account, region)
        stamp = dt.datetime.fromtimestamp(int(self.time), dt.UTC)
        record: Record = {
            "awsRegion": region,
            "eventCategory": "Management",
            "eventID": self._uuid(),
            "eventName": name,
            "eventSource": service,
            "eventTime": f"{stamp:%Y-%m-%dT%H:%M:%SZ}",
            "eventType": "AwsApiCall",
            "eventVersion": "1.09",
            "managementEvent": True,
            "readOnly": read_only,
            "recipientAccountId": account,
            "requestID": self._uuid(),
            "requestParameters": params,
            "responseElements": response,
            "sourceIPAddress": source,
            "tlsDetails": {
                "cipherSuite": "TLS_AES_128_GCM_SHA256",
                "clientProvidedHostHeader": f"{service.split('.')[0]}.{region}.amazonaws.com",
                "tlsVersion": "TLSv1.3",
            },
            "userAgent": rng.choice(AGENTS),
            "userIdentity": identity,
        }
        if rng.random() < 0.04:
            record["errorCode"] = "Client.UnauthorizedOperation"
            record["errorMessage"] = "You are not authorized to perform this operation."
            record["responseElements"] = None
        return record

    # --- calls: (service, eventName, readOnly, requestParameters, responseElements) -----------

    def grantee(self, account: str) -> str:
        others = [a for a in TENANT_ACCOUNTS if a != account]
        return (
            self.rng.choice(others)
            if self.rng.random() < 0.5
            else self.rng.choice(EXTERNAL_ACCOUNTS)
        )

    def describe(self, account: str, region: str) -> Call:
        service, name, params = self.rng.choice(READ_CALLS)
        return service, name, True, params, None

    def run_instances(self, account: str, region: str) -> Call:
        instance = f"i-0{self.rng.getrandbits(60):015x}"
        params = {
            "instancesSet": {
                "items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 1}]
            },
            "instanceType": "m6i.large",
            "subnetId": "subnet-0acme01",
        }
        response = {
            "instancesSet": {
                "items": [
                    {
                        "instanceId": instance,
                        "imageId": "ami-0abcdef1234567890",
                        "instanceState": {"code": 0, "name": "pending"},
                    }
                ]
            },
            "ownerId": account,
        }
        return "ec2.amazonaws.com", "RunInstances", False, params, response

    def create_snapshot(self, account: str, region: str) -> Call:
        snap = f"snap-0{self.rng.getrandbits(60):015x}"
        params = {"volumeId": f"vol-0{self.rng.getrandbits(60):015x}", "description": "nightly"}
        response = {"snapshotId": snap, "ownerId": account, "status": "pending", "volumeSize": 100}
        return "ec2.amazonaws.com", "CreateSnapshot", False, params, response

    def share_snapshot(self, account: str, region: str) -> Call:
        params = {
            "attributeType": "CREATE_VOLUME_PERMISSION",
            "snapshotId": f"snap-0{self.rng.getrandbits(60):015x}",
            "createVolumePermission": {"add": {"items": [{"userId": self.grantee(account)}]}},
        }
        return "ec2.amazonaws.com", "ModifySnapshotAttribute", False, params, {"_return": True}

    def share_image(self, account: str, region: str) -> Call:
        params = {
            "attributeType": "launchPermission",
            "imageId": f"ami-0{self.rng.getrandbits(60):015x}",
            "launchPermission": {"add": {"items": [{"userId": self.grantee(account)}]}},
        }
        return "ec2.amazonaws.com", "ModifyImageAttribute", False, params, {"_return": True}

    def share_db_snapshot(self, account: str, region: str) -> Call:
        grantee = self.grantee(account) if self.rng.random() < 0.8 else "all"
        ident = f"db-{self.rng.getrandbits(24):06x}"
        params = {
            "attributeName": "restore",
            "dBSnapshotIdentifier": ident,
            "valuesToAdd": [grantee],
        }
        response = {
            "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": [grantee]}],
            "dBSnapshotIdentifier": ident,
        }
        return "rds.amazonaws.com", "ModifyDBSnapshotAttribute", False, params, response

    def trust_policy(self, account: str, region: str) -> Call:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                },
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{self.grantee(account)}:root"},
                    "Action": "sts:AssumeRole",
                },
            ],
        }
        params = {"policyDocument": json.dumps(policy, indent=2), "roleName": "ops-break-glass"}
        return "iam.amazonaws.com", "UpdateAssumeRolePolicy", False, params, None

    def lambda_permission(self, account: str, region: str) -> Call:
        principal = "*" if self.rng.random() < 0.5 else self.grantee(account)
        fn = f"fn-{self.rng.getrandbits(24):06x}"
        params = {
            "action": "lambda:InvokeFunction",
            "functionName": fn,
            "principal": principal,
            "statementId": "share",
        }
        statement = {
            "Sid": "share",
            "Effect": "Allow",
            "Principal": principal,
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:{region}:{account}:function:{fn}",
        }
        return (
            "lambda.amazonaws.com",
            "AddPermission20150331v2",
            False,
            params,
            {"statement": json.dumps(statement, separators=(",", ":"))},
        )

    def bucket_policy(self, account: str, region: str) -> Call:
        bucket = f"data-{account}-{self.rng.getrandbits(16):04x}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{self.grantee(account)}:root"},
                    "Action": ["s3:GetObject"],
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
        params = {
            "bucketName": bucket,
            "Host": f"{bucket}.s3.amazonaws.com",
            "bucketPolicy": policy,
            "policy": [""],
        }
        return "s3.amazonaws.com", "PutBucketPolicy", False, params, None


Call = tuple[str, str, bool, Record | None, Record | None]
READ_CALLS: list[tuple[str, str, Record | None]] = [
    ("ec2.amazonaws.com", "DescribeInstances", {"filterSet": {}, "instancesSet": {}}),
    (
        "ssm.amazonaws.com",
        "DescribeInstanceInformation",
        {"filters": [{"key": "InstanceIds", "values": ["i-786a3A8B5C0d92eF4"]}]},
    ),
    ("sts.amazonaws.com", "GetCallerIdentity", None),
    ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.cn-north-1.amazonaws.com"}),
    ("ec2.amazonaws.com", "DescribeSnapshots", {"ownersSet": {"items": [{"owner": "self"}]}}),
    ("iam.amazonaws.com", "GetRole", {"roleName": "app-instance-role"}),
    ("kms.amazonaws.com", "Decrypt", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
]
CALLS_W: list[tuple[int, Callable[[TrailWriter, str, str], Call]]] = [
    (68, TrailWriter.describe),
    (6, TrailWriter.run_instances),
    (8, TrailWriter.create_snapshot),
    (4, TrailWriter.share_snapshot),
    (2, TrailWriter.share_image),
    (2, TrailWriter.share_db_snapshot),
    (4, TrailWriter.trust_policy),
    (3, TrailWriter.lambda_permission),
    (3, TrailWriter.bucket_policy),
]
CALLS = [maker for _, maker in CALLS_W]


def cloudtrail_records(records: int, seed: int = 4) -> list[Record]:
    writer = TrailWriter(random.Random(seed))
    return [writer.record() for _ in range(records)]


def cloudtrail(records: int, seed: int = 4) -> Corpus:
    """One record per line (NDJSON), as streamed by shippers."""
    units = [[json.dumps(r, separators=(",", ":"))] for r in cloudtrail_records(records, seed)]
    return Corpus.of("cloudtrail", "cloudtrail", units, host_id=None)


def cloudtrail_documents(records: int, per_document: int = 1000, seed: int = 4) -> Corpus:
    """`{"Records": [...]}` documents as delivered to object storage: one line each."""
    all_records = cloudtrail_records(records, seed)
    units: list[list[str]] = []
    counts: list[int] = []
    for start in range(0, len(all_records), per_document):
        batch = all_records[start : start + per_document]
        units.append([json.dumps({"Records": batch}, separators=(",", ":"))])
        counts.append(len(batch))
    return Corpus.of("cloudtrail-records", "cloudtrail", units, host_id=None, unit_records=counts)
