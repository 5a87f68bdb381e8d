"""container-escape: a process in a container acts on the host kernel's escape hatches.

Containers share the host kernel; the known ways out go through a few host-global knobs and
namespace operations, and Falco sees each of them:

* cgroup v1 `release_agent` (with `notify_on_release`): the kernel runs the program written there
  as root on the host when the cgroup empties (CVE-2022-0492, the classic privileged-container
  escape);
* `/proc/sys/kernel/core_pattern` set to a pipe: the kernel runs the piped program as root on the
  host at the next core dump;
* overwriting `/proc/self/exe` (the runc binary on the host, CVE-2019-5736), Falco's "Modify
  Container Entrypoint";
* `nsenter`/`setns` into the host's namespaces, `unshare` to regain capabilities, mounting the
  host's disk or runtime socket, `debugfs` on a host block device.

Falco's own T1611 (Escape to Host) rules are taken too. A shell in a container, a privileged
container starting or a sensitive file read are not escapes and stay with their own detectors.
The alert names the container's tenant and host; the host's other tenants are the blast radius.
"""

from __future__ import annotations

import datetime as dt
import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fenghuo.detectors.base import Case, Context, Detector, DetectorMeta, Expect, Finding, Records
from fenghuo.detectors.network import tenants_on_host
from fenghuo.detectors.taxonomy import CYBER_ATTACK
from fenghuo.model import ContainerAlert, Event
from fenghuo.model.alert import Entity, Severity

# Falco priority -> confidence that the alert is what its rule says.
PRIORITY_CONFIDENCE = {
    "emergency": 0.95,
    "alert": 0.95,
    "critical": 0.9,
    "error": 0.8,
    "warning": 0.7,
    "notice": 0.6,
    "informational": 0.5,
    "info": 0.5,
    "debug": 0.4,
}
_NOT_AVAILABLE = frozenset({"", "<NA>", "N/A"})
_PATH_FIELDS = ("fd.name", "fs.path.name", "evt.arg.filename", "evt.arg.name", "evt.arg.path")
_MOUNT_FIELDS = ("evt.arg.source", "evt.arg.dev", "evt.arg.target", "evt.arg.dir")
_WRITE_SYSCALLS = frozenset({"write", "pwrite", "pwrite64", "writev", "pwritev", "pwritev2"})
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_TRUNC")
_RUNC_EXE = re.compile(r"/proc/(self|[0-9]+)/exe|/(usr/)?(local/)?s?bin/(docker-)?runc")
_HOST_DEVICE = re.compile(r"/dev/(sd|vd|xvd|hd|nvme|dm-|mapper/|disk/)")
_RUNTIME_SOCKETS = ("docker.sock", "containerd.sock", "crio.sock", "podman.sock")


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    what: str  # how the container tried to get out, for the summary
    severity: Severity


RELEASE_AGENT = Indicator("release_agent", "cgroup release_agent write", Severity.CRITICAL)
CORE_PATTERN = Indicator("core_pattern", "kernel core_pattern overwrite", Severity.CRITICAL)
RUNC_OVERWRITE = Indicator(
    "runc_overwrite", "runc binary overwrite via /proc/self/exe (CVE-2019-5736)", Severity.CRITICAL
)
SETNS = Indicator("setns", "entering host namespaces (nsenter/setns)", Severity.HIGH)
UNSHARE = Indicator("unshare", "new namespaces via unshare", Severity.HIGH)
HOST_MOUNT = Indicator("host_mount", "host filesystem or device mount", Severity.HIGH)
RUNTIME_SOCKET = Indicator("runtime_socket", "container runtime socket access", Severity.HIGH)
DEBUGFS = Indicator("debugfs", "debugfs on a host block device", Severity.HIGH)
FALCO_T1611 = Indicator("falco_t1611", "Falco escape-to-host rule", Severity.HIGH)


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) and value not in _NOT_AVAILABLE else None


@dataclass(frozen=True, slots=True)
class _Facts:
    rule: str
    paths: tuple[str, ...]
    cmdline: str
    program: str
    syscall: str
    writes: bool
    tags: frozenset[str]

    @classmethod
    def of(cls, event: ContainerAlert) -> _Facts:
        fields = event.fields
        paths = [event.file_path] + [_text(fields, n) for n in _PATH_FIELDS + _MOUNT_FIELDS]
        process = event.process
        cmdline = " ".join(process.argv) if process and process.argv else ""
        cmdline = cmdline or _text(fields, "proc.cmdline") or ""
        program = (process.comm if process else None) or _text(fields, "proc.name") or ""
        if not program and process is not None and (process.argv or process.exe):
            program = posixpath.basename(process.argv[0] if process.argv else process.exe or "")
        flags = _text(fields, "evt.arg.flags") or ""
        syscall = (event.syscall or "").lower()
        return cls(
            rule=event.rule.lower(),
            paths=tuple(sorted({p for p in paths if p})),
            cmdline=cmdline,
            program=program,
            syscall=syscall,
            writes=syscall in _WRITE_SYSCALLS or any(f in flags for f in _WRITE_FLAGS),
            tags=frozenset(t.lower() for t in event.tags),
        )


