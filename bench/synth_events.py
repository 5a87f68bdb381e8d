"""Synthetic libvirt events and Falco alerts for the ingest benchmarks.

libvirt lines are `virsh event --all --loop --timestamp` output for hv-01's VMs and one the demo
inventory lacks, modelled on `../shared/samples/libvirt/virsh-events.log`; Falco alerts are
`json_output: true` lines like `../shared/samples/falco/alerts.jsonl`, from the inventory's
containers, an unknown one and the host itself. Seeded, so runs repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import random

from bench.corpus import Corpus
from bench.synth_hypervisor import BASE_TIME, VMS

LIFECYCLE = [
    (30, "lifecycle", "Started Booted"),
    (10, "lifecycle", "Suspended Paused"),
    (10, "lifecycle", "Resumed Unpaused"),
    (8, "lifecycle", "Shutdown Finished"),
    (8, "lifecycle", "Stopped Shutdown"),
    (5, "lifecycle", "Stopped Destroyed"),
    (5, "lifecycle", "Defined Updated"),
    (3, "lifecycle", "Started Migrated"),
    (3, "lifecycle", "Stopped Migrated"),
    (1, "lifecycle", "Crashed Panicked"),
    (1, "lifecycle", "Stopped Crashed"),
    (10, "reboot", ""),
    (6, "rtc-change", "3600"),
    (5, "agent-lifecycle", "state: 'connected' reason: 'channel event'"),
]


def libvirt(records: int, seed: int = 2) -> Corpus:
    """`virsh event --all --loop --timestamp` lines of hv-01 (and a VM the inventory lacks)."""
    rng = random.Random(seed)
    vms = [vm for vm, _ in VMS["hv-01"]] + ["scratch-vm-1"]
    weights = [w for w, _, _ in LIFECYCLE]
    millis = BASE_TIME * 1000
    units: list[list[str]] = []
    for _ in range(records):
        millis += rng.randrange(1, 2000)
        stamp = _utc_text(millis)
        _, event, detail = rng.choices(LIFECYCLE, weights)[0]
        tail = f": {detail}" if detail else ""
        units.append([f"{stamp}+0000: event '{event}' for domain '{rng.choice(vms)}'{tail}"])
    return Corpus.of("libvirt-events", "libvirt-events", units, host_id="hv-01")


def _utc_text(millis: int) -> str:
    """`2026-01-05 10:00:01.120` for milliseconds since the epoch (UTC)."""
    stamp = dt.datetime.fromtimestamp(millis / 1000, dt.UTC)
    return f"{stamp:%Y-%m-%d %H:%M:%S}.{millis % 1000:03d}"


# (rule, priority, tags, output template, extra output_fields)
FALCO_RULES: list[tuple[str, str, list[str], str, dict[str, object]]] = [
    (
        "Terminal shell in container",
        "Notice",
        ["T1059", "container", "maturity_stable", "mitre_execution", "shell"],
        "Shell spawned in a container (user=root container_id={cid} container_name={cname} "
        "shell=bash parent=runc cmdline=bash)",
        {"proc.cmdline": "bash", "proc.name": "bash", "proc.pname": "runc"},
    ),
    (
        "Detect release_agent File Container Escapes",
        "Critical",
        ["T1611", "container", "maturity_stable", "mitre_privilege_escalation", "process"],
        "Detect an attempt to exploit a container escape using release_agent file "
        "(file=/tmp/cgrp/release_agent cap_effective=CAP_SYS_ADMIN evt_type=openat user=root "
        "container_id={cid} container_name={cname})",
        {
            "fd.name": "/tmp/cgrp/release_agent",
            "evt.type": "openat",
            "proc.name": "sh",
            "proc.exepath": "/bin/busybox",
            "proc.cmdline": "sh -c echo /cmd > /tmp/cgrp/release_agent",
        },
    ),
    (
        "Read sensitive file untrusted",
        "Warning",
        ["T1555", "container", "filesystem", "maturity_stable", "mitre_credential_access"],
        "Sensitive file opened for reading by non-trusted program (file=/etc/shadow "
        "container_id={cid} container_name={cname})",
        {
            "fd.name": "/etc/shadow",
            "fd.type": "file",
            "evt.type": "openat",
            "proc.name": "cat",
            "proc.cmdline": "cat /etc/shadow",
        },
    ),
    (
        "Drop and execute new binary in container",
        "Critical",
        ["T1648", "container", "maturity_stable", "mitre_persistence", "process"],
        "Executing binary not part of base image (proc_exe=/tmp/x container_id={cid} "
        "container_name={cname})",
        {
            "proc.exepath": "/tmp/x",
            "proc.name": "x",
            "proc.cmdline": "x -c 198.51.100.20",
            "evt.type": "execve",
        },
    ),
    (
        "Contact K8S API Server From Container",
        "Notice",
        ["T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network"],
        "Unexpected connection to K8s API Server from container (connection=10.3.0.15:41234->"
        "10.96.0.1:443 container_id={cid} container_name={cname})",
        {
            "fd.name": "10.3.0.15:41234->10.96.0.1:443",
            "fd.type": "ipv4",
            "evt.type": "connect",
            "proc.name": "curl",
            "proc.cmdline": "curl -k https://10.96.0.1",
        },
    ),
]
CONTAINERS = [
    ("hv-02", "3f2a1b4c5d6e", "web"),
    ("hv-02", "9c8b7a6f5e4d", "worker"),
    ("hv-01", "b1c2d3e4f5a6", "unknown-job"),
    ("hv-01", "host", "host"),
]


def falco(records: int, seed: int = 3) -> Corpus:
    """Falco `json_output: true` alerts, as in the shared sample."""
    rng = random.Random(seed)
    nanos = BASE_TIME * 1_000_000_000
    units: list[list[str]] = []
    for _ in range(records):
        nanos += rng.randrange(1_000_000, 2_000_000_000)
        rule, priority, tags, template, extra = rng.choice(FALCO_RULES)
        hostname, cid, cname = rng.choice(CONTAINERS)
        fields: dict[str, object] = {
            "container.id": cid,
            "container.name": cname,
            "evt.time": nanos,
            "proc.pid": rng.randrange(100, 60_000),
            "user.name": "root",
            "user.uid": 0,
            **extra,
        }
        if cid != "host":
            fields["container.image.repository"] = f"registry.example/{cname}"
            fields["container.image.tag"] = "1.4.2"
        seconds, frac = divmod(nanos, 1_000_000_000)
        clock = _utc_text(seconds * 1000)[11:19]
        alert = {
            "hostname": hostname,
            "output": f"{clock}.{frac:09d}: {priority} {template.format(cid=cid, cname=cname)}",
            "output_fields": fields,
            "priority": priority,
            "rule": rule,
            "source": "syscall",
            "tags": tags,
            "time": f"{_utc_text(seconds * 1000)[:10]}T{clock}.{frac:09d}Z",
        }
        units.append([json.dumps(alert, separators=(",", ":"))])
    return Corpus.of("falco", "falco", units, host_id=None)
