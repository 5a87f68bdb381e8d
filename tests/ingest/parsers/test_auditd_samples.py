"""The public go-libaudit samples: everything parses, nothing is lost, interleaving is harmless."""

from __future__ import annotations

import collections
from pathlib import Path

import msgspec
import yaml

from fenghuo.ingest.parsers import make_parser
from fenghuo.ingest.parsers.auditd import AuditdParser
from fenghuo.ingest.parsers.base import ParseContext, ParseResult, RecordError
from fenghuo.model import (
    Event,
    FileAccess,
    HostAudit,
    ProcessExec,
    SyscallActivity,
    encode_event,
)
from tests.ingest.parsers.helpers import FIXED, run, split

CONTEXT = ParseContext(clock=lambda: FIXED)


def parse_file(path: Path) -> tuple[AuditdParser, list[ParseResult]]:
    parser = AuditdParser(CONTEXT)
    with path.open(encoding="utf-8") as handle:
        return parser, run(parser, handle, str(path))


def parse_text(text: str, source: str = "yaml") -> list[ParseResult]:
    return run(AuditdParser(CONTEXT), text.splitlines(), source)


def log_files(samples: Path) -> list[Path]:
    files = sorted((samples / "auditd").glob("*.log"))
    assert files, "no auditd samples"
    return files


def kinds(results: list[ParseResult]) -> dict[str, int]:
    return dict(collections.Counter(type(r).__name__ for r in results))


def test_registered() -> None:
    assert isinstance(make_parser("auditd"), AuditdParser)


def test_every_sample_line_is_accounted_for(samples: Path) -> None:
    for path in log_files(samples):
        parser, results = parse_file(path)
        events, errors = split(results)
        stats = parser.stats
        # Every line is a record or a record error; every record is in an emitted event.
        assert stats.lines == stats.blank_lines + stats.records + len(errors), path.name
        assert stats.events == len(events), path.name
        record_ids = {e.raw.record_id for e in events}
        lines = path.read_text(encoding="utf-8").splitlines()
        error_lines = {e.line for e in errors}
        for number, text in enumerate(lines, 1):
            if number in error_lines or not text.strip():
                continue
            record_id = text.split("msg=audit(", 1)[1].split(")", 1)[0]
            assert record_id in record_ids, (path.name, number)
        for event in events:
            encode_event(event)  # serialisable
            assert event.event_time.tzinfo is not None
            assert event.ingest_time == FIXED
            assert event.source_format == "auditd"


def test_sample_kinds(samples: Path) -> None:
    produced = {path.name: kinds(parse_file(path)[1]) for path in log_files(samples)}
    assert produced == {
        "go-libaudit-auparse-testdata-audit-rhel6.log": {"SyscallActivity": 1, "HostAudit": 1},
        "go-libaudit-auparse-testdata-audit-rhel7.log": {
            "HostAudit": 39,
            "RecordError": 1,
            "ProcessExec": 4,
            "SyscallActivity": 3,
        },
        "go-libaudit-auparse-testdata-audit-ubuntu16.log": {"HostAudit": 2, "AccessDenial": 1},
        "go-libaudit-auparse-testdata-audit-ubuntu17.log": {"ProcessExec": 1},
        "go-libaudit-testdata-normal.log": {"SyscallActivity": 3, "ProcessExec": 2},
        "go-libaudit-testdata-out_of_order.log": {"SyscallActivity": 3, "ProcessExec": 2},
    }


def _comparable(results: list[ParseResult]) -> list[bytes]:
    """Events without the fields that name where they were read (file, line)."""
    events, errors = split(results)
    assert not errors
    return sorted(encode_event(_without_raw_location(event)) for event in events)


def _without_raw_location(event: Event) -> Event:
    return msgspec.structs.replace(event, raw=msgspec.structs.replace(event.raw, source="", line=0))


def test_out_of_order_equals_normal(samples: Path) -> None:
    folder = samples / "auditd"
    _, normal = parse_file(folder / "go-libaudit-testdata-normal.log")
    _, shuffled = parse_file(folder / "go-libaudit-testdata-out_of_order.log")
    assert _comparable(normal) == _comparable(shuffled)
    assert len(normal) == 5


def test_normal_log_details(samples: Path) -> None:
    _, results = parse_file(samples / "auditd" / "go-libaudit-testdata-normal.log")
    by_id = {r.raw.record_id: r for r in results if not isinstance(r, RecordError)}
    connect = by_id["1492037289.295:58"]
    assert isinstance(connect, SyscallActivity)
    assert connect.syscall == "connect"
    assert connect.address == "169.254.169.254:80"
    assert connect.success is False
    assert connect.exit_code == -115
    assert connect.process.exe == "/usr/bin/python2.7;58d1ccfb (deleted)"
    grep = by_id["1492037291.036:59"]
    assert isinstance(grep, ProcessExec)
    assert grep.process.argv == ("grep", "--color=auto", "mapping")
    assert grep.process.cwd == "/home/andrew_kroh"
    assert grep.process.auid == 1000
    pickup = by_id["1492037298.883:61"]
    assert isinstance(pickup, SyscallActivity)
    assert pickup.syscall == "connect"
    assert pickup.address == "public/pickup"  # the unix socket path as given
    assert pickup.paths == ("/var/spool/postfix/public/pickup",)
    accept = by_id["1492037298.883:62"]
    assert isinstance(accept, SyscallActivity)
    assert accept.process.parent_exe == "/usr/libexec/postfix/master"


