"""Benign hypervisor activity: VM lifecycles (stop/start, reboots, migrations, the occasional
guest panic), operators' SSH sessions and package updates that write /etc as root (never
descended from QEMU), systemd timers and cron jobs, Falco notices in tenants' containers."""

from __future__ import annotations

import datetime as dt

from fenghuo.simulate.cloud_calls import instance_call, run_instances_call
from fenghuo.simulate.emission import AuditEvent, Timeline
from fenghuo.simulate.host_ops import INIT_LABEL, HostOps
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import auditd as au
from fenghuo.simulate.render.falco import container_fields, falco_line
from fenghuo.simulate.world import Container, Host, World

Window = tuple[dt.datetime, dt.datetime]

OPERATORS = (("ops-zhang", 1001), ("ops-li", 1002), ("ops-chen", 1003))
ADMIN_COMMANDS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("/usr/bin/virsh", ("virsh", "list", "--all"), "virsh_exec_t"),
    ("/usr/bin/virsh", ("virsh", "domstats", "--raw"), "virsh_exec_t"),
    ("/usr/bin/systemctl", ("systemctl", "status", "libvirtd"), "systemd_systemctl_exec_t"),
    (
        "/usr/bin/journalctl",
        ("journalctl", "-u", "libvirtd", "--since", "-1h"),
        "journalctl_exec_t",
    ),
    ("/usr/bin/df", ("df", "-h"), "bin_t"),
    ("/usr/bin/free", ("free", "-g"), "bin_t"),
    ("/usr/sbin/ip", ("ip", "-br", "addr"), "ifconfig_exec_t"),
    ("/usr/bin/top", ("top", "-b", "-n1"), "bin_t"),
)
PACKAGES = (
    ("sysstat", "/etc/cron.d/sysstat"),
    ("logrotate", "/etc/logrotate.d/libvirtd"),
    ("chrony", "/etc/chrony.conf"),
    ("audit", "/etc/audit/auditd.conf"),
)


def _hours(window: Window) -> float:
    return (window[1] - window[0]).total_seconds() / 3600


def _count(rand: Rand, per_hour: float, window: Window) -> int:
    """A count with mean `per_hour` scaled to the window (randomly rounded)."""
    expected = per_hour * _hours(window)
    whole = int(expected)
    return whole + (1 if rand.random() < expected - whole else 0)


def vm_lifecycles(ops: HostOps, rand: Rand, window: Window) -> None:
    """Stops and starts (with the tenant's API calls), reboots, panics and migrations of VMs no
    attack scenario uses; each VM takes part in at most one of them."""
    world = ops.world
    free = [vm for vm in world.vms() if vm.name not in world.pinned]
    rand.shuffle(free)
    start, end = window
    minutes = (end - start).total_seconds() / 60
    # Each kind of change needs time to play out inside the window.
    restarts = _count(rand, 0.15 * len(free), window) if minutes >= 10 else 0
    reboots = _count(rand, 0.10 * len(free), window)
    panics = max(1, _count(rand, 1.0, window))
    migrations = max(1, _count(rand, 1.5, window)) if minutes >= 25 else 0
    for vm in free[:restarts]:
        t = rand.moment(start, end - dt.timedelta(minutes=6))
        instance_call(ops.timeline, rand, world, vm, "StopInstances", t)
        t = ops.stop_vm(rand, vm, rand.after(t, 2, 20), "shutdown")
        t = rand.after(t, 30, 240)
        instance_call(ops.timeline, rand, world, vm, "StartInstances", t)
        ops.start_vm(rand, vm, rand.after(t, 1, 4))
    pool = free[restarts:]
    for vm in pool[:reboots]:
        ops.reboot(vm, rand.moment(start, end))
    pool = pool[reboots:]
    for vm in pool[:panics]:
        ops.guest_panic(rand, vm, rand.moment(start, end - dt.timedelta(seconds=30)))
    pool = pool[panics:]
    for vm in pool[:migrations]:
        targets = [h for h in world.hosts if h.id != vm.host]
        target, home = rand.pick(targets), ops.where(vm)
        t = rand.moment(start, end - dt.timedelta(minutes=20))
        t = ops.migrate(rand, vm, t, target)
        ops.migrate(rand, vm, rand.after(t, 300, 900), home)  # maintenance over: back home


