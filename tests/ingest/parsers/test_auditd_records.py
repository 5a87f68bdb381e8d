"""Tokenising single auditd lines and decoding their values."""

from __future__ import annotations

import pytest

from fenghuo.ingest.parsers.auditd_process import is_qemu, mcs_categories, vm_from_argv
from fenghuo.ingest.parsers.auditd_records import (
    AuditRecord,
    BadRecord,
    Flush,
    flush_policy,
    parse_record,
    record_type_number,
)
from fenghuo.ingest.parsers.auditd_syscalls import arch_name, syscall_name
from fenghuo.ingest.parsers.auditd_values import (
    audit_key,
    execve_argv,
    file_operation,
    proctitle_argv,
    resolve_path,
    seccomp_action,
    signal_name,
    sockaddr_address,
    success_of,
)


def record(text: str) -> AuditRecord:
    result = parse_record("test", 1, text)
    assert isinstance(result, AuditRecord), result
    return result


def test_header_and_quoted_unquoted_values() -> None:
    rec = record(
        "type=SYSCALL msg=audit(1492037291.036:59): arch=c000003e syscall=59 success=yes exit=0 "
        'ppid=12041 pid=13393 tty=(none) comm="grep" exe="/usr/bin/grep" key="user_commands"'
    )
    assert (rec.type, rec.seconds, rec.millis, rec.serial) == ("SYSCALL", "1492037291", "036", "59")
    assert rec.record_id == "1492037291.036:59"
    assert rec.node is None
    assert rec.fields["comm"] == "grep"
    assert rec.fields["tty"] == "(none)"
    assert rec.fields["key"] == "user_commands"


def test_node_prefix() -> None:
    rec = record('node=hv-01 type=CWD msg=audit(1700000000.001:7):  cwd="/"')
    assert rec.node == "hv-01"
    assert rec.fields == {"cwd": "/"}


def test_hex_encoded_fields_are_decoded_only_where_auditd_encodes() -> None:
    rec = record(
        "type=SYSCALL msg=audit(1492037289.295:58): arch=c000003e syscall=42 a0=6 a2=10 "
        "exe=2F7573722F62696E2F707974686F6E322E37 key=(null)"
    )
    assert rec.fields["exe"] == "/usr/bin/python2.7"
    assert rec.fields["a2"] == "10"  # a register, not text
    assert rec.fields["key"] == "(null)"
    cwd = record("type=CWD msg=audit(1500661699.656:1208725):  cwd=2F746D702F6120622063")
    assert cwd.fields["cwd"] == "/tmp/a b c"


def test_user_record_inner_msg_fields() -> None:
    rec = record(
        "type=USER_LOGIN msg=audit(1492896301.818:19955): pid=12635 uid=0 auid=4294967295 "
        'ses=4294967295 msg=\'op=login acct=28696E76616C6964207573657229 exe="/usr/sbin/sshd" '
        "hostname=? addr=179.38.151.221 terminal=sshd res=failed'"
    )
    assert rec.fields["acct"] == "(invalid user)"
    assert rec.fields["exe"] == "/usr/sbin/sshd"
    assert rec.fields["res"] == "failed"
    assert rec.fields["msg"].startswith("op=login")
    assert success_of(rec.fields) is False


def test_header_without_colon_and_bare_words() -> None:
    rec = record(
        "type=DAEMON_CONFIG msg=audit(1490239800.477:34) config changed, auid=0 pid=1512 "
        "subj=system_u:system_r:unconfined_service_t:s0 res=success"
    )
    assert rec.fields == {
        "auid": "0",
        "pid": "1512",
        "subj": "system_u:system_r:unconfined_service_t:s0",
        "res": "success",
    }


def test_avc_permissions() -> None:
    rec = record(
        "type=AVC msg=audit(1767607263.500:5105): avc:  denied  { read write } for  pid=4242 "
        'comm="qemu-kvm" name="globex-db-1.qcow2" dev="dm-0" ino=3407873 '
        "scontext=system_u:system_r:svirt_t:s0:c101,c202 "
        "tcontext=system_u:object_r:svirt_image_t:s0:c303,c404 tclass=file permissive=0"
    )
    assert rec.fields["seresult"] == "denied"
    assert rec.fields["seperms"] == "read,write"
    assert rec.fields["tcontext"] == "system_u:object_r:svirt_image_t:s0:c303,c404"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("type=UNKNOWN[1329] msg=?", "no msg=audit"),
        ("hello world", "not an audit record"),
        ("type=SYSCALL msg=audit(999999999999.000:1): x=1", "out of range"),
        ("", "not an audit record"),
    ],
)
def test_junk_is_a_bad_record(text: str, reason: str) -> None:
    result = parse_record("test", 3, text)
    assert isinstance(result, BadRecord)
    assert reason in result.reason


def test_enriched_format_fields() -> None:
    rec = record(
        "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=257 success=yes "
        'comm="cat"\x1dARCH=x86_64 SYSCALL=openat AUID="unset"'
    )
    assert rec.fields["SYSCALL"] == "openat"
    assert rec.fields["comm"] == "cat"


