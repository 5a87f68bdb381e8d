"""What the hypervisor detectors' cases cannot express: vmm-crash's findings do not depend on the
order events arrive in (within the bounded out-of-orderness), its state expires, its escalation
keeps one alert per episode; the shared path and allow-list helpers; and the hand-off between
host-tampering and cross-vm-access."""

from __future__ import annotations

import datetime as dt
import heapq
import random
from collections.abc import Sequence

import msgspec
import pytest

from fenghuo.detectors.base import Case, Detector, Records
from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.engine import DetectionEngine, KeyState, Step
from fenghuo.detectors.hypervisor import (
    address_port,
    expand_patterns,
    libvirt_path_owner,
    matches_any,
    port_allowed,
    vm_of_path,
)
from fenghuo.detectors.registry import all_detectors
from fenghuo.detectors.rules.cross_vm_access import CrossVmAccess
from fenghuo.detectors.rules.host_tampering import HostTampering
from fenghuo.detectors.rules.vmm_crash import VmmCrash
from fenghuo.detectors.testing import FIXED_NOW, case_events, demo_inventory, run_case
from fenghuo.model import Event
from fenghuo.model.alert import Alert, Entity, Severity
from fenghuo.streaming.replay import fold_alerts, replay

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ACME_WEB = "system_u:system_r:svirt_t:s0:c101,c202"
ACME_DB = "system_u:system_r:svirt_t:s0:c105,c206"
GLOBEX_DB = "system_u:system_r:svirt_t:s0:c303,c404"


def case_named(detector: type[Detector], name: str) -> Case:
    return next(case for case in detector.cases if case.name == name)


def abend(at: dt.datetime, serial: int, label: str, pid: int, sig: int = 11) -> str:
    """An ANOM_ABEND record of qemu-kvm as the kernel writes it."""
    stamp = f"{(at - EPOCH).total_seconds():.3f}"
    return (
        f"node=hv-01 type=ANOM_ABEND msg=audit({stamp}:{serial}): auid=4294967295 uid=107 "
        f'gid=107 ses=4294967295 subj={label} pid={pid} comm="qemu-kvm" '
        f'exe="/usr/libexec/qemu-kvm" sig={sig} res=1'
    )


def stopped_crashed(at: dt.datetime, vm: str) -> str:
    stamp = at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
    return f"{stamp}: event 'lifecycle' for domain '{vm}': Stopped Crashed"


def crash_records(name: str, audit: list[str], libvirt: list[str]) -> list[Event]:
    records = []
    if audit:
        records.append(Records("auditd", "\n".join(audit)))
    if libvirt:
        records.append(Records("libvirt-events", "\n".join(libvirt), host_id="hv-01"))
    return case_events(Case(name, tuple(records), ()))


def at(hour: int, minute: int, second: int = 0, millis: int = 0) -> dt.datetime:
    return dt.datetime(2026, 1, 5, hour, minute, second, millis * 1000, tzinfo=dt.UTC)


def long_episode() -> list[Event]:
    """acme-web-1 crashing at :00, :10, :25, :31, :35, :50, :58 past 14:00: one long episode
    whose sliding window leaves the first dedup window (14:00-14:30) behind."""
    minutes = (0, 10, 25, 31, 35, 50, 58)
    return crash_records(
        "long episode", [], [stopped_crashed(at(14, m, 7, 250), "acme-web-1") for m in minutes]
    )


def boundary_pair() -> list[Event]:
    """One crash whose two records straddle a dedup window boundary (16:29:59.8, 16:30:00.3)."""
    return crash_records(
        "boundary pair",
        [abend(at(16, 29, 59, 800), 9901, ACME_DB, 7001)],
        [stopped_crashed(at(16, 30, 0, 300), "acme-db-1")],
    )


def all_crash_events() -> list[Event]:
    events: list[Event] = []
    for case in VmmCrash.cases:
        events += case_events(case)
    return events + long_episode() + boundary_pair()


def engine(detector: Detector, settings: dict[str, object] | None = None) -> DetectionEngine:
    config = DetectionConfig().with_settings(detector.meta.id, settings or {})
    return DetectionEngine([detector], demo_inventory().current, config, clock=lambda: FIXED_NOW)


