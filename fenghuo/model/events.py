"""Typed, immutable telemetry events.

Three families share one envelope (`EventBase`): hypervisor (processes, seccomp, crashes, SELinux
denials, file access, VM lifecycle, container runtime alerts), tenant (cloud control-plane API
calls) and network (flows). Each concrete event is a frozen msgspec Struct tagged by `kind`, so a
JSON line decodes straight into the right class and the JSON Schema of the `native` format is
generated from these classes.

Parsers fill the envelope except attribution (`attribution="pending"`); the attributor resolves
`tenant_id`, `related_tenant_ids` and the VM/host fields against the inventory.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Any, ClassVar, Literal

import msgspec

SCHEMA_VERSION = 1

# Event times are always timezone-aware UTC; a naive time in a native record is rejected.
UtcDatetime = Annotated[dt.datetime, msgspec.Meta(tz=True)]

# pending: not yet resolved (parser output); attributed: tenant_id is set; provider: the
# provider's own infrastructure (a host process serving no VM); unattributed: nothing in the
# inventory matched. Unattributed events are kept and flagged, never dropped.
AttributionStatus = Literal["pending", "attributed", "provider", "unattributed"]


class Family(enum.StrEnum):
    HYPERVISOR = "hypervisor"
    TENANT = "tenant"
    NETWORK = "network"


# The most of a raw record an event keeps (characters); longer ones are cut and flagged.
MAX_ORIGINAL = 16_384


class RawRef(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where the raw record came from: file path, `stdin` or `http:<ingest key name>`, and the
    record itself as received (`original`, like ECS `event.original`): an analyst reads it as
    the alert's evidence, one click away, without access to the source file."""

    source: str
    line: int | None = None  # 1-based line of the record's first line in its source
    record_id: str | None = None  # the format's own id (auditd `ts:serial`, CloudTrail eventID)
    original: str | None = None  # the raw text, at most MAX_ORIGINAL characters
    original_truncated: bool = False  # True when `original` was cut to MAX_ORIGINAL


def raw_ref(source: str, line: int | None, text: str, *, record_id: str | None = None) -> RawRef:
    """A `RawRef` that keeps the record's text, cut to `MAX_ORIGINAL` characters."""
    cut = len(text) > MAX_ORIGINAL
    return RawRef(
        source=source,
        line=line,
        record_id=record_id,
        original=text[:MAX_ORIGINAL] if cut else text,
        original_truncated=cut,
    )


class EventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """The envelope every event carries."""

    id: str
    schema_version: int = SCHEMA_VERSION
    event_time: UtcDatetime
    ingest_time: UtcDatetime
    source_format: str
    raw: RawRef
    host_id: str | None = None
    # The tenant the event belongs to, and every other tenant whose resource or address it
    # involves (an actor and a victim, say).
    tenant_id: str | None = None
    related_tenant_ids: tuple[str, ...] = ()
    attribution: AttributionStatus = "pending"
    # Evidence of the attribution, e.g. ("account:111111111111", "cidr:10.2.0.0/16").
    attribution_via: tuple[str, ...] = ()

    family: ClassVar[Family]


# --- hypervisor -------------------------------------------------------------------------------