def test_flush_policy() -> None:
    assert flush_policy("EOE") is Flush.END
    assert flush_policy("USER_LOGIN") is Flush.ALONE
    assert flush_policy("CRED_ACQ") is Flush.ALONE
    assert flush_policy("DAEMON_START") is Flush.ALONE
    assert flush_policy("VIRT_CONTROL") is Flush.ALONE
    assert flush_policy("UNKNOWN[1112]") is Flush.ALONE
    assert flush_policy("SECCOMP") is Flush.UNLESS_FOLLOWED
    assert flush_policy("ANOM_ABEND") is Flush.UNLESS_FOLLOWED
    for kernel in ("SYSCALL", "PATH", "AVC", "CONFIG_CHANGE", "LOGIN", "NETFILTER_CFG", "FOO"):
        assert flush_policy(kernel) is Flush.WAIT, kernel
    assert record_type_number("UNKNOWN[1329]") == 1329
    assert record_type_number("UNKNOWN[x]") is None


def test_execve_argv_plain_hex_and_split() -> None:
    rec = record(
        'type=EXECVE msg=audit(1700000000.000:1): argc=4 a0="qemu-img" a1_len=12 '
        'a1[0]="abcdef" a1[1]="ghijkl" a2=2D2D666F726365206E6F77 a3="x"'
    )
    assert execve_argv([rec]) == ("qemu-img", "abcdefghijkl", "--force now", "x")


def test_execve_argv_spread_over_records() -> None:
    first = record('type=EXECVE msg=audit(1700000000.000:1): argc=3 a0="a" a1="b"')
    second = record('type=EXECVE msg=audit(1700000000.000:1): a2="c"')
    assert execve_argv([first, second]) == ("a", "b", "c")


def test_proctitle_argv() -> None:
    rec = record(
        "type=PROCTITLE msg=audit(1700000000.000:1): "
        "proctitle=2F62696E2F7368002D63006964203B20636174202F6574632F736861646F77"
    )
    assert proctitle_argv(rec.fields["proctitle"]) == ("/bin/sh", "-c", "id ; cat /etc/shadow")
    quoted = record('type=PROCTITLE msg=audit(1700000000.000:1): proctitle="bash"')
    assert proctitle_argv(quoted.fields["proctitle"]) == ("bash",)
    assert proctitle_argv("(null)") == ()


@pytest.mark.parametrize(
    ("saddr", "expected"),
    [
        ("02000050A9FEA9FE0000000000000000", "169.254.169.254:80"),
        ("0A000016000000000000000000000000000000000000000000000000", "[::]:22"),
        ("01002F7661722F72756E2F6E7363642F736F636B65740000603B", "/var/run/nscd/socket"),
        ("0100006162630000", "@abc"),
        ("100000000000000000000000", None),  # netlink
        ("zz", None),
        ("020000", None),
    ],
)
def test_sockaddr(saddr: str, expected: str | None) -> None:
    assert sockaddr_address(saddr) == expected


def test_small_decoders() -> None:
    assert seccomp_action("0x80000000") == "kill_process"
    assert seccomp_action("0x0") == "kill_thread"
    assert seccomp_action("0x50001") == "errno"
    assert seccomp_action("0x7ffc0000") == "log"
    assert seccomp_action("0x30000") == "trap"
    assert seccomp_action("0x7fff0000") == "allow"
    assert seccomp_action("junk") is None
    assert signal_name(11) == "SIGSEGV"
    assert signal_name(99) is None
    assert audit_key("(null)") is None
    assert audit_key("a\x01b") == "a,b"
    assert arch_name("C000003E") == "x86_64"
    assert syscall_name("c000003e", 59) == "execve"
    assert syscall_name("c00000b7", 221) == "execve"
    assert syscall_name("c00000b7", 273) == "finit_module"
    assert syscall_name("c000003e", 313) == "finit_module"
    assert syscall_name("40000003", 11) is None
    assert resolve_path("../images/x.qcow2", "/var/lib/libvirt/qemu") == (
        "/var/lib/libvirt/images/x.qcow2"
    )
    assert resolve_path("rel", "/cwd", relative_to_cwd=False) == "rel"
    assert resolve_path("(null)", "/") is None


@pytest.mark.parametrize(
    ("syscall", "args", "objtypes", "expected"),
    [
        ("openat", {"a2": "80000"}, {"NORMAL"}, "read"),
        ("openat", {"a2": "80002"}, {"NORMAL"}, "write"),
        ("openat", {"a2": "241"}, {"CREATE"}, "create"),
        ("open", {"a1": "441"}, {"NORMAL"}, "write"),
        ("openat2", {}, {"NORMAL"}, "open"),
        ("creat", {}, {"NORMAL"}, "create"),
    ],
)
def test_open_operation(
    syscall: str, args: dict[str, str], objtypes: set[str], expected: str
) -> None:
    assert file_operation("open", syscall, args, objtypes) == expected


def test_qemu_helpers() -> None:
    argv = ["/usr/libexec/qemu-kvm", "-name", "guest=acme-web-1,debug-threads=on", "-S"]
    assert is_qemu(None, argv)
    assert is_qemu("/usr/bin/qemu-system-x86_64", [])
    assert not is_qemu("/usr/sbin/libvirtd", ["libvirtd"])
    assert vm_from_argv(argv) == "acme-web-1"
    assert vm_from_argv(["qemu-system-x86_64", "-name", "plain"]) == "plain"
    assert vm_from_argv(["qemu-system-x86_64", "-name", "a,,b,process=x"]) == "a,b"
    assert vm_from_argv(["qemu-system-x86_64", "-name"]) is None
    assert mcs_categories("system_u:system_r:svirt_t:s0:c202,c101") == "c101,c202"
    assert mcs_categories("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023") is None