def host_background(
    ops: HostOps, rand: Rand, host: Host, window: Window, *, update: bool = False
) -> None:
    """systemd timers, hourly cron, operators' sessions and package updates on one host
    (`update`: at least one session updates a package)."""
    start, end = window
    tl = ops.timeline
    systemd = au.Proc(
        1,
        0,
        "/usr/lib/systemd/systemd",
        "systemd",
        ("/usr/lib/systemd/systemd", "--switched-root", "--system"),
        INIT_LABEL,
    )
    tick = start + dt.timedelta(seconds=rand.uniform(0, 600))
    while tick < end:  # sysstat-collect.timer: every 10 minutes
        tl.audit(tick, host.id, _service("SERVICE_START", "sysstat-collect"))
        sadc = systemd.child(
            ops.pid(host.id),
            "/usr/lib64/sa/sadc",
            ("/usr/lib64/sa/sadc", "-F", "-L", "-S", "DISK", "1", "1", "-"),
            subj="system_u:system_r:sysstat_t:s0",
        )
        tl.audit(rand.after(tick, 0.01, 0.05), host.id, au.exec_event(sadc, "sysstat_exec_t"))
        tl.audit(rand.after(tick, 0.5, 1.5), host.id, _service("SERVICE_STOP", "sysstat-collect"))
        tick += dt.timedelta(minutes=10, seconds=rand.uniform(-2, 2))
    hour = start.replace(minute=1, second=0, microsecond=0)
    while hour < end:
        if hour >= start:
            _cron_hourly(ops, rand, host, rand.after(hour, 0, 2))
        hour += dt.timedelta(hours=1)
    for _ in range(_count(rand, 1.0, window) if host.vms else 0):
        _disk_backup(ops, rand, host, rand.moment(start, end - dt.timedelta(minutes=2)))
    sessions = max(int(update), _count(rand, 1.5, window))
    for number in range(sessions):
        t = rand.moment(start, end - dt.timedelta(minutes=5))
        _admin_session(ops, rand, host, t, update=rand.random() < 0.3 or (update and number == 0))


def _service(kind: str, unit: str) -> AuditEvent:
    systemd = au.Proc(1, 0, "/usr/lib/systemd/systemd", "systemd", ("systemd",), INIT_LABEL)
    return au.user_message(kind, systemd, f'unit={unit} comm="systemd"')


def _cron_hourly(ops: HostOps, rand: Rand, host: Host, time: dt.datetime) -> None:
    tl = ops.timeline
    crond = au.Proc(
        ops.pid(host.id),
        host.crond_pid,
        "/usr/sbin/crond",
        "crond",
        ("/usr/sbin/CROND", "-n"),
        "system_u:system_r:crond_t:s0-s0:c0.c1023",
    )
    ses = ops.session(host.id)
    where = {"terminal": "cron"}
    t = time
    for kind, message in (
        ("CRED_ACQ", "op=PAM:setcred grantors=pam_env,pam_unix"),
        (
            "USER_START",
            "op=PAM:session_open grantors=pam_loginuid,pam_keyinit,pam_limits,pam_systemd,pam_unix",
        ),
    ):
        tl.audit(t, host.id, au.user_message(kind, crond, f'{message} acct="root"', **where))
        t = rand.after(t, 0.001, 0.01)
    job = crond.child(
        ops.pid(host.id),
        "/usr/sbin/anacron",
        ("/usr/sbin/anacron", "-s"),
        auid=0,
        ses=ses,
        subj="system_u:system_r:system_cronjob_t:s0",
    )
    tl.audit(t, host.id, au.exec_event(job, "anacron_exec_t"))
    t = rand.after(t, 0.5, 3)
    after = au.Proc(
        crond.pid, crond.ppid, crond.exe, crond.comm, crond.argv, crond.subj, auid=0, ses=ses
    )
    for kind, message in (
        (
            "USER_END",
            "op=PAM:session_close grantors=pam_loginuid,pam_keyinit,"
            "pam_limits,pam_systemd,pam_unix",
        ),
        ("CRED_DISP", "op=PAM:setcred grantors=pam_env,pam_unix"),
    ):
        tl.audit(t, host.id, au.user_message(kind, after, f'{message} acct="root"', **where))
        t = rand.after(t, 0.001, 0.01)


