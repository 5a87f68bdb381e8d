"""Attack scenarios on hypervisor hosts, as auditd, libvirt and Falco would report them.

Each builder writes its events to the timeline and returns the time of its first and last
malicious event and a one-line description. Preparation that looks benign (the attacker booting
its VM a minute before) comes before the first malicious event and is not part of the label.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fenghuo.simulate.cloud_calls import instance_call
from fenghuo.simulate.host_ops import HostOps
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import auditd as au
from fenghuo.simulate.render.falco import container_fields, falco_line
from fenghuo.simulate.world import AttackPlan, Container, Vm

Outcome = tuple[dt.datetime, dt.datetime, str]


@dataclass
class AttackContext:
    ops: HostOps
    rand: Rand
    window: tuple[dt.datetime, dt.datetime]  # the segment being generated

    def boot_before(self, vm: Vm, start: dt.datetime) -> None:
        """The attacker (re)boots its VM shortly before it strikes, if the window allows."""
        boot = start - dt.timedelta(seconds=self.rand.uniform(50, 110))
        if boot > self.window[0]:
            self.ops.start_vm(self.rand, vm, boot)


def vm_escape(ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float) -> Outcome:
    """QEMU spawns a shell; the shell escalates to root and makes the foothold last."""
    ops, rand, tl = ctx.ops, ctx.rand, ctx.ops.timeline
    vm = ops.world.vm(plan.vm or "")
    host = ops.where(vm).id
    ctx.boot_before(vm, start)
    qemu = ops.qemu_proc(vm)
    shell = qemu.child(ops.pid(host), "/usr/bin/bash", ("/bin/sh", "-c", "id; uname -a"))
    t = start
    tl.audit(t, host, au.exec_event(shell, "shell_exec_t"))
    for argv in (("id",), ("uname", "-a")):
        t = rand.after(t, 0.002, 0.02)
        tl.audit(
            t, host, au.exec_event(shell.child(ops.pid(host), f"/usr/bin/{argv[0]}", argv), "bin_t")
        )
    step = max(2.0, span / 8)
    t = rand.after(t, step / 2, step)
    exploit = "/var/tmp/.x/lpe"  # noqa: S108 - a path in the simulated host's audit records
    lpe = shell.child(ops.pid(host), exploit, (exploit,))
    tl.audit(t, host, au.exec_event(lpe, "svirt_tmp_t"))
    root = lpe.child(ops.pid(host), "/usr/bin/bash", ("/bin/bash", "-i"), uid=0, gid=0)
    t = rand.after(t, 0.5, 3)
    tl.audit(t, host, au.exec_event(root, "shell_exec_t"))
    t = rand.after(t, step / 2, step)
    if plan.variant == "cron":
        tl.audit(
            t,
            host,
            au.open_event(
                root,
                "/etc/cron.d/.sysupdate",
                "system_u:object_r:system_cron_spool_t:s0",
                flags=au.O_WRONLY_CREAT_TRUNC,
                create=True,
                key="cron",
            ),
        )
        t = rand.after(t, 1, 5)
        tl.audit(
            t,
            host,
            au.open_event(
                root,
                "/root/.ssh/authorized_keys",
                "system_u:object_r:ssh_home_t:s0",
                flags=0x80441,
                exit_code=4,
                key="etc",
            ),
        )
        what = "wrote /etc/cron.d/.sysupdate and /root/.ssh/authorized_keys"
    elif plan.variant == "module":
        module = "/var/tmp/.x/vhost_esc.ko"  # noqa: S108 - a path in simulated audit records
        insmod = root.child(ops.pid(host), "/usr/bin/kmod", ("insmod", module))
        tl.audit(t, host, au.exec_event(insmod, "insmod_exec_t"))
        t = rand.after(t, 0.005, 0.05)
        tl.audit(t, host, au.module_load_event(insmod, "vhost_esc"))
        what = "loaded kernel module vhost_esc"
    else:
        ncat = root.child(
            ops.pid(host), "/usr/bin/ncat", ("ncat", "-lkp", "4444", "-e", "/bin/bash")
        )
        tl.audit(t, host, au.exec_event(ncat, "bin_t"))
        t = rand.after(t, 0.005, 0.05)
        anywhere = "0.0.0.0"  # noqa: S104 - the backdoor listens on every interface
        tl.audit(t, host, au.socket_event(ncat, au.BIND, anywhere, 4444))
        t = rand.after(t, 0.001, 0.01)
        tl.audit(t, host, au.listen_event(ncat))
        what = "opened a root shell listener on port 4444"
    return start, t, f"QEMU of {vm.name} spawned a shell on {host}, escalated to root and {what}"


def vmm_seccomp(ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float) -> Outcome:
    """Exploit code in QEMU tries execve; the sandbox kills the process."""
    ops, rand = ctx.ops, ctx.rand
    vm = ops.world.vm(plan.vm or "")
    host = ops.where(vm).id
    ctx.boot_before(vm, start)
    ops.timeline.audit(start, host, au.seccomp_event(ops.qemu_proc(vm), au.EXECVE))
    end = ops.stop_vm(rand, vm, rand.after(start, 0.002, 0.02), "crashed", signal=31)
    return start, end, f"QEMU of {vm.name} on {host} tried execve against its seccomp sandbox"


def vmm_crash_series(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """A guest fuzzes a virtual device: its QEMU crashes again and again; the tenant restarts
    the VM through the API each time."""
    ops, rand = ctx.ops, ctx.rand
    vm = ops.world.vm(plan.vm or "")
    crashes = 4
    gap = min(span, 20 * 60) / crashes
    t, end = start, start
    for number in range(crashes):
        end = ops.stop_vm(rand, vm, t, "crashed")
        if number < crashes - 1:
            restart = rand.after(end, gap * 0.3, gap * 0.5)
            instance_call(ops.timeline, rand, ops.world, vm, "StartInstances", restart)
            up = ops.start_vm(rand, vm, rand.after(restart, 1, 3))
            t = max(up, rand.after(t, gap * 0.8, gap))
    host = ops.where(vm).id
    return start, end, f"QEMU of {vm.name} on {host} crashed {crashes} times"


def cross_vm_access(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """QEMU of one VM opens a co-resident VM's disk image: denied by sVirt, or (permissive)
    allowed and then read through."""
    ops, rand, tl = ctx.ops, ctx.rand, ctx.ops.timeline
    vm, target = ops.world.vm(plan.vm or ""), ops.world.vm(plan.target_vm or "")
    host = ops.where(vm).id
    ctx.boot_before(vm, start)
    qemu = ops.qemu_proc(vm)
    t = start
    if plan.variant == "permissive":
        tl.audit(t, host, au.avc_open_event(qemu, target.disk, target.image_label, permissive=True))
        t = rand.after(t, 1, min(20, span / 4))
        tl.audit(
            t,
            host,
            au.open_event(
                qemu,
                target.disk,
                target.image_label,
                flags=au.O_RDWR,
                exit_code=31,
                owner=107,
                key="vm-disks",
            ),
        )
        how = "opened (SELinux permissive)"
    else:
        for permissions in ("read write", "read", "getattr"):
            tl.audit(
                t,
                host,
                au.avc_open_event(qemu, target.disk, target.image_label, permissions=permissions),
            )
            end = t
            t = rand.after(t, 1, min(15, span / 6))
        t = end
        how = "tried to open (denied by sVirt)"
    return start, t, f"QEMU of {vm.name} {how} {target.name}'s disk {target.disk} on {host}"


# --- containers ---------------------------------------------------------------------------------


def _falco(
    rand: Rand,
    c: Container,
    time: dt.datetime,
    rule: str,
    priority: str,
    text: str,
    fields: dict[str, object],
    tags: tuple[str, ...],
) -> str:
    suffix = f" container_id={c.id} container_name={c.name})"
    return falco_line(
        time,
        c.host,
        rule,
        priority,
        text + suffix,
        {**container_fields(c), **fields},
        tags,
        rand.randrange(1_000_000),
    )


def container_escape(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """A privileged container breaks out through release_agent, core_pattern or nsenter."""
    rand, tl = ctx.rand, ctx.ops.timeline
    c = next(x for x in ctx.ops.world.containers() if x.id == plan.container)
    escape = ("T1611", "container", "maturity_stable", "mitre_privilege_escalation", "process")
    t = start
    if plan.variant == "release_agent":
        cmd = "mount -t cgroup -o rdma cgroup /tmp/cgrp"
        tl.falco(
            t,
            _falco(
                rand,
                c,
                t,
                "Mount Launched in Privileged Container",
                "Warning",
                f"Mount was executed inside a privileged container (evt_type=execve "
                f"user=root user_uid=0 process=mount parent=sh command={cmd}",
                {
                    "evt.type": "execve",
                    "proc.cmdline": cmd,
                    "proc.name": "mount",
                    "proc.pname": "sh",
                    "user.name": "root",
                    "user.uid": 0,
                },
                ("T1611", "cis", "container", "maturity_sandbox", "mitre_privilege_escalation"),
            ),
        )
        t = rand.after(t, 2, min(20, span / 4))
        cmd = "sh -c echo /cmd > /tmp/cgrp/release_agent"
        tl.falco(
            t,
            _falco(
                rand,
                c,
                t,
                "Detect release_agent File Container Escapes",
                "Critical",
                "Detect an attempt to exploit a container escape using release_agent "
                "file (file=/tmp/cgrp/release_agent cap_effective=CAP_SYS_ADMIN "
                f"evt_type=openat user=root user_uid=0 process=sh parent=sh "
                f"command={cmd}",
                {
                    "evt.type": "openat",
                    "fd.name": "/tmp/cgrp/release_agent",  # noqa: S108
                    "proc.cmdline": cmd,
                    "proc.exepath": "/bin/busybox",
                    "proc.name": "sh",
                    "proc.pname": "sh",
                    "user.name": "root",
                    "user.uid": 0,
                },
                escape,
            ),
        )
        what = "cgroup release_agent"
    elif plan.variant == "core_pattern":
        cmd = "sh -c echo '|/tmp/.x/payload.sh' > /proc/sys/kernel/core_pattern"
        tl.falco(
            t,
            _falco(
                rand,
                c,
                t,
                "Core Pattern Escape Attempt",
                "Critical",
                f"Core pattern modification to pipe detected (user=root command={cmd} "
                "file=/proc/sys/kernel/core_pattern",
                {
                    "evt.type": "openat",
                    "fd.name": "/proc/sys/kernel/core_pattern",
                    "proc.cmdline": cmd,
                    "proc.name": "sh",
                    "proc.pname": "bash",
                    "user.name": "root",
                    "user.uid": 0,
                },
                ("T1611", "container", "escape", "mitre_escape", "process"),
            ),
        )
        what = "kernel core_pattern pipe"
    else:
        cmd = "nsenter -t 1 -m -u -i -n -p -- bash"
        for _ in ("mnt", "uts", "net"):
            tl.falco(
                t,
                _falco(
                    rand,
                    c,
                    t,
                    "Change thread namespace",
                    "Notice",
                    "Namespace change (setns) by unexpected program (user=root "
                    f"user_loginuid=-1 process=nsenter parent=bash command={cmd}",
                    {
                        "evt.type": "setns",
                        "proc.cmdline": cmd,
                        "proc.name": "nsenter",
                        "proc.pname": "bash",
                        "user.name": "root",
                        "user.uid": 0,
                    },
                    (
                        "T1611",
                        "container",
                        "maturity_sandbox",
                        "mitre_privilege_escalation",
                        "process",
                    ),
                ),
            )
            t = rand.after(t, 0.0005, 0.003)
        what = "nsenter into the host's namespaces"
    return start, t, f"Container {c.name} ({c.id}) of {c.tenant} on {c.host} escaped via {what}"
