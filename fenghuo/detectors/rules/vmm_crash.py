"""vmm-crash: QEMU processes dying, alone (low) and repeatedly (high).

A guest that crashes its own VMM is the common outcome of a QEMU device-emulation bug and the
noisy phase of developing an escape exploit: heap grooming and out-of-bounds experiments against
a virtual device crash QEMU again and again before one works. One crash is worth a low alert (it
may be a bug); several crashes of one tenant's VMs, or of VMs on one host, within a short window
are the pattern of exploit development (or of a guest attacking a shared host), worth a high one.

Evidence: the kernel's ANOM_ABEND record of a QEMU process (a core-dumping signal: SIGSEGV,
SIGABRT from an assertion, ...) and libvirt's `Stopped Crashed` lifecycle event. The two report
the same crash, usually a few hundred milliseconds apart, and are counted once: records of the
same VM on the same host within `MERGE` (one minute) of the first are one crash. A guest kernel
panic (`Crashed Panicked`) is the guest's problem, not the VMM's, and is ignored.

Alerts:
* every crash gives a LOW alert about its VM (dedup key `vm:<host>/<vm>`; crashes of one VM in
  one dedup window fold into it);
* beside them, when a crash makes `escalate_after` (3) crashes within `window_minutes` (30) of
  event time, a HIGH alert: `tenant:<t>` when they are the same tenant's VMs (tenant_id = that
  tenant), `host:<h>` when they happened on one host but are not all one tenant's (tenant_id
  null: several tenants are affected and listed as entities; when they are all one tenant's,
  the tenant alert already says it). Later crashes that keep the count up extend the same HIGH
  alert (its first_seen stays the episode's first crash, so its id does not change). The LOW
  alerts stay: escalation adds an alert, it does not retract any.

Order-insensitivity. Crashes are counted by event time, never arrival: records only collect in
the state, and a crash is decided in `on_timer` once the watermark has passed its first record
by `MERGE`, when every record of it and every earlier crash is known. Timers fire in event-time
order, so crashes are decided in the same order whatever order the records arrived in, and the
findings (their first_seen, hence the alert ids) are the same.

Keying. The framework routes an event to one key per detector, but a crash must be counted
both per tenant and per host, which cut across each other; all crashes therefore share one key
(`fleet`). QEMU crashes are rare events, so one keyed state holds them cheaply; with a
multi-key `keys()` hook in the engine this would become `tenant:<t>` and `host:<h>` keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.hypervisor import vm_phrase
from fenghuo.detectors.process import is_qemu
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.model import Event, ProcessCrash, VmLifecycle
from fenghuo.model.alert import Entity, Severity

MERGE = dt.timedelta(minutes=1)  # records of one VM this close are one crash
FLEET_KEY = "fleet"
DEFAULT_WINDOW_MINUTES = 30
DEFAULT_ESCALATE_AFTER = 3


@dataclass(frozen=True)
class Sighting:
    """One record of a crash: an ANOM_ABEND of QEMU or libvirt's `Stopped Crashed`."""

    at: dt.datetime
    host: str
    vm: str  # the VM's name, or `pid N` when the QEMU process named none
    vm_known: bool
    tenant: str | None
    event_id: str
    what: str  # `qemu-kvm pid 4242 killed by SIGSEGV`, `libvirt: Stopped Crashed`


@dataclass(frozen=True)
class Crash:
    """One VMM crash: the sightings of one VM within MERGE of the first."""

    start: dt.datetime
    end: dt.datetime
    host: str
    vm: str
    vm_known: bool
    tenant: str | None
    evidence: tuple[str, ...]
    what: tuple[str, ...]


@dataclass
class Episode:
    """An escalation in progress for one scope (`tenant:<t>` or `host:<h>`)."""

    anchor: dt.datetime  # first crash of the episode: the HIGH alert's first_seen
    last: dt.datetime  # start of the latest crash that kept it going


