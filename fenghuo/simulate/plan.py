"""Choose who attacks whom: one plan per attack scenario, fixed when the world is built.

Host attacks need co-residency (the attacker's VM or container on a host where another tenant
runs); network and control-plane attacks need two tenants that are not peered. The VMs a
scenario acts through are pinned, so benign lifecycles leave their QEMU processes alone.
"""

from __future__ import annotations

from fenghuo.simulate.rand import Rand
from fenghuo.simulate.world import AttackPlan, Host, World

# (kind, variant): every scenario the simulator knows, and the detector meant to catch it.
CATALOGUE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("vm_escape", "cron", ("vmm-child-process", "host-tampering")),
    ("vm_escape", "module", ("vmm-child-process", "host-tampering")),
    ("vm_escape", "listener", ("vmm-child-process", "host-tampering")),
    ("vmm_seccomp", "execve", ("vmm-seccomp-violation",)),
    ("vmm_crash_series", "segv", ("vmm-crash",)),
    ("cross_vm_access", "denied", ("cross-vm-access",)),
    ("cross_vm_access", "permissive", ("cross-vm-access",)),
    ("container_escape", "release_agent", ("container-escape",)),
    ("container_escape", "core_pattern", ("container-escape",)),
    ("container_escape", "nsenter", ("container-escape",)),
    ("cross_tenant_flow", "exfil", ("cross-tenant-flow",)),
    ("cross_tenant_flow", "probe", ("cross-tenant-flow",)),
    ("cross_tenant_sharing", "snapshot", ("cross-tenant-sharing",)),
    ("cross_tenant_sharing", "image_public", ("cross-tenant-sharing",)),
    ("cross_tenant_sharing", "db_snapshot", ("cross-tenant-sharing",)),
    ("credential_misuse", "other_tenant", ("cross-tenant-credential-use",)),
    ("credential_misuse", "internet", ("cross-tenant-credential-use",)),
    # anomalous-access-volume is inactive until `fenghuo train` gave it a baseline.
    ("anomalous_access", "s3_burst", ("anomalous-access-volume",)),
    ("co_residency_probing", "launch_burst", ("co-residency-probing",)),
)
EXPECTED: dict[tuple[str, str], tuple[str, ...]] = {(k, v): d for k, v, d in CATALOGUE}
KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for kind, _, _ in CATALOGUE))
HOST_KINDS = frozenset({"vm_escape", "vmm_seccomp", "vmm_crash_series", "cross_vm_access"})
CRASHING = frozenset({"vmm_seccomp", "vmm_crash_series"})  # scenarios whose QEMU dies


def _shared_hosts(world: World) -> list[Host]:
    """Hosts with VMs of at least two tenants, and a VM free for an attacker."""
    return [
        h
        for h in world.hosts
        if len({vm.tenant for vm in h.vms}) >= 2
        and any(vm.name not in world.pinned for vm in h.vms)
    ]


def _unpeered(rand: Rand, world: World) -> tuple[str, str]:
    pairs = [
        (a.id, b.id)
        for a in world.tenants
        for b in world.tenants
        if a.id != b.id and not world.peered(a.id, b.id)
    ]
    return rand.pick(pairs)


def plan_attacks(world: World) -> None:
    """Fill `world.attacks` (and `world.pinned`) for every round of the catalogue."""
    rand = Rand.derive(world.config.seed, "plan")
    scenarios = [
        (kind, variant) for _ in range(world.config.attack_rounds) for kind, variant, _ in CATALOGUE
    ]
    rand.shuffle(scenarios)
    total = len(scenarios)
    for number, (kind, variant) in enumerate(scenarios, start=1):
        offset = (number - 1 + rand.uniform(0.15, 0.85)) / max(total, 1)
        plan = _plan(rand, world, f"a{number:02d}", kind, variant, offset)
        if plan is not None:
            world.attacks.append(plan)


def _plan(
    rand: Rand, world: World, plan_id: str, kind: str, variant: str, offset: float
) -> AttackPlan | None:
    if kind in HOST_KINDS:
        hosts = _shared_hosts(world)
        if kind in CRASHING:
            # Two scenarios crashing QEMU on one host within the detector's window would be one
            # host-wide crash series: a different attack from the two labelled.
            taken = {p.host for p in world.attacks if p.kind in CRASHING}
            hosts = [h for h in hosts if h.id not in taken] or hosts
        if not hosts:
            return None
        host = rand.pick(hosts)
        actor_vm = rand.pick([vm for vm in host.vms if vm.name not in world.pinned])
        others = [vm for vm in host.vms if vm.tenant != actor_vm.tenant]
        if not others:
            return None
        target = rand.pick(others)
        world.pinned.add(actor_vm.name)
        return AttackPlan(
            plan_id,
            kind,
            variant,
            victim=target.tenant,
            actor=actor_vm.tenant,
            host=host.id,
            vm=actor_vm.name,
            target_vm=target.name,
            offset=offset,
        )
    if kind == "container_escape":
        hosts = [h for h in world.hosts if h.containers and len(h.tenants()) >= 2]
        if not hosts:
            return None
        host = rand.pick(hosts)
        container = rand.pick(host.containers)
        victims = [t for t in host.tenants() if t != container.tenant]
        return AttackPlan(
            plan_id,
            kind,
            variant,
            victim=rand.pick(victims),
            actor=container.tenant,
            host=host.id,
            container=container.id,
            offset=offset,
        )
    if kind == "co_residency_probing":
        actor, victim = _unpeered(rand, world)
        return AttackPlan(plan_id, kind, variant, victim=victim, actor=actor, offset=offset)
    actor, victim = _unpeered(rand, world)
    if kind == "credential_misuse":
        # The victim's VM whose instance credentials are stolen, used by the actor (or, from
        # the internet, by nobody the provider knows).
        vm = rand.pick(world.vms_of(victim))
        return AttackPlan(
            plan_id,
            kind,
            variant,
            victim=victim,
            actor=actor if variant == "other_tenant" else None,
            vm=vm.name,
            offset=offset,
        )
    if kind == "cross_tenant_sharing":
        # The victim's data is shared with the actor's account (or with everyone).
        return AttackPlan(
            plan_id,
            kind,
            variant,
            victim=victim,
            actor=None if variant == "image_public" else actor,
            offset=offset,
        )
    source = rand.pick(world.vms_of(actor))
    target = rand.pick(world.vms_of(victim))
    return AttackPlan(
        plan_id,
        kind,
        variant,
        victim=victim,
        actor=actor,
        vm=source.name,
        target_vm=target.name,
        offset=offset,
    )