def _disk_backup(ops: HostOps, rand: Rand, host: Host, time: dt.datetime) -> None:
    """The provider's backup service copies a VM's disk with qemu-img: a host process reading a
    VM image, serving no VM (not cross-VM access)."""
    tl = ops.timeline
    vm = rand.pick(host.vms)
    tl.audit(time, host.id, _service("SERVICE_START", "vm-backup"))
    target = f"/srv/backup/{vm.name}-{time:%Y%m%dT%H%M}.qcow2"
    systemd = au.Proc(1, 0, "/usr/lib/systemd/systemd", "systemd", ("systemd",), INIT_LABEL)
    job = systemd.child(ops.pid(host.id), "/usr/bin/qemu-img",
                        ("qemu-img", "convert", "-U", "-O", "qcow2", vm.disk, target),
                        subj="system_u:system_r:unconfined_service_t:s0")  # fmt: skip
    t = rand.after(time, 0.01, 0.1)
    tl.audit(t, host.id, au.exec_event(job, "qemu_exec_t"))
    t = rand.after(t, 0.01, 0.05)
    tl.audit(t, host.id, au.open_event(job, vm.disk, vm.image_label, owner=107, key="vm-disks"))
    tl.audit(rand.after(t, 20, 90), host.id, _service("SERVICE_STOP", "vm-backup"))


def _admin_session(ops: HostOps, rand: Rand, host: Host, time: dt.datetime, update: bool) -> None:
    """An operator logs in, looks around, maybe updates a package (rpm writes /etc as root)."""
    tl = ops.timeline
    user, uid = rand.pick(OPERATORS)
    shell = ops.ssh_login(rand, host, time, user, uid)
    t = rand.after(time, 2, 10)
    for exe, argv, exe_type in rand.sample(ADMIN_COMMANDS, rand.randint(2, 5)):
        command = shell.child(ops.pid(host.id), exe, argv)
        tl.audit(t, host.id, au.exec_event(command, exe_type))
        t = rand.after(t, 3, 40)
    if update:
        package, config = rand.pick(PACKAGES)
        sudo_cmd = f"dnf -y update {package}"
        tl.audit(
            t,
            host.id,
            au.user_message(
                "USER_CMD",
                au.Proc(
                    ops.pid(host.id),
                    shell.pid,
                    "/usr/bin/sudo",
                    "sudo",
                    (),
                    shell.subj,
                    uid=uid,
                    auid=uid,
                    ses=shell.ses,
                ),
                f"cwd={au.untrusted(shell.cwd)} cmd={au.untrusted(sudo_cmd)}",
                terminal="pts/0",
            ),
        )
        dnf = shell.child(
            ops.pid(host.id),
            "/usr/bin/python3.9",
            ("/usr/bin/python3", "/usr/bin/dnf", "-y", "update", package),
            uid=0,
            gid=0,
            subj="unconfined_u:unconfined_r:rpm_t:s0-s0:c0.c1023",
        )
        dnf = au.Proc(
            dnf.pid,
            dnf.ppid,
            dnf.exe,
            "dnf",
            dnf.argv,
            dnf.subj,
            auid=uid,
            ses=shell.ses,
            tty="pts0",
            cwd=shell.cwd,
        )
        t = rand.after(t, 0.5, 2)
        tl.audit(t, host.id, au.exec_event(dnf, "rpm_exec_t"))
        t = rand.after(t, 8, 40)
        temporary = f"{config};{rand.hex(8)}"
        tl.audit(
            t,
            host.id,
            au.open_event(
                dnf,
                temporary,
                "system_u:object_r:etc_t:s0",
                flags=au.O_WRONLY_CREAT_TRUNC,
                exit_code=12,
                create=True,
                key="etc",
            ),
        )
        t = rand.after(t, 0.01, 0.2)
        tl.audit(
            t,
            host.id,
            au.rename_event(dnf, temporary, config, "system_u:object_r:etc_t:s0", key="etc"),
        )
        t = rand.after(t, 2, 10)
    ops.ssh_logout(rand, host, rand.after(t, 1, 30), shell, user)


