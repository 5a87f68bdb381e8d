"""Reassembling interleaved audit records into events."""

from __future__ import annotations

from fenghuo.ingest.parsers.auditd_coalesce import PendingEvent, Reassembler
from fenghuo.ingest.parsers.auditd_records import AuditRecord, parse_record


def rec(text: str, line: int = 1) -> AuditRecord:
    result = parse_record("t", line, text)
    assert isinstance(result, AuditRecord)
    return result


def syscall(ts: str, serial: int, nr: int = 257) -> str:
    return (
        f"type=SYSCALL msg=audit({ts}:{serial}): arch=c000003e syscall={nr} success=yes exit=3 "
        f'a0=ffffff9c a1=1 a2=0 a3=0 items=1 ppid=1 pid=100 comm="x" exe="/x" key=(null)'
    )


def path(ts: str, serial: int) -> str:
    return f'type=PATH msg=audit({ts}:{serial}): item=0 name="/etc/x" nametype=NORMAL'


def eoe(ts: str, serial: int) -> str:
    return f"type=EOE msg=audit({ts}:{serial}): "


def push_all(reassembler: Reassembler, texts: list[str]) -> list[list[PendingEvent]]:
    return [reassembler.push(rec(text, n), "h") for n, text in enumerate(texts, 1)]


def ids(events: list[PendingEvent]) -> list[tuple[str, int]]:
    return [(event.record_id, len(event.records)) for event in events]


def test_interleaved_events_complete_on_their_eoe() -> None:
    r = Reassembler()
    steps = push_all(
        r,
        [
            syscall("1.000", 1),
            syscall("1.000", 2),
            path("1.000", 1),
            path("1.000", 2),
            eoe("1.000", 2),
            eoe("1.000", 1),
        ],
    )
    assert [ids(step) for step in steps] == [
        [],
        [],
        [],
        [],
        [("1.000:2", 3)],
        [("1.000:1", 3)],
    ]
    assert r.open_events == 0
    assert r.flush() == []


def test_user_records_are_alone() -> None:
    r = Reassembler()
    (step,) = push_all(
        r, ["type=USER_LOGIN msg=audit(5.000:9): pid=1 uid=0 msg='op=login res=success'"]
    )
    assert ids(step) == [("5.000:9", 1)]


def test_seccomp_alone_unless_followed_by_its_syscall() -> None:
    seccomp = (
        'type=SECCOMP msg=audit(2.000:7): auid=4294967295 uid=107 pid=4242 comm="qemu-kvm" '
        'exe="/usr/libexec/qemu-kvm" sig=31 arch=c000003e syscall=59 code=0x80000000'
    )
    r = Reassembler()
    steps = push_all(r, [seccomp, syscall("2.000", 8)])
    assert ids(steps[1]) == [("2.000:7", 1)]  # emitted as soon as another event's record came

    r = Reassembler()
    steps = push_all(r, [seccomp, syscall("2.000", 7), eoe("2.000", 7)])
    assert ids(steps[1]) == []
    assert ids(steps[2]) == [("2.000:7", 3)]


def test_stale_needs_both_age_and_idle_records() -> None:
    r = Reassembler(max_age=2.0, reorder_window=3)
    steps = push_all(r, [syscall("10.000", 1), syscall("20.000", 2)])
    assert steps == [[], []]  # 10 s older, but only one record since: maybe still in flight
    steps = push_all(r, [path("20.000", 2), path("20.000", 2)])
    assert ids(steps[1]) == [("10.000:1", 1)]
    assert ids(r.flush()) == [("20.000:2", 3)]


def test_max_open_bound_evicts_least_recently_touched() -> None:
    r = Reassembler(max_open=2)
    steps = push_all(r, [syscall("1.000", 1), syscall("1.000", 2), syscall("1.000", 3)])
    assert ids(steps[2]) == [("1.000:1", 1)]
    assert r.open_events == 2


def test_late_record_becomes_a_fragment_and_late_eoe_is_absorbed() -> None:
    r = Reassembler()
    push_all(r, [syscall("1.000", 1), eoe("1.000", 1)])
    assert push_all(r, [eoe("1.000", 1)]) == [[]]
    assert r.stats.absorbed_eoe == 1
    push_all(r, [path("1.000", 1)])
    (late,) = r.flush()
    assert late.fragment == 1
    assert r.stats.late_fragments == 1


def test_hosts_are_separate_and_flush_is_in_audit_order() -> None:
    r = Reassembler()
    r.push(rec(syscall("3.000", 5)), "b")
    r.push(rec(syscall("3.000", 5)), "a")
    r.push(rec(syscall("1.000", 9)), "a")
    flushed = r.flush()
    assert [(e.host, e.record_id) for e in flushed] == [
        ("a", "1.000:9"),
        ("a", "3.000:5"),
        ("b", "3.000:5"),
    ]
