"""CloudTrail records, one JSON object per line, fields in the order CloudTrail writes them and
shaped like the Stratus Red Team detonation logs in `../shared/samples/cloudtrail` (identities,
sharing calls' request parameters, S3 data events with their `resources` list)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from fenghuo.simulate.rand import Rand
from fenghuo.simulate.world import PARTITION, REGION, IamUser, Tenant, Vm

AGENTS = (
    "aws-cli/2.15.30 Python/3.11.8 Linux/5.14.0-362.8.1.el9_3.x86_64 exe/x86_64.rhel.9",
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.14.0 md/arch#x86_64 lang/python#3.11.7",
    "terraform-provider-aws/5.42.0 (+https://registry.terraform.io/providers/hashicorp/aws)",
    "console.amazonaws.com",
)
SDK_AGENT = "aws-sdk-go-v2/1.25.3 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64"


def service_host(service: str) -> str:
    """The endpoint a call went to, as `tlsDetails.clientProvidedHostHeader`."""
    return f"{service.split('.')[0]}.{REGION}.amazonaws.com.cn"


def iam_user(tenant: Tenant, user: IamUser, account: str | None = None) -> dict[str, Any]:
    account = account or tenant.account
    return {
        "type": "IAMUser",
        "principalId": user.principal_id,
        "arn": f"arn:{PARTITION}:iam::{account}:user/{user.name}",
        "accountId": account,
        "accessKeyId": user.access_key_id,
        "userName": user.name,
    }


@dataclass(frozen=True)
class RoleSession:
    """Instance role credentials of one VM (what the metadata service hands out)."""

    tenant: Tenant
    vm: Vm
    access_key_id: str
    created: dt.datetime

    @classmethod
    def of(cls, rand: Rand, tenant: Tenant, vm: Vm, created: dt.datetime) -> RoleSession:
        return cls(tenant, vm, rand.upper_id("ASIA", 16), created)

    def identity(self) -> dict[str, Any]:
        account, role = self.tenant.account, self.tenant.role_name
        return {
            "type": "AssumedRole",
            "principalId": f"{self.tenant.role_id}:{self.vm.instance_id}",
            "arn": f"arn:{PARTITION}:sts::{account}:assumed-role/{role}/{self.vm.instance_id}",
            "accountId": account,
            "accessKeyId": self.access_key_id,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": self.tenant.role_id,
                    "arn": f"arn:{PARTITION}:iam::{account}:role/{role}",
                    "accountId": account,
                    "userName": role,
                },
                "webIdFederationData": {},
                "attributes": {
                    "creationDate": self.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "mfaAuthenticated": "false",
                },
                "ec2RoleDelivery": "2.0",
            },
        }


@dataclass(frozen=True)
class Call:
    """One API call to render."""

    time: dt.datetime
    service: str  # e.g. ec2.amazonaws.com
    action: str
    identity: dict[str, Any]
    source_ip: str
    recipient: str
    parameters: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    read_only: bool = True
    agent: str = AGENTS[0]
    error: tuple[str, str] | None = None  # (errorCode, errorMessage)
    data_event: bool = False
    resources: tuple[dict[str, str], ...] = ()
    vpc_endpoint: str | None = None
    extra: dict[str, Any] | None = None  # additionalEventData


def record(rand: Rand, call: Call) -> str:
    request_id = rand.upper_id("", 16) if call.service == "s3.amazonaws.com" else rand.uuid4()
    body: dict[str, Any] = {
        "eventVersion": "1.09" if not call.data_event else "1.10",
        "userIdentity": call.identity,
        "eventTime": call.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": call.service,
        "eventName": call.action,
        "awsRegion": REGION,
        "sourceIPAddress": call.source_ip,
        "userAgent": call.agent,
    }
    if call.error is not None:
        body["errorCode"], body["errorMessage"] = call.error
    body["requestParameters"] = call.parameters
    body["responseElements"] = call.response if call.error is None else None
    if call.extra is not None:
        body["additionalEventData"] = call.extra
    body["requestID"] = request_id
    body["eventID"] = rand.uuid4()
    body["readOnly"] = call.read_only
    if call.resources:
        body["resources"] = list(call.resources)
    body["eventType"] = "AwsApiCall"
    body["managementEvent"] = not call.data_event
    body["recipientAccountId"] = call.recipient
    if call.vpc_endpoint is not None:
        body["vpcEndpointId"] = call.vpc_endpoint
    body["eventCategory"] = "Data" if call.data_event else "Management"
    body["tlsDetails"] = {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": service_host(call.service),
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def s3_object_resources(bucket: str, key: str, owner: str) -> tuple[dict[str, str], ...]:
    """The `resources` list of an S3 object-level data event."""
    return (
        {"type": "AWS::S3::Object", "ARN": f"arn:{PARTITION}:s3:::{bucket}/{key}"},
        {"accountId": owner, "type": "AWS::S3::Bucket", "ARN": f"arn:{PARTITION}:s3:::{bucket}"},
    )


def s3_parameters(bucket: str, key: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.{REGION}.amazonaws.com.cn",
    }
    if key is not None:
        params["key"] = key
    return params


def s3_extra(rand: Rand, bytes_out: int) -> dict[str, Any]:
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": rand.hex(32),
        "bytesTransferredOut": bytes_out,
    }
