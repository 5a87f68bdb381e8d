"""The renderers write each format exactly as its tool does, and the real parsers read back what
was meant."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from fenghuo.ingest.parsers import RecordError, make_parser, parse_lines, raw_lines
from fenghuo.ingest.parsers.auditd_values import sockaddr_address
from fenghuo.model import (
    AccessDenial,
    ApiCall,
    ContainerAlert,
    Event,
    FileAccess,
    Flow,
    ProcessCrash,
    ProcessExec,
    SeccompViolation,
    SyscallActivity,
    VmLifecycle,
)
from fenghuo.simulate.emission import AuditEvent
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import auditd as au
from fenghuo.simulate.render import cloudtrail as ct
from fenghuo.simulate.render.falco import falco_line
from fenghuo.simulate.render.libvirt import lifecycle, virsh_line
from fenghuo.simulate.render.vpcflow import HEADER, Interface, flow_line, nodata_line
from fenghuo.simulate.world import IamUser, Tenant

T = dt.datetime(2026, 1, 5, 10, 42, 10, 123000, tzinfo=dt.UTC)
QEMU = au.Proc(
    4242,
    1187,
    "/usr/libexec/qemu-kvm",
    "qemu-kvm",
    ("/usr/libexec/qemu-kvm",),
    "system_u:system_r:svirt_t:s0:c101,c202",
    uid=107,
    gid=107,
)


def _events(fmt: str, lines: list[str], host: str | None = None) -> list[Event]:
    parser = make_parser(fmt)
    parser.context.host_id = host
    results = list(parse_lines(parser, raw_lines("test", lines)))
    assert not [r for r in results if isinstance(r, RecordError)]
    return [r for r in results if not isinstance(r, RecordError)]


def test_untrusted_strings_are_quoted_or_hex_like_the_kernel() -> None:
    assert au.untrusted("/usr/bin/bash") == '"/usr/bin/bash"'
    assert au.untrusted("id; uname -a") == "69643B20756E616D65202D61"
    assert au.untrusted('a"b') == "612262"
    assert au.proctitle(("id",)) == '"id"'
    title = au.proctitle(("/usr/libexec/qemu-kvm", "-name", "x" * 300))
    assert len(bytes.fromhex(title)) == 128  # the kernel keeps 128 bytes


def test_audit_lines_carry_node_timestamp_and_serial() -> None:
    event = au.exec_event(
        QEMU.child(4300, "/usr/bin/bash", ("/bin/sh", "-c", "id")), "shell_exec_t"
    )
    lines = au.audit_lines("hv-01", T, 5102, event)
    assert lines[0].startswith("node=hv-01 type=SYSCALL msg=audit(1767609730.123:5102): arch=")
    assert [line.split()[1] for line in lines] == [
        "type=SYSCALL",
        "type=EXECVE",
        "type=CWD",
        "type=PATH",
        "type=PATH",
        "type=PROCTITLE",
        "type=EOE",
    ]
    assert lines[-1] == "node=hv-01 type=EOE msg=audit(1767609730.123:5102):"
    (parsed,) = _events("auditd", lines)
    assert parsed.host_id == "hv-01"
    assert isinstance(parsed, ProcessExec)
    assert parsed.process.argv == ("/bin/sh", "-c", "id")
    assert parsed.process.comm == "sh"


def test_socket_module_and_file_events_map_as_intended() -> None:
    root = QEMU.child(4310, "/usr/bin/ncat", ("ncat", "-lkp", "4444"), uid=0, gid=0)
    assert sockaddr_address(au.sockaddr_ipv4("0.0.0.0", 4444)) == "0.0.0.0:4444"
    events: list[AuditEvent] = [
        au.socket_event(root, au.BIND, "0.0.0.0", 4444),
        au.module_load_event(root, "vhost_esc"),
        au.open_event(
            root,
            "/etc/cron.d/x",
            "system_u:object_r:system_cron_spool_t:s0",
            flags=au.O_WRONLY_CREAT_TRUNC,
            create=True,
            key="cron",
        ),
        au.rename_event(root, "/etc/a;1", "/etc/a", "system_u:object_r:etc_t:s0", key="etc"),
    ]
    lines = [
        line for serial, e in enumerate(events) for line in au.audit_lines("hv-01", T, serial, e)
    ]
    bind, module, created, renamed = _events("auditd", lines)
    assert isinstance(bind, SyscallActivity)
    assert bind.syscall == "bind"
    assert bind.address == "0.0.0.0:4444"
    assert isinstance(module, SyscallActivity)
    assert module.syscall == "finit_module"
    assert module.detail["KERN_MODULE.name"] == "vhost_esc"
    assert isinstance(created, FileAccess)
    assert created.operation == "create"
    assert created.paths == ("/etc/cron.d/x",)
    assert isinstance(renamed, FileAccess)
    assert renamed.operation == "rename"


def test_seccomp_abend_and_avc_records() -> None:
    target = "/var/lib/libvirt/images/globex-db-1.qcow2"
    label = "system_u:object_r:svirt_image_t:s0:c303,c404"
    events = [
        au.seccomp_event(QEMU, au.EXECVE),
        au.abend_event(QEMU, 31),
        au.avc_open_event(QEMU, target, label),
        au.avc_open_event(QEMU, target, label, permissions="getattr", permissive=True),
    ]
    lines = [line for n, e in enumerate(events) for line in au.audit_lines("hv-01", T, n, e)]
    seccomp, crash, denied, permissive = _events("auditd", lines)
    assert isinstance(seccomp, SeccompViolation)
    assert seccomp.syscall == "execve"
    assert seccomp.action == "kill_process"
    assert isinstance(crash, ProcessCrash)
    assert crash.signal == 31
    assert isinstance(denied, AccessDenial)
    assert denied.target_path == target
    assert denied.permissions == ("read", "write")
    assert isinstance(permissive, AccessDenial)
    assert permissive.permissive is True


def test_virsh_lines_match_the_sample_format(samples: Path) -> None:
    sample = (samples / "libvirt/virsh-events.log").read_text().splitlines()
    assert (
        lifecycle(
            dt.datetime(2026, 1, 5, 10, 0, 1, 120000, tzinfo=dt.UTC), "acme-web-1", "Started Booted"
        )
        == sample[0]
    )
    assert (
        virsh_line(
            dt.datetime(2026, 1, 5, 10, 31, 44, 871000, tzinfo=dt.UTC), "reboot", "acme-web-1"
        )
        == sample[2]
    )
    (event,) = _events("libvirt-events", [lifecycle(T, "x", "Stopped Crashed")], host="hv-01")
    assert isinstance(event, VmLifecycle)
    assert event.state == "crashed"
    assert event.host_id == "hv-01"


def test_falco_alert_round_trips() -> None:
    line = falco_line(
        T,
        "hv-02",
        "Terminal shell in container",
        "Notice",
        "A shell (x)",
        {"container.id": "3f2a1b4c5d6e", "proc.name": "bash"},
        ("shell",),
        nanos=456789,
    )
    alert = json.loads(line)
    assert alert["time"] == "2026-01-05T10:42:10.123456789Z"
    assert alert["output"].startswith("10:42:10.123456789: Notice ")
    assert alert["output_fields"]["evt.time"] == 1767609730123456789
    assert list(alert) == sorted(alert)
    (event,) = _events("falco", [line])
    assert isinstance(event, ContainerAlert)
    assert event.container_id == "3f2a1b4c5d6e"


def test_flow_lines_under_the_v5_header(samples: Path) -> None:
    assert (samples / "vpcflow/v5-custom.log").read_text().splitlines()[0] == HEADER
    nic = Interface(
        "111111111111",
        "eni-0acme0001",
        "vpc-0acme01",
        "subnet-0acme01",
        "i-0acme0000000001",
        "cnn1-az1",
    )
    window = (T.replace(microsecond=0), T.replace(microsecond=0) + dt.timedelta(seconds=60))
    lines = [
        HEADER,
        flow_line(
            nic,
            "10.1.0.11",
            "10.2.0.21",
            51234,
            443,
            6,
            14,
            8120,
            window,
            "ACCEPT",
            "egress",
            tcp_flags=3,
            traffic_path=1,
        ),
        flow_line(
            nic,
            "192.0.2.7",
            "10.1.0.11",
            44321,
            22,
            6,
            1,
            40,
            window,
            "REJECT",
            "ingress",
            tcp_flags=2,
            traffic_path=8,
        ),
        nodata_line(nic, window),
    ]
    out, scan, idle = _events("vpcflow", lines)
    assert isinstance(out, Flow)
    assert out.traffic_path == 1
    assert out.flow_direction == "egress"
    assert isinstance(scan, Flow)
    assert scan.action == "REJECT"
    assert scan.traffic_path is None
    assert isinstance(idle, Flow)
    assert idle.log_status == "NODATA"


def test_cloudtrail_sharing_record_becomes_a_grant() -> None:
    rand = Rand(1)
    user = IamUser("ops-admin", "AKIAEXAMPLE000000001", "AIDAEXAMPLE0000000001")
    tenant = Tenant(
        id="acme",
        name="ACME",
        index=1,
        accounts=("111111111111",),
        vpc="vpc-1",
        subnets=("subnet-1", "subnet-2"),
        vpc_endpoint="vpce-1",
        critical=False,
        users=(user,),
        role_name="acme-role",
        role_id="AROAEXAMPLE",
        office_ip="203.0.113.9",
        buckets=("b",),
        snapshots=("snap-1",),
        images=("ami-1",),
        db_snapshots=("db",),
        secrets=("s",),
    )
    params = {
        "snapshotId": "snap-1",
        "attributeType": "CREATE_VOLUME_PERMISSION",
        "createVolumePermission": {"add": {"items": [{"userId": "222222222222"}]}},
    }
    call = ct.Call(
        time=T,
        service="ec2.amazonaws.com",
        action="ModifySnapshotAttribute",
        identity=ct.iam_user(tenant, user),
        source_ip=tenant.office_ip,
        recipient=tenant.account,
        parameters=params,
        read_only=False,
    )
    (event,) = _events("cloudtrail", [ct.record(rand, call)])
    assert isinstance(event, ApiCall)
    assert [(g.resource.id, g.grantee_account_id) for g in event.grants] == [
        ("snap-1", "222222222222")
    ]
    assert event.actor.user_name == "ops-admin"
    assert event.source_ip == "203.0.113.9"