class Process(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A process as the host saw it. `vm_name` is the VM whose VMM this process is or serves.

    `auid` (login uid) and `ses` (audit session) are None when never set: auditd prints an unset
    id as 4294967295 (or -1), which daemons and everything started at boot carry. `tty` is the
    controlling terminal (`pts0`), None when the process has none.
    """

    pid: int | None = None
    ppid: int | None = None
    exe: str | None = None
    comm: str | None = None
    argv: tuple[str, ...] = ()
    uid: int | None = None
    euid: int | None = None
    auid: int | None = None
    ses: int | None = None
    tty: str | None = None
    selinux_context: str | None = None
    cwd: str | None = None
    parent_exe: str | None = None
    vm_name: str | None = None


class ProcessExec(EventBase, frozen=True, kw_only=True, tag="process_exec"):
    family: ClassVar[Family] = Family.HYPERVISOR
    process: Process
    success: bool = True


class SeccompViolation(EventBase, frozen=True, kw_only=True, tag="seccomp_violation"):
    family: ClassVar[Family] = Family.HYPERVISOR
    process: Process
    syscall: str | None = None
    syscall_nr: int | None = None
    arch: str | None = None
    action: str | None = None  # seccomp return action, e.g. kill, errno, trap
    signal: int | None = None


class ProcessCrash(EventBase, frozen=True, kw_only=True, tag="process_crash"):
    family: ClassVar[Family] = Family.HYPERVISOR
    process: Process
    signal: int
    signal_name: str | None = None


class AccessDenial(EventBase, frozen=True, kw_only=True, tag="access_denial"):
    """An SELinux AVC (or AppArmor) denial. For sVirt, `source_vm`/`target_vm` name the VMs whose
    labels (MCS categories) the source and target contexts carry."""

    family: ClassVar[Family] = Family.HYPERVISOR
    process: Process
    mechanism: Literal["selinux", "apparmor"] = "selinux"
    denied: bool = True
    permissions: tuple[str, ...] = ()
    source_context: str | None = None
    target_context: str | None = None
    target_class: str | None = None
    target_path: str | None = None
    permissive: bool = False
    source_vm: str | None = None
    target_vm: str | None = None


class FileAccess(EventBase, frozen=True, kw_only=True, tag="file_access"):
    """A file opened, written, created, removed or renamed. `target_vm` names the VM whose disk
    image or memory file the path is, when it is one."""

    family: ClassVar[Family] = Family.HYPERVISOR
    process: Process
    syscall: str | None = None
    operation: Literal["open", "read", "write", "create", "delete", "rename", "chmod", "other"]
    paths: tuple[str, ...] = ()
    success: bool = True
    target_vm: str | None = None


class SyscallActivity(EventBase, frozen=True, kw_only=True, tag="syscall"):
    """Any other audited syscall: module loads, bind/listen/connect, mounts, ptrace, kill, ...

    `detail` keeps what the event's side records say that no attribute carries, keyed
    `RECORDTYPE.field`: `KERN_MODULE.name`, `NETFILTER_CFG.table`, `OBJ_PID.opid`, `BPF.op`, ...
    """

    family: ClassVar[Family] = Family.HYPERVISOR
    process: Process
    syscall: str | None = None
    syscall_nr: int | None = None
    arch: str | None = None
    success: bool = True
    exit_code: int | None = None
    paths: tuple[str, ...] = ()
    address: str | None = None  # decoded SOCKADDR: "ip:port", "[ip6]:port" or a unix path
    audit_key: str | None = None
    detail: dict[str, str] = {}


class HostAudit(EventBase, frozen=True, kw_only=True, tag="host_audit"):
    """An audit record that is not about a syscall (logins, PAM, daemon, configuration changes).
    Kept whole so nothing the host reported is lost."""

    family: ClassVar[Family] = Family.HYPERVISOR
    record_type: str
    fields: dict[str, str] = {}
    process: Process | None = None
    success: bool | None = None


VmState = Literal[
    "defined",
    "undefined",
    "started",
    "suspended",
    "resumed",
    "stopped",
    "shutdown",
    "crashed",  # the QEMU process died (libvirt `Stopped Crashed`)
    "guest_panic",  # the guest kernel panicked (libvirt `Crashed Panicked`): not a VMM crash
    "migrated",
    "rebooted",
    "pmsuspended",
    "other",
]


class VmLifecycle(EventBase, frozen=True, kw_only=True, tag="vm_lifecycle"):
    family: ClassVar[Family] = Family.HYPERVISOR
    vm_name: str
    vm_uuid: str | None = None
    state: VmState
    event_type: str  # libvirt's event name: lifecycle, reboot, ...
    detail: str | None = None  # libvirt's detail words, e.g. "Stopped Crashed"


class ContainerAlert(EventBase, frozen=True, kw_only=True, tag="container_alert"):
    """A container runtime security alert (Falco)."""

    family: ClassVar[Family] = Family.HYPERVISOR
    rule: str
    priority: str
    output: str = ""
    rule_source: str | None = None
    tags: tuple[str, ...] = ()
    container_id: str | None = None
    container_name: str | None = None
    image: str | None = None
    image_digest: str | None = None  # container.image.digest, `sha256:...`
    k8s_namespace: str | None = None
    k8s_pod: str | None = None
    process: Process | None = None
    file_path: str | None = None
    syscall: str | None = None
    user_name: str | None = None
    fields: dict[str, Any] = {}


# --- tenant (control plane) -------------------------------------------------------------------


class Actor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Who made a control-plane call. `instance_id` is set when the credentials are an instance
    role session of a VM (session name `i-...`)."""

    type: str | None = None
    arn: str | None = None
    account_id: str | None = None
    principal_id: str | None = None
    user_name: str | None = None
    access_key_id: str | None = None
    role_name: str | None = None
    session_name: str | None = None
    instance_id: str | None = None
    invoked_by: str | None = None


class Resource(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    type: str  # e.g. ec2:snapshot, ec2:image, rds:db-snapshot, s3:bucket, iam:role
    id: str
    arn: str | None = None
    account_id: str | None = None  # the owner account, when known


GranteeKind = Literal["account", "everyone", "principal", "service", "organization", "group"]


class Grant(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Access to `resource` given to (or, with `revoke`, taken from) someone.

    `conditional`: the statement that grants it carries a Condition (or a Lambda permission is
    narrowed by sourceArn / sourceAccount / principalOrgID while the grantee stays everyone or a
    service), so the grantee may be narrower than it reads; whether it is, is a policy evaluation
    question left to the detector.
    """

    resource: Resource
    grantee_kind: GranteeKind
    grantee: str  # account id, principal ARN, service name, "*" / "all" for everyone
    grantee_account_id: str | None = None
    permission: str | None = None
    revoke: bool = False
    conditional: bool = False


class ApiCall(EventBase, frozen=True, kw_only=True, tag="api_call"):
    family: ClassVar[Family] = Family.TENANT
    provider: str = "aws"
    service: str
    action: str
    # CloudTrail eventType (AwsApiCall, AwsConsoleSignIn, AwsServiceEvent, AwsConsoleAction,
    # AwsCloudTrailInsight) and eventCategory (Management, Data, Insight, NetworkActivity).
    event_type: str | None = None
    event_category: str | None = None
    region: str | None = None
    account_id: str | None = None  # the account the call landed in (recipientAccountId)
    actor: Actor
    source_ip: str | None = None  # a valid IP address, or None (see `source`)
    source: str | None = None  # sourceIPAddress as given when it is not an IP (a service name)
    user_agent: str | None = None
    outcome: Literal["success", "failure"] = "success"
    error_code: str | None = None
    error_message: str | None = None
    read_only: bool | None = None
    resources: tuple[Resource, ...] = ()
    grants: tuple[Grant, ...] = ()
    request_id: str | None = None
    vpc_endpoint_id: str | None = None


# --- network ----------------------------------------------------------------------------------


class Flow(EventBase, frozen=True, kw_only=True, tag="flow"):
    """One VPC flow log record. NODATA/SKIPDATA records are kept with `log_status` set and the
    traffic fields empty. `extra` keeps the present values of the fields no attribute carries
    (sublocation-*, pkt-*-aws-service, ecs-*, reject-reason, unknown header names), keyed by
    their log field name."""

    family: ClassVar[Family] = Family.NETWORK
    version: int
    account_id: str | None = None
    interface_id: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    instance_id: str | None = None
    src_addr: str | None = None
    dst_addr: str | None = None
    src_port: int | None = None
    dst_port: int | None = None
    protocol: int | None = None
    packets: int | None = None
    bytes: int | None = None
    start: UtcDatetime
    end: UtcDatetime
    action: Literal["ACCEPT", "REJECT"] | None = None
    log_status: Literal["OK", "NODATA", "SKIPDATA"] = "OK"
    tcp_flags: int | None = None
    traffic_type: str | None = None
    pkt_src_addr: str | None = None
    pkt_dst_addr: str | None = None
    region: str | None = None
    az_id: str | None = None
    flow_direction: Literal["ingress", "egress"] | None = None
    traffic_path: int | None = None
    extra: dict[str, str] = {}


Event = (
    ProcessExec
    | SeccompViolation
    | ProcessCrash
    | AccessDenial
    | FileAccess
    | SyscallActivity
    | HostAudit
    | VmLifecycle
    | ContainerAlert
    | ApiCall
    | Flow
)

_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[Event] = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    """Compact JSON, as published to Kafka and printed by `fenghuo parse`."""
    return _ENCODER.encode(event)


def decode_event(data: bytes | str) -> Event:
    """Decode and validate one JSON event; raises msgspec.ValidationError / DecodeError."""
    return _DECODER.decode(data)


def event_to_dict(event: Event) -> dict[str, Any]:
    """Plain JSON-compatible dict (times as RFC 3339 strings)."""
    result: dict[str, Any] = msgspec.to_builtins(event)
    return result


def event_family(event: Event) -> Family:
    return event.family