class Stream:
    """A stream job in miniature: events in arrival order (not sorted), a watermark trailing the
    newest event time by `bound`, event-time timers fired as it passes them (as Flink does)."""

    def __init__(self, engine: DetectionEngine, bound: dt.timedelta) -> None:
        self.engine = engine
        self.bound = bound
        self.states: dict[str, KeyState] = {}
        self.timers: list[tuple[dt.datetime, str]] = []
        self.emitted: list[Alert] = []

    def _apply(self, state_key: str, step: Step) -> None:
        if step.state is None:
            self.states.pop(state_key, None)
        else:
            self.states[state_key] = step.state
        for timer in step.timers:
            if (timer, state_key) not in self.timers:
                heapq.heappush(self.timers, (timer, state_key))
        self.emitted += step.alerts

    def _advance(self, watermark: dt.datetime | None) -> None:
        while self.timers and (watermark is None or self.timers[0][0] <= watermark):
            timer, state_key = heapq.heappop(self.timers)
            detector_id, key = DetectionEngine.split_state_key(state_key)
            state = self.states.get(state_key)
            self._apply(state_key, self.engine.on_timer(detector_id, key, state, timer))

    def run(self, arrivals: Sequence[Event]) -> list[Alert]:
        watermark: dt.datetime | None = None
        for event in arrivals:
            candidate = event.event_time - self.bound
            if watermark is None or candidate > watermark:
                watermark = candidate
                self._advance(watermark)
            assert event.event_time >= watermark, "the arrival order breaks the bound"
            for detector_id, key in self.engine.route(event):
                state_key = DetectionEngine.state_key(detector_id, key)
                state = self.states.get(state_key)
                step = self.engine.on_event(detector_id, key, state, event, watermark)
                self._apply(state_key, step)
        self._advance(None)
        return fold_alerts(self.emitted)


def comparable(alerts: list[Alert]) -> list[Alert]:
    """The final alert set, ignoring processing time."""
    return sorted(
        (msgspec.structs.replace(a, detected_at=EPOCH) for a in alerts), key=lambda a: a.id
    )


def arrival_orders(events: list[Event], bound: dt.timedelta, seeds: int) -> list[list[Event]]:
    """Event-time order, and shuffles that delay each event by less than `bound` (sorted by
    event time plus a random delay: no event then arrives behind the watermark)."""
    ordered = sorted(events, key=lambda e: (e.event_time, e.id))
    orders = [ordered, list(reversed(ordered))] if bound > dt.timedelta(days=365) else [ordered]
    for seed in range(seeds):
        rng = random.Random(seed)
        delayed = [(e.event_time + rng.random() * bound, e.id, e) for e in events]
        orders.append([e for _, _, e in sorted(delayed, key=lambda d: (d[0], d[1]))])
    return orders


@pytest.mark.parametrize(
    "bound",
    [
        dt.timedelta(seconds=5),
        dt.timedelta(seconds=90),
        dt.timedelta(hours=1),
        dt.timedelta(days=400),
    ],
    ids=["5s", "90s", "1h", "any-order"],
)
def test_vmm_crash_alerts_do_not_depend_on_arrival_order(bound: dt.timedelta) -> None:
    events = all_crash_events()
    expected = comparable(replay(events, engine(VmmCrash())).alerts)
    assert any(a.severity == Severity.HIGH for a in expected)
    for arrivals in arrival_orders(events, bound, seeds=12):
        stream = Stream(engine(VmmCrash()), bound)
        assert comparable(stream.run(arrivals)) == expected
        assert stream.states == {}, "state left behind after every timer fired"


def test_the_two_records_of_one_crash_count_once() -> None:
    (alert,) = run_case(VmmCrash(), VmmCrash.cases[0])
    assert alert.severity == Severity.LOW
    assert alert.evidence_count == 2
    assert alert.dedup_key == "vm:hv-01/acme-web-1"
    assert alert.vm_id == "acme-web-1"
    # ... even across a dedup window boundary: one alert, from the first record's window
    (straddling,) = replay(boundary_pair(), engine(VmmCrash())).alerts
    assert straddling.evidence_count == 2
    assert straddling.first_seen == at(16, 29, 59, 800)


def test_escalated_alerts_name_the_tenant_or_the_host() -> None:
    case = case_named(VmmCrash, "three crashes of acme's VMs in 30 minutes escalate on the tenant")
    (tenant,) = [a for a in run_case(VmmCrash(), case) if a.severity == Severity.HIGH]
    assert tenant.dedup_key == "tenant:acme"
    assert (tenant.tenant_id, tenant.actor_tenant_id, tenant.host_id) == ("acme", None, "hv-01")
    assert tenant.evidence_count == 6  # three crashes, two records each
    assert tenant.details["crashes"] == 3
    assert tenant.details["vms"] == ["acme-db-1", "acme-web-1"]

    case = case_named(VmmCrash, "three tenants' VMs crashing on hv-01 escalate on the host")
    (host,) = [a for a in run_case(VmmCrash(), case) if a.severity == Severity.HIGH]
    assert host.dedup_key == "host:hv-01"
    assert (host.tenant_id, host.host_id) == (None, "hv-01")
    assert {Entity("tenant", "acme"), Entity("tenant", "globex")} <= set(host.entities)