def indicators(event: ContainerAlert) -> list[Indicator]:
    """Every escape technique the Falco alert shows, most severe first (empty: not an escape)."""
    f = _Facts.of(event)
    names = {posixpath.basename(p) for p in f.paths}
    found: list[Indicator] = []
    if names & {"release_agent", "notify_on_release"} or any(
        "release_agent" in text for text in (f.cmdline, f.rule)
    ):
        found.append(RELEASE_AGENT)
    if any(p.endswith("/sys/kernel/core_pattern") for p in f.paths) or (
        "core_pattern" in f.cmdline or "core pattern" in f.rule
    ):
        found.append(CORE_PATTERN)
    if "container entrypoint" in f.rule or (
        f.writes and any(_RUNC_EXE.fullmatch(p) for p in f.paths)
    ):
        found.append(RUNC_OVERWRITE)
    if (
        f.program == "nsenter"
        or f.syscall == "setns"
        or "setns" in f.rule
        or ("thread namespace" in f.rule)
    ):
        found.append(SETNS)
    if f.program == "unshare" or f.syscall == "unshare" or "unshare" in f.rule:
        found.append(UNSHARE)
    mounts_device = f.program == "mount" and bool(_HOST_DEVICE.search(f.cmdline))
    if (
        f.syscall in ("mount", "fsmount", "move_mount")
        or mounts_device
        or "sensitive mount" in f.rule
        or "mount launched in privileged" in f.rule
    ):
        found.append(HOST_MOUNT)
    if any(s in p for s in _RUNTIME_SOCKETS for p in (*f.paths, f.cmdline)):
        found.append(RUNTIME_SOCKET)
    if f.program == "debugfs" or "debugfs" in f.rule:
        found.append(DEBUGFS)
    if not found and any(t == "t1611" or t.startswith("t1611.") for t in f.tags):
        found.append(FALCO_T1611)
    return sorted(found, key=lambda i: -i.severity.rank)


def falco_line(
    time: str,
    priority: str,
    rule: str,
    message: str,
    fields: dict[str, Any],
    tags: list[str],
    hostname: str = "hv-02",
) -> str:
    """One Falco alert as `json_output: true` writes it."""
    clock = time[11:-1]
    return json.dumps(
        {
            "hostname": hostname,
            "output": f"{clock}: {priority} {message}",
            "output_fields": fields,
            "priority": priority,
            "rule": rule,
            "source": "syscall",
            "tags": tags,
            "time": time,
        },
        separators=(",", ":"),
    )


def _fields(container: str, name: str, cmdline: str, **more: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "container.id": container,
        "container.name": name,
        "proc.cmdline": cmdline,
        "proc.name": cmdline.split()[0],
        "user.name": "root",
        "user.uid": 0,
    }
    fields.update({k.replace("_", "."): v for k, v in more.items()})
    return fields


ACME_WEB = ("3f2a1b4c5d6e", "web")
HOOLI_WORKER = ("9c8b7a6f5e4d", "worker")
ESCAPE_TAGS = ["T1611", "container", "maturity_stable", "mitre_privilege_escalation", "process"]
INCUBATING_TAGS = ["T1611", "container", "maturity_incubating", "mitre_privilege_escalation"]

RELEASE_AGENT_LINE = falco_line(
    "2026-01-05T11:02:07.412000000Z",
    "Critical",
    "Detect release_agent File Container Escapes",
    "Detect an attempt to exploit a container escape using release_agent file (file=/sys/fs/cgroup/rdma/x/release_agent cap_effective=CAP_SYS_ADMIN evt_type=openat user=root process=sh command=sh -c echo /payload > /sys/fs/cgroup/rdma/x/release_agent container_id=3f2a1b4c5d6e container_name=web)",
    _fields(
        *ACME_WEB,
        "sh -c echo /payload > /sys/fs/cgroup/rdma/x/release_agent",
        evt_type="openat",
        fd_name="/sys/fs/cgroup/rdma/x/release_agent",
        proc_pid=31337,
    ),
    ESCAPE_TAGS,
)
UNSHARE_LINE = falco_line(
    "2026-01-05T11:01:58.009000000Z",
    "Notice",
    "Change namespace privileges via unshare",
    "Change namespace privileges via unshare (res=0 evt_type=unshare user=root process=unshare command=unshare -UrmC bash container_id=3f2a1b4c5d6e container_name=web)",
    _fields(*ACME_WEB, "unshare -UrmC bash", evt_type="unshare", proc_pid=31301),
    INCUBATING_TAGS,
)
SHELL_LINE = falco_line(
    "2026-01-05T11:05:00.000000000Z",
    "Notice",
    "Terminal shell in container",
    "A shell was spawned in a container with an attached terminal (user=root container_id=9c8b7a6f5e4d container_name=worker shell=bash parent=runc cmdline=bash)",
    _fields(*HOOLI_WORKER, "bash", proc_pname="runc"),
    ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
)