# --- Falco notices in containers ------------------------------------------------------------

NOTICES = ("Terminal shell in container", "Contact K8S API Server From Container")


def falco_notices(tl: Timeline, rand: Rand, world: World, window: Window) -> None:
    """Developers exec into their containers; agents talk to the Kubernetes API."""
    start, end = window
    containers = world.containers()
    for _ in range(max(1, _count(rand, 0.6 * len(containers), window))):
        container = rand.pick(containers)
        time = rand.moment(start, end)
        if rand.random() < 0.7:
            tl.falco(time, shell_notice(rand, container, time))
        else:
            tl.falco(time, api_notice(rand, container, time))


def shell_notice(rand: Rand, container: Container, time: dt.datetime) -> str:
    shell = rand.pick(("bash", "sh"))
    text = (
        f"A shell was spawned in a container with an attached terminal (evt_type=execve "
        f"user=root user_uid=0 user_loginuid=-1 process={shell} proc_exepath=/bin/{shell} "
        f"parent=runc command={shell} terminal=34816 exe_flags=EXE_WRITABLE "
        f"container_id={container.id} container_name={container.name})"
    )
    fields = {
        **container_fields(container),
        "evt.type": "execve",
        "proc.cmdline": shell,
        "proc.exepath": f"/bin/{shell}",
        "proc.name": shell,
        "proc.pname": "runc",
        "proc.tty": 34816,
        "user.loginuid": -1,
        "user.name": "root",
        "user.uid": 0,
    }
    tags = ("T1059", "container", "maturity_stable", "mitre_execution", "shell")
    return falco_line(
        time,
        container.host,
        "Terminal shell in container",
        "Notice",
        text,
        fields,
        tags,
        rand.randrange(1_000_000),
    )


def api_notice(rand: Rand, container: Container, time: dt.datetime) -> str:
    text = (
        f"Unexpected connection to K8s API Server from container (connection=10.96.0.1:"
        f"{rand.randint(32768, 60999)}->10.96.0.1:443 lport=443 rport={rand.randint(32768, 60999)}"
        f" fd_type=ipv4 fd_proto=tcp evt_type=connect user=root user_uid=0 process=curl "
        f"container_id={container.id} container_name={container.name})"
    )
    fields = {
        **container_fields(container),
        "evt.type": "connect",
        "fd.name": "10.244.1.17:41822->10.96.0.1:443",
        "fd.type": "ipv4",
        "proc.cmdline": "curl -sk https://kubernetes.default.svc/api",
        "proc.name": "curl",
        "user.name": "root",
        "user.uid": 0,
    }
    tags = ("T1565", "container", "k8s", "maturity_stable", "mitre_discovery", "network")
    return falco_line(
        time,
        container.host,
        "Contact K8S API Server From Container",
        "Notice",
        text,
        fields,
        tags,
        rand.randrange(1_000_000),
    )


def autoscaling(ops: HostOps, rand: Rand, window: Window) -> None:
    """A tenant's autoscaling group grows by a few VMs, spread over hosts, and shrinks back: VM
    churn that is not co-residency probing. Like every churned VM, they are not in the
    inventory (their domains are named by instance id)."""
    world = ops.world
    start, end = window
    for _ in range(max(1, _count(rand, 1.0, window))):
        tenant = rand.pick(world.tenants)
        hosts = rand.sample(world.hosts, min(4, len(world.hosts)))
        t = rand.moment(start, end - dt.timedelta(minutes=4))
        for host in hosts:
            vm = world.add_vm(rand, tenant, host, churned=True)
            run_instances_call(ops.timeline, rand, tenant, vm, tenant.images[0], t)
            up = ops.start_vm(rand, vm, rand.after(t, 15, 40), host=host, define=True)
            gone = min(rand.after(up, 60, 900), end - dt.timedelta(seconds=20))
            if gone > up:
                instance_call(ops.timeline, rand, world, vm, "TerminateInstances", gone)
                ops.stop_vm(rand, vm, rand.after(gone, 2, 6), "destroyed", host=host, undefine=True)
            t = rand.after(t, 1, 5)