def test_a_long_episode_stays_one_high_alert() -> None:
    alerts = replay(long_episode(), engine(VmmCrash())).alerts
    (high,) = [a for a in alerts if a.severity == Severity.HIGH]
    assert high.first_seen == at(14, 0, 7, 250)
    assert high.last_seen == at(14, 58, 7, 250)
    assert high.evidence_count == 7
    assert high.summary.startswith("4 VMM crashes of tenant acme's VMs within 30 min")
    lows = [a for a in alerts if a.severity == Severity.LOW]
    assert sum(a.evidence_count for a in lows) == 7  # every crash also has its low alert


def test_window_setting_narrows_escalation() -> None:
    case = case_named(VmmCrash, "three crashes of acme's VMs in 30 minutes escalate on the tenant")
    alerts = replay(case_events(case), engine(VmmCrash(), {"window_minutes": 5})).alerts
    assert {a.severity for a in alerts} == {Severity.LOW}


def test_unknown_qemu_crash_counts_for_its_host_only() -> None:
    unknown = "system_u:system_r:svirt_t:s0:c900,c901"  # a label the inventory does not know
    events = crash_records(
        "unknown",
        [
            abend(at(18, 0, 1), 9950, unknown, 8100),
            abend(at(18, 5, 1), 9951, unknown, 8200),
            abend(at(18, 9, 1), 9952, ACME_WEB, 8300),
        ],
        [],
    )
    alerts = replay(events, engine(VmmCrash())).alerts
    high = [a for a in alerts if a.severity == Severity.HIGH]
    assert [a.dedup_key for a in high] == ["host:hv-01"]
    assert "QEMU pid 8100" in next(a.summary for a in alerts if a.evidence_count == 1)


# --- host-tampering and cross-vm-access share the work ------------------------------------------


def qemu_creates(path: str, serial: int) -> Case:
    """acme-web-1's QEMU creates `path` (openat O_WRONLY|O_CREAT|O_TRUNC)."""
    head = f"node=hv-01 type=SYSCALL msg=audit(1767620000.{serial % 1000:03d}:{serial}):"
    proc = (
        "ppid=1 pid=4242 auid=4294967295 uid=107 gid=107 euid=107 suid=107 fsuid=107 egid=107 "
        f'sgid=107 fsgid=107 tty=(none) ses=4294967295 comm="qemu-kvm" '
        f'exe="/usr/libexec/qemu-kvm" subj={ACME_WEB} key=(null)'
    )
    stamp = head.split(": ", 1)[0].removeprefix("node=hv-01 type=SYSCALL ")
    lines = [
        f"{head} arch=c000003e syscall=257 success=yes exit=5 a0=ffffff9c a1=7f0e2c01f000 "
        f"a2=241 a3=1b6 items=1 {proc}",
        f'node=hv-01 type=CWD {stamp}: cwd="/"',
        f'node=hv-01 type=PATH {stamp}: item=0 name="{path}" inode=3145999 dev=fd:00 '
        "mode=0100600 ouid=107 ogid=107 rdev=00:00 nametype=CREATE",
        f"node=hv-01 type=EOE {stamp}:",
    ]
    return Case(f"qemu creates {path}", (Records("auditd", "\n".join(lines)),), ())


def test_another_vms_per_vm_file_is_cross_vm_access_not_host_tampering() -> None:
    case = qemu_creates("/var/lib/libvirt/qemu/domain-3-globex-db-1/monitor.sock", 4001)
    assert run_case(HostTampering(), case) == []
    (alert,) = run_case(CrossVmAccess(), case)
    assert (alert.severity, alert.tenant_id, alert.actor_tenant_id) == (
        Severity.CRITICAL,
        "globex",
        "acme",
    )
    assert "globex-db-1's per-VM file" in alert.summary


