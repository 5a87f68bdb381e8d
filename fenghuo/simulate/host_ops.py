"""What happens on a hypervisor host, as auditd and libvirt report it: libvirtd starting and
stopping QEMU processes, migrations, guest reboots and panics, admins logging in over SSH.

Benign behaviour and attack scenarios both build on these, so a VM an attacker boots looks
exactly like any other VM boot.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass, field

from fenghuo.simulate.emission import Timeline
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.render import auditd as au
from fenghuo.simulate.render.libvirt import lifecycle, virsh_line
from fenghuo.simulate.world import Host, Vm, World

QEMU = "/usr/libexec/qemu-kvm"
BRIDGE_HELPER = "/usr/libexec/qemu-bridge-helper"
QEMU_UID = 107
LIBVIRTD = "/usr/sbin/libvirtd"
VIRTD_LABEL = "system_u:system_r:virtd_t:s0-s0:c0.c1023"
SSHD_LABEL = "system_u:system_r:sshd_t:s0-s0:c0.c1023"
USER_LABEL = "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023"
INIT_LABEL = "system_u:system_r:init_t:s0"
BASTION = "192.168.0.10"  # the operators' jump host on the management network


@dataclass
class HostOps:
    """Generation state shared by everything that writes hypervisor telemetry."""

    world: World
    timeline: Timeline
    qemu: dict[str, int] = field(default_factory=dict)  # running VM -> its QEMU pid
    sessions: dict[str, int] = field(default_factory=dict)  # host -> last audit session id
    location: dict[str, str] = field(default_factory=dict)  # VM -> host it runs on now

    def __post_init__(self) -> None:
        for vm in self.world.vms():
            self.location[vm.name] = vm.host
            self.qemu[vm.name] = vm.qemu_pid

    def where(self, vm: Vm) -> Host:
        return self.world.host(self.location.setdefault(vm.name, vm.host))

    def pid(self, host: str) -> int:
        return self.world.alloc.pid(host)

    def session(self, host: str) -> int:
        self.sessions[host] = self.sessions.get(host, 40) + 1
        return self.sessions[host]

    def libvirtd(self, host: Host) -> au.Proc:
        return au.Proc(
            host.libvirtd_pid, 1, LIBVIRTD, "libvirtd", (LIBVIRTD, "--timeout", "120"), VIRTD_LABEL
        )

    def qemu_proc(self, vm: Vm, host: Host | None = None) -> au.Proc:
        """The running QEMU process of `vm` (on `host`, default its own)."""
        host = host or self.where(vm)
        return au.Proc(
            self.qemu[vm.name],
            host.libvirtd_pid,
            QEMU,
            "qemu-kvm",
            qemu_argv(vm),
            vm.seclabel,
            uid=QEMU_UID,
            gid=QEMU_UID,
        )

    # --- VM lifecycle -----------------------------------------------------------------------

    def start_vm(
        self,
        rand: Rand,
        vm: Vm,
        time: dt.datetime,
        *,
        host: Host | None = None,
        reason: str = "booted",
        define: bool = False,
    ) -> dt.datetime:
        """libvirtd starts QEMU for `vm`: audit records of the start, then the virsh event.
        Returns when the guest is up."""
        host = host or self.where(vm)
        tl, daemon = self.timeline, self.libvirtd(host)
        if define:
            tl.libvirt(time, host.id, lifecycle(time, vm.name, "Defined Added"))
        machine = (
            f"virt=kvm vm={au.untrusted(vm.name)} uuid={vm.uuid} vm-ctx={vm.seclabel} "
            f"img-ctx={vm.image_label} model=selinux"
        )
        t = rand.after(time, 0.05, 0.3)
        tl.audit(t, host.id, au.user_message("VIRT_MACHINE_ID", daemon, machine))
        for resource in (
            f"resrc=disk reason=start vm={au.untrusted(vm.name)} uuid={vm.uuid} "
            f'old-disk="?" new-disk={au.untrusted(vm.disk)}',
            f"resrc=mem reason=start vm={au.untrusted(vm.name)} uuid={vm.uuid} "
            f"old-mem=0 new-mem={rand.choice((2, 4, 8, 16)) * 1048576}",
        ):
            t = rand.after(t, 0.001, 0.02)
            tl.audit(t, host.id, au.user_message("VIRT_RESOURCE", daemon, f"virt=kvm {resource}"))
        pid = self.pid(host.id)
        self.qemu[vm.name] = pid
        incoming = reason == "migrated"
        proc = au.Proc(
            pid,
            daemon.pid,
            QEMU,
            "qemu-kvm",
            qemu_argv(vm, incoming=incoming),
            vm.seclabel,
            uid=QEMU_UID,
            gid=QEMU_UID,
        )
        t = rand.after(t, 0.02, 0.2)
        tl.audit(t, host.id, au.exec_event(proc, "qemu_exec_t"))
        if rand.random() < 0.3:  # a bridged NIC: QEMU runs libvirt's setuid bridge helper
            helper = proc.child(self.pid(host.id), BRIDGE_HELPER,
                                (BRIDGE_HELPER, "--use-vnet", "--br=br0", "--fd=31"))  # fmt: skip
            t = rand.after(t, 0.05, 0.2)
            tl.audit(t, host.id, au.exec_event(helper, "qemu_exec_t"))
        # The VNC display, on the loopback (a port in libvirt's 5900-5999 range).
        t = rand.after(t, 0.05, 0.3)
        display = 5900 + zlib.crc32(vm.name.encode()) % 100
        tl.audit(t, host.id, au.socket_event(proc, au.BIND, "127.0.0.1", display))
        control = (
            f"virt=kvm op=start reason={reason} vm={au.untrusted(vm.name)} uuid={vm.uuid} "
            f"vm-pid={pid}"
        )
        t = rand.after(t, 0.3, 1.2)
        tl.audit(t, host.id, au.user_message("VIRT_CONTROL", daemon, control))
        t = rand.after(t, 0.01, 0.2)
        tl.libvirt(
            t, host.id, lifecycle(t, vm.name, "Started Migrated" if incoming else "Started Booted")
        )
        if reason == "booted":
            up = rand.after(t, 12, 40)
            tl.libvirt(
                up,
                host.id,
                virsh_line(
                    up, "agent-lifecycle", vm.name, "state: 'connected' reason: 'channel event'"
                ),
            )
            return up
        return t

    def stop_vm(
        self,
        rand: Rand,
        vm: Vm,
        time: dt.datetime,
        how: str,
        *,
        host: Host | None = None,
        undefine: bool = False,
        signal: int | None = None,
    ) -> dt.datetime:
        """The VM goes down: `shutdown` (guest), `destroyed` (forced), `crashed` (QEMU died,
        dumping core), `migrated` (left for another host)."""
        host = host or self.where(vm)
        tl, t = self.timeline, time
        if how == "shutdown":
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Shutdown Finished after guest request"))
            t = rand.after(t, 0.5, 3)
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Stopped Shutdown"))
        elif how == "crashed":
            signal = signal or rand.choice((11, 11, 6))  # SIGSEGV, or SIGABRT from an assertion
            tl.audit(t, host.id, au.abend_event(self.qemu_proc(vm, host), signal))
            t = rand.after(t, 0.05, 0.4)
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Stopped Crashed"))
        elif how == "migrated":
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Suspended Migrated"))
            t = rand.after(t, 0.2, 1.5)
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Stopped Migrated"))
        else:
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Stopped Destroyed"))
        control = (
            f"virt=kvm op=stop reason={how} vm={au.untrusted(vm.name)} uuid={vm.uuid} vm-pid=-1"
        )
        t = rand.after(t, 0.01, 0.1)
        tl.audit(t, host.id, au.user_message("VIRT_CONTROL", self.libvirtd(host), control))
        if undefine:
            t = rand.after(t, 0.5, 3)
            tl.libvirt(t, host.id, lifecycle(t, vm.name, "Undefined Removed"))
        self.qemu.pop(vm.name, None)
        return t

    def reboot(self, vm: Vm, time: dt.datetime) -> None:
        self.timeline.libvirt(time, self.where(vm).id, virsh_line(time, "reboot", vm.name))

    def guest_panic(self, rand: Rand, vm: Vm, time: dt.datetime) -> None:
        """The guest kernel panicked (pvpanic); libvirt's on_crash=restart resets it."""
        host = self.where(vm).id
        self.timeline.libvirt(time, host, lifecycle(time, vm.name, "Crashed Panicked"))
        self.reboot(vm, rand.after(time, 2, 8))

    def migrate(self, rand: Rand, vm: Vm, time: dt.datetime, target: Host) -> dt.datetime:
        """Live migration to `target`: QEMU started there with -incoming, stopped here."""
        source = self.where(vm)
        t = self.start_vm(rand, vm, time, host=target, reason="migrated")
        pid = self.qemu[vm.name]
        t = self.stop_vm(rand, vm, rand.after(t, 5, 30), "migrated", host=source)
        self.qemu[vm.name] = pid
        self.location[vm.name] = target.id
        resumed = rand.after(t, 0.05, 0.5)
        self.timeline.libvirt(resumed, target.id, lifecycle(resumed, vm.name, "Resumed Migrated"))
        return resumed

    # --- operators --------------------------------------------------------------------------

    def ssh_login(self, rand: Rand, host: Host, time: dt.datetime, user: str, uid: int) -> au.Proc:
        """An operator logs in with a key from the bastion; returns the login shell."""
        tl = self.timeline
        child = au.Proc(
            self.pid(host.id),
            host.sshd_pid,
            "/usr/sbin/sshd",
            "sshd",
            ("sshd:", user, "[priv]"),
            SSHD_LABEL,
        )
        ses = self.session(host.id)
        account = f"acct={au.untrusted(user)}"
        where = {"hostname": BASTION, "addr": BASTION, "terminal": "ssh"}
        t = time
        tl.audit(
            t,
            host.id,
            au.user_message(
                "USER_AUTH", child, f"op=pubkey_auth grantors=auth-key {account}", addr=BASTION
            ),
        )
        for kind, message in (
            ("USER_ACCT", "op=PAM:accounting grantors=pam_unix,pam_localuser"),
            ("CRED_ACQ", "op=PAM:setcred grantors=pam_env,pam_unix"),
        ):
            t = rand.after(t, 0.001, 0.02)
            tl.audit(t, host.id, au.user_message(kind, child, f"{message} {account}", **where))
        t = rand.after(t, 0.001, 0.01)
        tl.audit(t, host.id, au.login_event(child, uid, ses))
        logged = au.Proc(
            child.pid, child.ppid, child.exe, child.comm, child.argv, child.subj, auid=uid, ses=ses
        )
        t = rand.after(t, 0.01, 0.05)
        tl.audit(
            t,
            host.id,
            au.user_message(
                "USER_START",
                logged,
                "op=PAM:session_open grantors=pam_selinux,pam_loginuid,"
                f"pam_selinux,pam_namespace,pam_keyinit,pam_limits,pam_systemd,pam_unix {account}",
                **where,
            ),
        )
        t = rand.after(t, 0.05, 0.2)
        tl.audit(
            t,
            host.id,
            au.user_message(
                "USER_LOGIN",
                logged,
                f"op=login id={uid}",
                hostname=BASTION,
                addr=BASTION,
                terminal="/dev/pts/0",
            ),
        )
        shell = logged.child(
            self.pid(host.id),
            "/usr/bin/bash",
            ("-bash",),
            uid=uid,
            gid=uid,
            subj=USER_LABEL,
            tty="pts0",
            cwd=f"/home/{user}",
        )
        tl.audit(rand.after(t, 0.01, 0.1), host.id, au.exec_event(shell, "shell_exec_t"))
        return shell

    def ssh_logout(
        self, rand: Rand, host: Host, time: dt.datetime, shell: au.Proc, user: str
    ) -> None:
        tl = self.timeline
        sshd = au.Proc(
            shell.ppid,
            host.sshd_pid,
            "/usr/sbin/sshd",
            "sshd",
            ("sshd:",),
            SSHD_LABEL,
            auid=shell.auid,
            ses=shell.ses,
        )
        account = f"acct={au.untrusted(user)}"
        where = {"hostname": BASTION, "addr": BASTION, "terminal": "ssh"}
        t = time
        tl.audit(
            t,
            host.id,
            au.user_message(
                "USER_END",
                sshd,
                f"op=PAM:session_close grantors=pam_selinux,pam_loginuid,"
                f"pam_selinux,pam_namespace,pam_keyinit,pam_limits,pam_systemd,pam_unix {account}",
                **where,
            ),
        )
        t = rand.after(t, 0.001, 0.01)
        tl.audit(
            t,
            host.id,
            au.user_message(
                "USER_LOGOUT", sshd, f"op=login id={shell.auid}", terminal="/dev/pts/0"
            ),
        )
        t = rand.after(t, 0.001, 0.01)
        tl.audit(
            t,
            host.id,
            au.user_message(
                "CRED_DISP", sshd, f"op=PAM:setcred grantors=pam_env,pam_unix {account}", **where
            ),
        )


def qemu_argv(vm: Vm, *, incoming: bool = False) -> tuple[str, ...]:
    """QEMU's command line as libvirt builds it (abridged: the options that matter)."""
    argv = (
        QEMU,
        "-name",
        f"guest={vm.name},debug-threads=on",
        "-S",
        "-object",
        '{"qom-type":"secret","id":"masterKey0","format":"raw","file":'
        f'"/var/lib/libvirt/qemu/domain-{vm.name}/master-key.aes"}}',
        "-machine",
        "pc-q35-rhel9.2.0,usb=off,dump-guest-core=off,memory-backend=pc.ram",
        "-accel",
        "kvm",
        "-cpu",
        "host,migratable=on",
        "-m",
        "size=4194304k",
        "-uuid",
        vm.uuid,
        "-no-user-config",
        "-nodefaults",
        "-sandbox",
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
        "-msg",
        "timestamp=on",
    )
    return (*argv, "-incoming", "defer") if incoming else argv
