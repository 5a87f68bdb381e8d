"""Property tests: whatever the input, the auditd parser yields events or record errors and never
raises; the same input always yields the same ids."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fenghuo.ingest.parsers.auditd import AuditdParser
from fenghuo.ingest.parsers.base import ParseContext, RecordError
from tests.ingest.parsers.helpers import FIXED, check_results, run, split

# Strategies are built at import time, before fixtures exist: the same path as the `samples`
# fixture (tests/conftest.py), ../shared/samples beside the repository.
SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples"
RECORD_TYPES = ["SYSCALL", "EXECVE", "PATH", "CWD", "PROCTITLE", "SOCKADDR", "EOE", "AVC",
                "SECCOMP", "ANOM_ABEND", "USER_LOGIN", "CONFIG_CHANGE", "VIRT_CONTROL",
                "VIRT_MACHINE_ID", "OPENAT2", "UNKNOWN[1329]"]  # fmt: skip
KEYS = ["pid", "ppid", "exe", "syscall", "arch", "sig", "code", "a0", "a1", "argc", "a0[0]",
        "a0_len", "name", "item", "saddr", "proctitle", "subj", "scontext", "tcontext", "msg",
        "vm", "vm-pid", "op", "res", "success", "exit", "key", "oflag", "nametype"]  # fmt: skip
VALUES = ["", "?", "(null)", "-1", "0", "59", "313", "c000003e", "c00000b7", "0x80000000", "ZZ",
          "0A00", "02000050A9FEA9FE", "'op=start vm-pid=12 vm=x res=success'", '"q"',
          "'unterminated", "avc:  denied  { read } for", "4294967295", "CREATE",
          "99999999999999999999"]  # fmt: skip


def _sample_lines() -> list[str]:
    lines: list[str] = []
    for path in sorted((SAMPLES / "auditd").glob("*.log")):
        lines.extend(path.read_text(encoding="utf-8").splitlines())
    lines += [  # the attack-relevant shapes, so mutations exercise their mappers too
        "type=SECCOMP msg=audit(1767607261.300:5103): auid=4294967295 uid=107 gid=107 "
        'ses=4294967295 subj=system_u:system_r:svirt_t:s0:c101,c202 pid=4242 comm="qemu-kvm" '
        'exe="/usr/libexec/qemu-kvm" sig=31 arch=c000003e syscall=59 compat=0 ip=0x7f0e3c2e4f1b '
        "code=0x80000000",
        "type=ANOM_ABEND msg=audit(1767607262.400:5104): auid=4294967295 uid=107 gid=107 "
        'ses=4294967295 pid=4242 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=11 res=1',
        "type=AVC msg=audit(1767607263.500:5105): avc:  denied  { read write } for  pid=4242 "
        'comm="qemu-kvm" name="globex-db-1.qcow2" scontext=system_u:system_r:svirt_t:s0:c101,c202 '
        "tcontext=system_u:object_r:svirt_image_t:s0:c303,c404 tclass=file permissive=0",
        'type=EXECVE msg=audit(1767607200.100:5001): argc=3 a0="qemu-kvm" a1_len=4 '
        'a1[0]="-na" a1[1]="me" a2=67756573743D61',
        "type=PROCTITLE msg=audit(1767607200.100:5001): proctitle=71656D75002D6E616D650061",
        "type=EOE msg=audit(1767607200.100:5001):",
    ]
    return [line for line in lines if line]


SAMPLE_LINES = _sample_lines()


def _check(lines: list[str]) -> list[str]:
    parser = AuditdParser(
        ParseContext(
            host_id="hv-01",
            clock=lambda: FIXED,
            vm_for_label=lambda label: "vm-a" if "c101" in label else None,
        )
    )
    results = run(parser, lines, "prop", strip=False)
    check_results(results, fed=len(lines), format_name="auditd")
    return [event.id for event in split(results)[0]]


@st.composite
def mutated_line(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(SAMPLE_LINES))
    for _ in range(draw(st.integers(0, 4))):
        if not line:
            break
        at = draw(st.integers(0, len(line) - 1))
        operation = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "dup"]))
        piece = draw(
            st.sampled_from(
                ["=", '"', "'", " ", "(", ")", ":", "\x00", "\x1d", "{", "}", "ZZ", "é"]
            )
            | st.text(max_size=5)
        )
        if operation == "delete":
            line = line[:at] + line[at + 1 :]
        elif operation == "insert":
            line = line[:at] + piece + line[at:]
        elif operation == "replace":
            line = line[:at] + piece + line[at + 1 :]
        elif operation == "truncate":
            line = line[:at]
        else:
            line = line[:at] + line[at:] + line[at:]
    return line


@st.composite
def record_with_random_body(draw: st.DrawFn) -> str:
    """A valid header (few serials, so records collide into events) and a random body."""
    kind = draw(st.sampled_from(RECORD_TYPES))
    stamp = draw(st.sampled_from(["1767607200.100", "1767607201.000", "1767607299.999"]))
    serial = draw(st.integers(1, 4))
    prefix = draw(st.sampled_from(["", "node=hv-02 "]))
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES) | st.text(max_size=12)),
            max_size=12,
        )
    )
    body = " ".join(f"{key}={value}" for key, value in pairs)
    return f"{prefix}type={kind} msg=audit({stamp}:{serial}): {body}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(max_size=200), max_size=20))
def test_random_text_never_raises(lines: list[str]) -> None:
    _check(lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_with_random_body(), min_size=1, max_size=25))
def test_random_records_never_raise(lines: list[str]) -> None:
    _check(lines)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated_line() | st.sampled_from(SAMPLE_LINES), min_size=1, max_size=30))
def test_mutated_real_lines_never_raise_and_ids_are_deterministic(lines: list[str]) -> None:
    assert _check(lines) == _check(lines)


@settings(max_examples=100, deadline=None)
@given(st.permutations(SAMPLE_LINES[:40]))
def test_any_interleaving_keeps_every_record(lines: list[str]) -> None:
    parser = AuditdParser(ParseContext(clock=lambda: FIXED))
    results = run(parser, lines, "perm", strip=False)
    stats = parser.stats
    assert stats.lines == stats.blank_lines + stats.records + stats.errors
    assert stats.events == sum(1 for r in results if not isinstance(r, RecordError))


def test_samples_were_found(samples: Path) -> None:
    assert samples == SAMPLES
    assert len(SAMPLE_LINES) > 50