@pytest.mark.parametrize(
    ("path", "alerts"),
    [
        ("/var/lib/libvirt/qemu/domain-1-acme-web-1/vnc.sock", 0),  # its own runtime directory
        ("/var/lib/libvirt/images/acme-web-1.snap-20260105", 0),  # an overlay named after it
        ("/var/lib/libvirt/qemu/acme-web-1.xml", 1),  # libvirt's state, not QEMU's to write
        ("/etc/libvirt/qemu/acme-web-1.xml", 1),  # its own definition: qemu:commandline next
        ("/etc/ld.so.preload", 1),
        ("/tmp/qemu-scratch", 0),  # not a protected directory
    ],
)
def test_host_tampering_allow_list(path: str, alerts: int) -> None:
    found = run_case(HostTampering(), qemu_creates(path, 4100 + len(path)))
    assert len(found) == alerts
    assert all(a.severity == Severity.CRITICAL and a.tenant_id == "acme" for a in found)


def test_host_tampering_settings_replace_the_defaults() -> None:
    case = qemu_creates("/srv/vm-state/acme-web-1/extra", 4200)
    case = Case(case.name, case.records, (), settings={"protected_dirs": ["/srv/vm-state"]})
    assert len(run_case(HostTampering(), case)) == 1
    allowed = {"protected_dirs": ["/srv/vm-state"], "allowed_paths": ["/srv/vm-state/{vm}/*"]}
    case = Case(case.name, case.records, (), settings=allowed)
    assert run_case(HostTampering(), case) == []


# --- shared helpers -------------------------------------------------------------------------------


def test_libvirt_path_owner() -> None:
    assert libvirt_path_owner("/var/lib/libvirt/qemu/ram/2-umbrella-api-1/pc.ram") is not None
    owner = libvirt_path_owner("/dev/hugepages1G/libvirt/qemu/7-acme-web-1/ram-node0")
    assert owner is not None
    assert owner.short_name == "acme-web-1"
    nvram = libvirt_path_owner("/var/lib/libvirt/qemu/nvram/globex-db-1_VARS.fd")
    assert nvram is not None
    assert nvram.name == "globex-db-1"
    tpm = libvirt_path_owner("/var/lib/libvirt/swtpm/5A6B7C8D-9E0F-4A1B-8C2D-3E4F5A6B7C8D/tpm2")
    assert tpm is not None
    assert tpm.uuid == "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d"
    assert libvirt_path_owner("/var/lib/libvirt/qemu/acme-web-1.xml") is None
    assert libvirt_path_owner("/var/lib/libvirt/images/acme-web-1.qcow2") is None


def test_vm_of_path_resolves_short_names_on_the_host() -> None:
    index = demo_inventory().current()
    path = "/var/lib/libvirt/qemu/domain-3-globex-db-1/monitor.sock"
    vm = vm_of_path(index, "hv-01", path)
    assert vm is not None
    assert vm.name == "globex-db-1"
    assert vm_of_path(index, "hv-02", path) is None  # not a VM of that host
    disk = vm_of_path(index, None, "/var/lib/libvirt/images/acme-db-1.qcow2")
    assert disk is not None
    assert disk.tenant == "acme"


def test_expand_patterns_drops_what_it_cannot_fill() -> None:
    patterns = ["/a/{vm}/*", "/b/{uuid}/*", "/c/*-{short}/*", "/d/fixed"]
    long_name = "a-very-long-vm-name-over-twenty"
    assert expand_patterns(patterns, long_name) == [
        f"/a/{long_name}/*",
        "/c/*-a-very-long-vm-name-/*",
        "/d/fixed",
    ]
    assert expand_patterns(patterns, None) == ["/d/fixed"]
    # a VM name with glob characters matches only itself
    (escaped,) = expand_patterns(["/x/{vm}"], "vm[1]")
    assert matches_any("/x/vm[1]", [escaped])
    assert not matches_any("/x/vm1", [escaped])


def test_ports_and_addresses() -> None:
    allowed: list[int | str | Sequence[int]] = [10809, "5900-5999", [49152, 49215]]
    assert port_allowed(5901, allowed)
    assert port_allowed(10809, allowed)
    assert port_allowed(49200, allowed)
    assert not port_allowed(4444, allowed)
    assert address_port("0.0.0.0:4444") == 4444
    assert address_port("[::]:10809") == 10809
    assert address_port("/var/lib/libvirt/qemu/domain-1-acme-web-1/monitor.sock") is None
    assert address_port("@abstract") is None


def test_the_four_detectors_are_registered() -> None:
    found = all_detectors()
    for detector_id in ("vmm-seccomp-violation", "vmm-crash", "cross-vm-access", "host-tampering"):
        assert detector_id in found
