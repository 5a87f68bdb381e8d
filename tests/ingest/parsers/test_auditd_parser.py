"""Parser-level behaviour: record errors, the safety net, fragments, stats."""

from __future__ import annotations

import logging

import pytest

from fenghuo.ingest.parsers.auditd import AuditdParser
from fenghuo.ingest.parsers.base import ParseContext, ParseResult, RecordError, raw_lines
from fenghuo.model import HostAudit, SyscallActivity, event_id
from tests.ingest.parsers import helpers
from tests.ingest.parsers.helpers import FIXED, split

OPEN = (
    "type=SYSCALL msg=audit(1767607264.600:5106): arch=c000003e syscall=257 success=yes exit=27 "
    "a0=ffffff9c a1=7f0e2c01a2b0 a2=80000 a3=0 items=0 ppid=1 pid=4242 auid=4294967295 uid=107 "
    "gid=107 euid=107 suid=107 fsuid=107 egid=107 sgid=107 fsgid=107 tty=(none) ses=4294967295 "
    'comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" '
    "subj=system_u:system_r:svirt_t:s0:c101,c202 key=(null)"
)
EOE = "type=EOE msg=audit(1767607264.600:5106):"


def run(lines: list[str], parser: AuditdParser | None = None) -> list[ParseResult]:
    parser = parser or AuditdParser(ParseContext(host_id="hv-01", clock=lambda: FIXED))
    return helpers.run(parser, lines, "in.log")


def test_junk_between_records_is_a_record_error_and_does_not_break_the_event() -> None:
    results = run([OPEN, "garbage here", "", "type=UNKNOWN[1329] msg=?", EOE])
    (event,), errors = split(results)
    assert [(e.source, e.line, e.format) for e in errors] == [
        ("in.log", 2, "auditd"),
        ("in.log", 4, "auditd"),
    ]
    assert "no type=... msg=audit(...) header" in errors[0].reason
    assert errors[1].raw == "type=UNKNOWN[1329] msg=?"
    assert isinstance(event, SyscallActivity)  # no PATH: openat without a file is activity
    assert event.syscall == "openat"


def test_eoe_emits_immediately_and_close_emits_the_rest() -> None:
    parser = AuditdParser(ParseContext(clock=lambda: FIXED))
    out = list(parser.feed(next(raw_lines("s", [OPEN]))))
    assert out == []
    out = list(parser.feed(next(raw_lines("s", [EOE], start=2))))
    assert len(out) == 1
    assert list(parser.close()) == []
    later = OPEN.replace(":5106", ":5107")
    assert list(parser.feed(next(raw_lines("s", [later], start=3)))) == []
    assert len(list(parser.close())) == 1


def test_late_record_is_kept_as_a_fragment_with_its_own_id() -> None:
    cwd = 'type=CWD msg=audit(1767607264.600:5106): cwd="/"'
    results = run([OPEN, EOE, cwd])
    first, late = results
    assert isinstance(first, SyscallActivity)
    assert isinstance(late, HostAudit)
    assert late.record_type == "CWD"
    assert first.id == event_id("auditd", "hv-01", "1767607264.600:5106")
    assert late.id == event_id("auditd", "hv-01", "1767607264.600:5106", "fragment-1")
    assert late.raw.record_id == first.raw.record_id


def test_mapping_failure_becomes_a_record_error(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_label: str) -> str | None:
        raise RuntimeError("inventory exploded")

    parser = AuditdParser(ParseContext(clock=lambda: FIXED, vm_for_label=broken))
    with caplog.at_level(logging.ERROR):
        (result,) = run([OPEN, EOE], parser)
    assert isinstance(result, RecordError)
    assert "inventory exploded" in result.reason
    assert result.raw == f"{OPEN}\n{EOE}"
    assert result.line == 1
    assert parser.stats.errors == 1


def test_stats_account_for_every_line() -> None:
    parser = AuditdParser(ParseContext(clock=lambda: FIXED))
    run([OPEN, "", "junk", EOE, EOE], parser)
    stats = parser.stats
    assert (stats.lines, stats.blank_lines, stats.records, stats.errors) == (5, 1, 3, 1)
    assert (stats.events, stats.absorbed_eoe) == (1, 1)


def test_kernel_config_records_with_their_carrier_syscall_stay_host_audit() -> None:
    # Modern kernels log LOGIN (a write to /proc/self/loginuid) and CONFIG_CHANGE (auditctl's
    # netlink sendto) inside the syscall: the SYSCALL shares their serial and ends with EOE.
    lines = [
        "type=LOGIN msg=audit(1767600000.100:300): pid=3171 uid=0 "
        "subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 old-auid=4294967295 auid=1000 tty=(none) "
        "old-ses=4294967295 ses=13 res=1",
        "type=SYSCALL msg=audit(1767600000.100:300): arch=c000003e syscall=1 success=yes exit=4 "
        "a0=5 a1=7ffd4a2c2d10 a2=4 a3=0 items=0 ppid=1204 pid=3171 auid=1000 uid=0 gid=0 "
        'euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=13 comm="sshd" '
        'exe="/usr/sbin/sshd" subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 key=(null)',
        "type=PROCTITLE msg=audit(1767600000.100:300): "
        "proctitle=737368643A2075736572205B707269765D",
        "type=EOE msg=audit(1767600000.100:300):",
        "type=CONFIG_CHANGE msg=audit(1767600001.000:301): auid=1000 ses=13 "
        'subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 op=remove_rule key="vmm-exec" '
        "list=4 res=1",
        "type=SYSCALL msg=audit(1767600001.000:301): arch=c000003e syscall=44 success=yes "
        "exit=1084 a0=4 a1=7ffc1b2f6b70 a2=43c a3=0 items=0 ppid=3200 pid=3301 auid=1000 uid=0 "
        'gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=13 comm="auditctl" '
        'exe="/usr/sbin/auditctl" subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 '
        "key=(null)",
        "type=SOCKADDR msg=audit(1767600001.000:301): saddr=100000000000000000000000",
        "type=PROCTITLE msg=audit(1767600001.000:301): proctitle=617564697463746C002D44",
        "type=EOE msg=audit(1767600001.000:301):",
    ]
    login, change = run(lines)
    assert isinstance(login, HostAudit)
    assert (login.record_type, login.fields["auid"], login.success) == ("LOGIN", "1000", True)
    assert login.fields["syscall_name"] == "write"
    assert login.process is not None
    assert (login.process.exe, login.process.ppid) == ("/usr/sbin/sshd", 1204)
    assert login.process.argv == ("sshd: user [priv]",)
    assert isinstance(change, HostAudit)
    assert (change.record_type, change.fields["op"], change.fields["key"]) == (
        "CONFIG_CHANGE",
        "remove_rule",
        "vmm-exec",
    )
    assert change.process is not None
    assert change.process.argv == ("auditctl", "-D")