@dataclass
class CrashState:
    pending: list[Sighting] = field(default_factory=list)  # not yet decided
    crashes: list[Crash] = field(default_factory=list)  # decided, still inside the window
    episodes: dict[str, Episode] = field(default_factory=dict)


def _sighting(event: Event) -> Sighting | None:
    host = event.host_id or "?"
    if isinstance(event, VmLifecycle):
        if event.state != "crashed":
            return None
        return Sighting(
            at=event.event_time,
            host=host,
            vm=event.vm_name,
            vm_known=True,
            tenant=event.tenant_id,
            event_id=event.id,
            what=f"libvirt: {event.detail or 'Stopped Crashed'}",
        )
    if isinstance(event, ProcessCrash) and is_qemu(event.process):
        process = event.process
        name = process.comm or process.exe or "qemu"
        signal = event.signal_name or f"signal {event.signal}"
        return Sighting(
            at=event.event_time,
            host=host,
            vm=process.vm_name or f"pid {process.pid}",
            vm_known=process.vm_name is not None,
            tenant=event.tenant_id,
            event_id=event.id,
            what=f"{name} pid {process.pid} killed by {signal}",
        )
    return None


def _minutes(window: dt.timedelta) -> str:
    return f"{window.total_seconds() / 60:g} min"


class VmmCrash(Detector):
    meta = DetectorMeta(
        id="vmm-crash",
        title="VMM (QEMU) crashed",
        severity=Severity.LOW,
        confidence=0.5,
        technique="T1499.004",
        category=CYBER_ATTACK,
        description=(
            "A QEMU process died on a fatal signal (auditd ANOM_ABEND) or libvirt reported the "
            "domain `Stopped Crashed`. One crash is low; repeated crashes of one tenant's VMs or "
            "on one host within a window are high: the pattern of exploit development against "
            "the hypervisor's device emulation."
        ),
        runbook=(
            "1. Keep the evidence: the QEMU core dump (coredumpctl list qemu-kvm; "
            "/var/lib/systemd/coredump), /var/log/libvirt/qemu/<vm>.log and the domain XML. "
            "2. Get the crashing thread's backtrace (coredumpctl debug, bt): a crash in a device "
            "model (virtio, USB, e1000, ide, vga) reached from guest I/O is a guest-triggered "
            "bug; look it up against QEMU CVEs for the running version. "
            "3. For a HIGH alert (repeated crashes): do not let libvirt restart the VMs "
            "automatically; pause or stop the tenant's VMs, preserve one as evidence, and ask the "
            "tenant (or review its activity) what runs in them. "
            "4. Check the host for companion alerts (vmm-seccomp-violation, vmm-child-process, "
            "cross-vm-access, host-tampering): any of them means an escape may have succeeded. "
            "5. Patch QEMU or disable the implicated device; for a host alert across tenants, "
            "also check the host itself (memory errors, a bad QEMU or kernel update)."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (ProcessCrash, VmLifecycle)

    def key(self, event: Event) -> str | None:
        return FLEET_KEY if _sighting(event) is not None else None

    def new_state(self) -> CrashState:
        return CrashState()

    def is_idle(self, state: Any) -> bool:
        assert isinstance(state, CrashState)
        return not (state.pending or state.crashes or state.episodes)

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(state, CrashState)
        sighting = _sighting(event)
        if sighting is None:
            return ()
        state.pending.append(sighting)
        ctx.set_timer(sighting.at + MERGE)  # decided once every record of it is in
        return ()

    def on_timer(self, at: dt.datetime, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(state, CrashState)
        window = dt.timedelta(minutes=float(ctx.setting("window_minutes", DEFAULT_WINDOW_MINUTES)))
        settled = at - MERGE  # every sighting up to `at` is known: crashes starting by here
        findings: list[Finding] = []
        ready = sorted(
            (s for s in state.pending if s.at <= settled), key=lambda s: (s.at, s.event_id)
        )
        while ready:
            first = ready[0]
            same = [
                s
                for s in state.pending
                if (s.host, s.vm) == (first.host, first.vm) and s.at <= first.at + MERGE
            ]
            same.sort(key=lambda s: (s.at, s.event_id))
            state.pending = [s for s in state.pending if s not in same]
            ready = [s for s in ready if s not in same]
            crash = Crash(
                start=first.at,
                end=same[-1].at,
                host=first.host,
                vm=first.vm,
                vm_known=first.vm_known,
                tenant=next((s.tenant for s in same if s.tenant), None),
                evidence=tuple(s.event_id for s in same),
                what=tuple(dict.fromkeys(s.what for s in same)),
            )
            findings.extend(self._decided(crash, state, ctx, window))
        # Expire what no later crash can count with (later crashes start after `settled`).
        horizon = settled - window
        state.crashes = [c for c in state.crashes if c.start > horizon]
        state.episodes = {k: e for k, e in state.episodes.items() if e.last > horizon}
        if state.crashes:
            ctx.set_timer(max(c.start for c in state.crashes) + window + MERGE)
        return findings

    def _decided(
        self, crash: Crash, state: CrashState, ctx: Context, window: dt.timedelta
    ) -> Iterator[Finding]:
        state.crashes.append(crash)
        recent = [c for c in state.crashes if crash.start - window < c.start <= crash.start]
        again = sum(1 for c in recent if (c.host, c.vm) == (crash.host, crash.vm))
        yield self._low(crash, again, window)
        escalate_after = int(ctx.setting("escalate_after", DEFAULT_ESCALATE_AFTER))
        if crash.tenant is not None:
            mine = [c for c in recent if c.tenant == crash.tenant]
            if len(mine) >= escalate_after:
                yield self._high(f"tenant:{crash.tenant}", crash, mine, state, window)
        here = [c for c in recent if c.host == crash.host]
        tenants = {c.tenant for c in here}
        if len(here) >= escalate_after and (len(tenants) > 1 or None in tenants):
            yield self._high(f"host:{crash.host}", crash, here, state, window)

    @staticmethod
    def _low(crash: Crash, again: int, window: dt.timedelta) -> Finding:
        vm = crash.vm if crash.vm_known else f"QEMU {crash.vm}"
        repeat = f" (crash {again} of this VM within {_minutes(window)})" if again > 1 else ""
        return Finding(
            summary=(
                f"VMM of {vm_phrase(vm, crash.tenant, crash.host)} crashed: "
                f"{'; '.join(crash.what)}{repeat}"
            ),
            tenant_id=crash.tenant,
            host_id=crash.host,
            vm_id=crash.vm if crash.vm_known else None,
            first_seen=crash.start,
            last_seen=crash.end,
            evidence=crash.evidence,
            dedup_key=f"vm:{crash.host}/{crash.vm}",
            details={"crash": list(crash.what)},
        )

    @staticmethod
    def _high(
        scope: str, crash: Crash, crashes: list[Crash], state: CrashState, window: dt.timedelta
    ) -> Finding:
        episode = state.episodes.get(scope)
        if episode is None or episode.last <= crash.start - window:
            episode = Episode(anchor=min(c.start for c in crashes), last=crash.start)
        episode.last = crash.start
        state.episodes[scope] = episode
        minutes = _minutes(window)
        listing = ", ".join(
            f"{c.vm if c.vm_known else 'QEMU ' + c.vm} on {c.host} at {c.start:%H:%M:%S}"
            for c in crashes
        )
        tenants = sorted({c.tenant for c in crashes if c.tenant})
        hosts = sorted({c.host for c in crashes})
        kind, _, name = scope.partition(":")
        if kind == "tenant":
            summary = (
                f"{len(crashes)} VMM crashes of tenant {name}'s VMs within {minutes} "
                f"({listing}): repeated QEMU crashes are the pattern of exploit development "
                f"against the hypervisor"
            )
            tenant_id: str | None = name
            host_id = hosts[0] if len(hosts) == 1 else None
        else:
            summary = (
                f"{len(crashes)} VMM crashes on host {name} within {minutes} across tenants "
                f"{', '.join(tenants) or 'unknown'} ({listing}): a guest attacking the host's "
                f"VMMs, or a failing host"
            )
            tenant_id = None
            host_id = name
        entities = [Entity("tenant", t) for t in tenants]
        entities += [Entity("host", h) for h in hosts]
        entities += [Entity("vm", c.vm) for c in crashes if c.vm_known]
        return Finding(
            summary=summary,
            title="Repeated VMM (QEMU) crashes: exploit development against the hypervisor",
            tenant_id=tenant_id,
            host_id=host_id,
            severity=Severity.HIGH,
            confidence=0.75,
            first_seen=episode.anchor,
            last_seen=max(c.end for c in crashes),
            evidence=tuple(e for c in crashes for e in c.evidence),
            entities=tuple(entities),
            dedup_key=scope,
            details={
                "scope": scope,
                "crashes": len(crashes),
                "window_minutes": window.total_seconds() / 60,
                "vms": sorted({c.vm for c in crashes}),
            },
        )

    cases = (
        Case(
            "qemu segfault and libvirt Stopped Crashed are one crash",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=ANOM_ABEND msg=audit(1767610328.611:8812): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c101,c202 pid=4242 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=11 res=1
""",
                ),
                Records(
                    "libvirt-events",
                    """
2026-01-05 10:52:09.033+0000: event 'lifecycle' for domain 'acme-web-1': Stopped Crashed
""",
                    host_id="hv-01",
                ),
            ),
            (
                Expect(
                    Severity.LOW,
                    "acme",
                    host_id="hv-01",
                    summary_contains="VMM of acme-web-1 (tenant acme) on host hv-01 crashed: qemu-kvm pid 4242 killed by SIGSEGV; libvirt: Stopped Crashed",
                ),
            ),
        ),
        Case(
            "three crashes of acme's VMs in 30 minutes escalate on the tenant",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=ANOM_ABEND msg=audit(1767607200.412:9001): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c101,c202 pid=4242 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=11 res=1
node=hv-01 type=ANOM_ABEND msg=audit(1767607741.950:9113): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c105,c206 pid=4388 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=6 res=1
node=hv-01 type=ANOM_ABEND msg=audit(1767608466.207:9240): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c101,c202 pid=4517 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=11 res=1
""",
                ),
                Records(
                    "libvirt-events",
                    """
2026-01-05 10:00:00.871+0000: event 'lifecycle' for domain 'acme-web-1': Stopped Crashed
2026-01-05 10:00:04.102+0000: event 'lifecycle' for domain 'acme-web-1': Started Booted
2026-01-05 10:09:02.377+0000: event 'lifecycle' for domain 'acme-db-1': Stopped Crashed
2026-01-05 10:09:05.010+0000: event 'lifecycle' for domain 'acme-db-1': Started Booted
2026-01-05 10:21:06.655+0000: event 'lifecycle' for domain 'acme-web-1': Stopped Crashed
""",
                    host_id="hv-01",
                ),
            ),
            (
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-web-1"),
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-db-1"),
                Expect(
                    Severity.HIGH,
                    "acme",
                    host_id="hv-01",
                    summary_contains="3 VMM crashes of tenant acme's VMs within 30 min",
                ),
            ),
        ),
        Case(
            "three tenants' VMs crashing on hv-01 escalate on the host",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=ANOM_ABEND msg=audit(1767614400.303:9501): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c101,c202 pid=6010 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=11 res=1
node=hv-01 type=ANOM_ABEND msg=audit(1767615322.480:9622): auid=4294967295 uid=107 gid=107 ses=4294967295 subj=system_u:system_r:svirt_t:s0:c105,c206 pid=6133 comm="qemu-kvm" exe="/usr/libexec/qemu-kvm" sig=7 res=1
""",
                ),
                Records(
                    "libvirt-events",
                    """
2026-01-05 12:07:45.226+0000: event 'lifecycle' for domain 'globex-db-1': Stopped Crashed
2026-01-05 12:15:22.914+0000: event 'lifecycle' for domain 'acme-db-1': Stopped Crashed
""",
                    host_id="hv-01",
                ),
            ),
            (
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-web-1"),
                Expect(Severity.LOW, "globex", host_id="hv-01", summary_contains="globex-db-1"),
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-db-1"),
                Expect(
                    Severity.HIGH,
                    None,
                    host_id="hv-01",
                    summary_contains="3 VMM crashes on host hv-01 within 30 min across tenants acme, globex",
                ),
            ),
        ),
        Case(
            "three crashes spread over two hours stay low",
            (
                Records(
                    "libvirt-events",
                    """
2026-01-05 10:00:00.871+0000: event 'lifecycle' for domain 'acme-web-1': Stopped Crashed
2026-01-05 10:45:13.020+0000: event 'lifecycle' for domain 'acme-db-1': Stopped Crashed
2026-01-05 11:31:40.500+0000: event 'lifecycle' for domain 'acme-web-1': Stopped Crashed
""",
                    host_id="hv-01",
                ),
            ),
            (
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-web-1"),
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-db-1"),
                Expect(Severity.LOW, "acme", host_id="hv-01", summary_contains="acme-web-1"),
            ),
        ),
        Case(
            "escalate_after 2: a VM crashing twice is enough",
            (
                Records(
                    "libvirt-events",
                    """
2026-01-05 10:40:12.500+0000: event 'lifecycle' for domain 'initech-app-1': Stopped Crashed
2026-01-05 10:44:51.118+0000: event 'lifecycle' for domain 'initech-app-1': Stopped Crashed
""",
                    host_id="hv-02",
                ),
            ),
            (
                Expect(Severity.LOW, "initech", host_id="hv-02", summary_contains="initech-app-1"),
                Expect(
                    Severity.HIGH,
                    "initech",
                    host_id="hv-02",
                    summary_contains="2 VMM crashes of tenant initech's VMs within 30 min",
                ),
            ),
            settings={"escalate_after": 2},
        ),
        Case(
            "guest kernel panics are not VMM crashes",
            (
                Records(
                    "libvirt-events",
                    """
2026-01-05 10:40:12.500+0000: event 'lifecycle' for domain 'globex-db-1': Crashed Panicked
2026-01-05 10:41:30.004+0000: event 'lifecycle' for domain 'globex-db-1': Started Booted
2026-01-05 10:47:02.761+0000: event 'lifecycle' for domain 'globex-db-1': Crashed Panicked
2026-01-05 10:52:44.190+0000: event 'lifecycle' for domain 'globex-db-1': Crashed Panicked
2026-01-05 11:00:00.000+0000: event 'lifecycle' for domain 'acme-web-1': Stopped Shutdown
""",
                    host_id="hv-01",
                ),
            ),
            (),
        ),
        Case(
            "other programs dumping core are not VMM crashes",
            (
                Records(
                    "auditd",
                    """
node=hv-01 type=ANOM_ABEND msg=audit(1767607800.555:9300): auid=1000 uid=1000 gid=1000 ses=3 subj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023 pid=7301 comm="python3" exe="/usr/bin/python3.9" sig=11 res=1
node=hv-01 type=ANOM_ABEND msg=audit(1767607810.120:9301): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=system_u:system_r:virtd_t:s0-s0:c0.c1023 pid=1187 comm="rpc-worker" exe="/usr/sbin/libvirtd" sig=6 res=1
node=hv-01 type=ANOM_ABEND msg=audit(1767607820.900:9302): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=system_u:system_r:virtlogd_t:s0-s0:c0.c1023 pid=1190 comm="virtlogd" exe="/usr/sbin/virtlogd" sig=11 res=1
""",
                ),
            ),
            (),
        ),
    )