class ContainerEscape(Detector):
    meta = DetectorMeta(
        id="container-escape",
        title="Container escape attempt",
        severity=Severity.HIGH,
        confidence=0.7,
        technique="T1611",
        category=CYBER_ATTACK,
        description=(
            "A process in a container wrote a cgroup release_agent or the kernel core_pattern, "
            "overwrote the runc binary through /proc/self/exe, entered or created namespaces, or "
            "mounted host filesystems, devices or runtime sockets (Falco). Each is a known way "
            "from a container to root on the host, where other tenants' workloads run."
        ),
        runbook=(
            "1. Stop the container (keep its filesystem: docker/ctr export) and cordon the host. "
            "2. Check the host for what the escape would have run: release_agent and core_pattern "
            "contents, the runc binary's hash, new processes outside any container. "
            "3. List the host's other tenants (details.co_resident_tenants) and review their "
            "workloads for access from the host. 4. Find how the container got CAP_SYS_ADMIN, "
            "host mounts or privileged mode; fix the pod spec or admission policy."
        ),
        dedup_window=dt.timedelta(minutes=30),
    )
    inputs = (ContainerAlert,)

    def key(self, event: Event) -> str | None:
        if not isinstance(event, ContainerAlert) or not event.container_id:
            return None  # host events (container.id "host") are not container escapes
        return f"{event.host_id or '?'}/{event.container_id}"

    def on_event(self, event: Event, state: Any, ctx: Context) -> Iterable[Finding]:
        assert isinstance(event, ContainerAlert)
        found = indicators(event)
        if not found:
            return
        lead = found[0]
        container = event.container_name or event.container_id or "?"
        tenant = event.tenant_id
        process = event.process
        program = " ".join(process.argv) if process and process.argv else event.rule
        neighbours = tenants_on_host(ctx.inventory, event.host_id, exclude=tenant, containers=True)
        entities = [Entity("container", event.container_id or "?")]
        if process is not None and process.pid is not None:
            entities.append(Entity("process", f"{event.host_id}:{process.pid}"))
        if event.image:
            entities.append(Entity("resource", event.image))
        yield Finding(
            summary=(
                f"Container {container} ({event.container_id}) of tenant {tenant or 'unknown'} on "
                f"host {event.host_id or '?'} attempted an escape to the host: {lead.what} "
                f"({program}; Falco rule {event.rule!r})"
            ),
            tenant_id=tenant,
            host_id=event.host_id,
            first_seen=event.event_time,
            last_seen=event.event_time,
            evidence=(event.id,),
            entities=tuple(entities),
            severity=lead.severity,
            confidence=PRIORITY_CONFIDENCE.get(event.priority.lower(), self.meta.confidence),
            details={
                "indicators": [i.name for i in found],
                "rule": event.rule,
                "priority": event.priority,
                "tags": list(event.tags),
                "file": event.file_path,
                "cmdline": program,
                "syscall": event.syscall,
                "user": event.user_name,
                "image": event.image,
                "co_resident_tenants": neighbours,
            },
        )

    cases = (
        Case(
            "release_agent write in acme's container",
            (Records("falco", RELEASE_AGENT_LINE),),
            (Expect(Severity.CRITICAL, "acme", host_id="hv-02", summary_contains="release_agent"),),
        ),
        Case(
            "core_pattern set to a pipe in hooli's container",
            (
                Records(
                    "falco",
                    falco_line(
                        "2026-01-05T11:10:31.200000000Z",
                        "Critical",
                        "Core Pattern Escape Attempt",
                        "Core pattern modification to pipe detected (user=root command=sh -c echo '|/tmp/.x/run %P' > /proc/sys/kernel/core_pattern file=/proc/sys/kernel/core_pattern)",
                        _fields(
                            *HOOLI_WORKER,
                            "sh -c echo '|/tmp/.x/run %P' > /proc/sys/kernel/core_pattern",
                            evt_type="openat",
                            fd_name="/proc/sys/kernel/core_pattern",
                        ),
                        ["T1611", "container", "escape", "mitre_escape", "process"],
                    ),
                ),
            ),
            (Expect(Severity.CRITICAL, "hooli", host_id="hv-02", summary_contains="core_pattern"),),
        ),
        Case(
            "runc overwrite through /proc/self/exe",
            (
                Records(
                    "falco",
                    falco_line(
                        "2026-01-05T11:20:00.500000000Z",
                        "Warning",
                        "Modify Container Entrypoint",
                        "Detect Potential Container Breakout Exploit (CVE-2019-5736) (file=/proc/self/exe evt_type=openat user=root process=poc command=/root/poc container_id=3f2a1b4c5d6e container_name=web)",
                        _fields(
                            *ACME_WEB,
                            "/root/poc",
                            evt_type="openat",
                            fd_name="/proc/self/exe",
                            evt_arg_flags="O_TRUNC|O_WRONLY",
                        ),
                        ["T1611", "container", "filesystem", "maturity_incubating"],
                    ),
                ),
            ),
            (Expect(Severity.CRITICAL, "acme", host_id="hv-02", summary_contains="CVE-2019-5736"),),
        ),
        Case(
            "nsenter into the host's namespaces",
            (
                Records(
                    "falco",
                    falco_line(
                        "2026-01-05T11:30:12.000000000Z",
                        "Notice",
                        "Change thread namespace",
                        "Namespace change (setns) by unexpected program (process=nsenter parent=bash command=nsenter --target 1 --mount --uts --ipc --net --pid -- bash container_id=9c8b7a6f5e4d container_name=worker)",
                        _fields(
                            *HOOLI_WORKER,
                            "nsenter --target 1 --mount --uts --ipc --net --pid -- bash",
                            evt_type="setns",
                        ),
                        INCUBATING_TAGS,
                    ),
                ),
            ),
            (Expect(Severity.HIGH, "hooli", host_id="hv-02", summary_contains="nsenter"),),
        ),
        Case(
            "host disk mounted in a privileged container",
            (
                Records(
                    "falco",
                    falco_line(
                        "2026-01-05T11:40:00.000000000Z",
                        "Warning",
                        "Mount Launched in Privileged Container",
                        "Mount was executed inside a privileged container (user=root process=mount command=mount /dev/vda1 /mnt/host container_id=9c8b7a6f5e4d container_name=worker)",
                        _fields(*HOOLI_WORKER, "mount /dev/vda1 /mnt/host"),
                        INCUBATING_TAGS,
                    ),
                ),
            ),
            (Expect(Severity.HIGH, "hooli", host_id="hv-02", summary_contains="host filesystem"),),
        ),
        Case(
            "unshare then release_agent: one critical alert for the container",
            (Records("falco", f"{UNSHARE_LINE}\n{RELEASE_AGENT_LINE}"),),
            (Expect(Severity.CRITICAL, "acme", host_id="hv-02", summary_contains="release_agent"),),
        ),
        Case(
            "a terminal shell in a container is not an escape", (Records("falco", SHELL_LINE),), ()
        ),
        Case(
            "nsenter run on the host itself",
            (
                Records(
                    "falco",
                    falco_line(
                        "2026-01-05T11:31:00.000000000Z",
                        "Notice",
                        "Change thread namespace",
                        "Namespace change (setns) by unexpected program (process=nsenter parent=sudo command=nsenter -t 4242 -n ip addr container_id=host container_name=host)",
                        {
                            "container.id": "host",
                            "container.name": "host",
                            "evt.type": "setns",
                            "proc.cmdline": "nsenter -t 4242 -n ip addr",
                            "proc.name": "nsenter",
                            "user.name": "root",
                        },
                        INCUBATING_TAGS,
                    ),
                ),
            ),
            (),
        ),
        Case(
            "privileged container started, shadow file read: not escapes",
            (
                Records(
                    "falco",
                    "\n".join(
                        (
                            falco_line(
                                "2026-01-05T11:50:00.000000000Z",
                                "Informational",
                                "Launch Privileged Container",
                                "Privileged container started (user=root command=container:9c8b7a6f5e4d container_id=9c8b7a6f5e4d container_name=worker)",
                                _fields(*HOOLI_WORKER, "container:9c8b7a6f5e4d"),
                                ["T1610", "cis", "container", "maturity_incubating"],
                            ),
                            falco_line(
                                "2026-01-05T11:51:00.000000000Z",
                                "Warning",
                                "Read sensitive file untrusted",
                                "Sensitive file opened for reading by non-trusted program (file=/etc/shadow process=cat command=cat /etc/shadow container_id=9c8b7a6f5e4d)",
                                _fields(
                                    *HOOLI_WORKER,
                                    "cat /etc/shadow",
                                    evt_type="openat",
                                    fd_name="/etc/shadow",
                                ),
                                ["T1555", "container", "filesystem", "maturity_stable"],
                            ),
                        )
                    ),
                ),
            ),
            (),
        ),
    )