# The kind each go-libaudit coalescing test case must become.
YAML_EXPECTED: dict[str, type] = {
    "changed-system-time": SyscallActivity,
    "make-device": FileAccess,
    "CONFIG_CHANGE backlog limit": HostAudit,
    "CONFIG_CHANGE add rule": HostAudit,
    "LOGIN success": HostAudit,
    "USER_LOGIN": HostAudit,
    "USER_LOGOUT": HostAudit,
    "CRYPTO_KEY_USER": HostAudit,
    "CRYPTO_SESSION": HostAudit,
    "mount syscall": SyscallActivity,
    "linkat_syscall": SyscallActivity,
}


def yaml_tests(samples: Path) -> dict[str, str]:
    tests: dict[str, str] = {}
    for path in sorted((samples / "auditd").glob("*.yaml")):
        tests.update(yaml.safe_load(path.read_text(encoding="utf-8"))["tests"])
    return tests


def test_yaml_samples_parse_into_expected_kinds(samples: Path) -> None:
    tests = yaml_tests(samples)
    assert set(tests) == set(YAML_EXPECTED)
    for name, text in tests.items():
        results = parse_text(text, source=name)
        assert len(results) == 1, (name, results)
        assert isinstance(results[0], YAML_EXPECTED[name]), (name, results[0])


def test_yaml_sample_details(samples: Path) -> None:
    tests = yaml_tests(samples)

    (device,) = parse_text(tests["make-device"])
    assert isinstance(device, FileAccess)
    assert device.syscall == "mknod"
    assert device.operation == "create"
    assert device.paths == ("/run/systemd/sessions/23.ref",)
    assert device.process.exe == "/usr/lib/systemd/systemd-logind;58f98c85 (deleted)"

    (mount,) = parse_text(tests["mount syscall"])
    assert isinstance(mount, SyscallActivity)
    assert (mount.syscall, mount.paths, mount.audit_key) == ("mount", ("/run/user/0",), "mount")

    (link,) = parse_text(tests["linkat_syscall"])
    assert isinstance(link, SyscallActivity)
    assert (link.syscall, link.arch, link.success, link.exit_code) == (
        "linkat",
        "aarch64",
        False,
        -14,
    )

    (login,) = parse_text(tests["USER_LOGIN"])
    assert isinstance(login, HostAudit)
    assert login.record_type == "USER_LOGIN"
    assert login.success is False
    assert login.fields["acct"] == "root"
    assert login.fields["addr"] == "46.160.144.250"
    assert login.process is not None
    assert login.process.pid == 18981
    assert login.process.exe == "/usr/sbin/sshd"

    (rule,) = parse_text(tests["CONFIG_CHANGE add rule"])
    assert isinstance(rule, HostAudit)
    assert (rule.fields["op"], rule.fields["key"], rule.success) == ("add_rule", "pam", True)


def test_same_input_same_ids_and_no_duplicates(samples: Path) -> None:
    path = samples / "auditd" / "go-libaudit-auparse-testdata-audit-rhel7.log"
    _, first = parse_file(path)
    _, second = parse_file(path)
    assert [getattr(r, "id", None) for r in first] == [getattr(r, "id", None) for r in second]
    ids = [r.id for r in first if not isinstance(r, RecordError)]
    assert len(ids) == len(set(ids))


def test_rhel7_fragments(samples: Path) -> None:
    _, results = parse_file(samples / "auditd" / "go-libaudit-auparse-testdata-audit-rhel7.log")
    by_id = {r.raw.record_id: r for r in results if not isinstance(r, RecordError)}
    # NETFILTER_CFG and the finit_module that registered the table share serial 17.
    module = by_id["1481076984.827:17"]
    assert isinstance(module, SyscallActivity)
    assert (module.syscall, module.process.exe) == ("finit_module", "/usr/bin/kmod")
    assert module.detail == {
        "NETFILTER_CFG.table": "filter",
        "NETFILTER_CFG.family": "2",
        "NETFILTER_CFG.entries": "0",
    }
    # EXECVE, CWD and PATH of one exec, scattered through the file, without their SYSCALL.
    auditctl = by_id["1481077231.371:479"]
    assert isinstance(auditctl, ProcessExec)
    assert auditctl.process.exe == "/sbin/auditctl"
    assert auditctl.process.argv[:3] == ("auditctl", "-a", "exit,always")
    assert auditctl.process.cwd == "/home/andrew_kroh"
    user_cmd = by_id["1481077231.363:475"]
    assert isinstance(user_cmd, HostAudit)
    assert user_cmd.fields["cmd"] == "./metricbeat -c mb.dev.yml"
    (error,) = [r for r in results if isinstance(r, RecordError)]
    assert error.raw == "type=UNKNOWN[1329] msg=?"
