"""Co-residency probing (cloud cartography): a tenant churns VMs until they land on the hosts of
the tenant it is after, seen in CloudTrail (RunInstances / TerminateInstances of the actor's
account) and on the hosts (libvirt lifecycle events, libvirtd's and QEMU's audit records).
Churned VMs are short-lived and never in the inventory; their domains are named by instance id."""

from __future__ import annotations

import datetime as dt

from fenghuo.simulate.attacks_host import AttackContext, Outcome
from fenghuo.simulate.cloud_calls import instance_call, run_instances_call
from fenghuo.simulate.world import AttackPlan


def co_residency_probing(
    ctx: AttackContext, plan: AttackPlan, start: dt.datetime, span: float
) -> Outcome:
    """The actor launches VM after VM, keeps the ones that land on the victim's hosts and
    terminates the rest (and most hits, once it has measured them)."""
    ops, rand, world = ctx.ops, ctx.rand, ctx.ops.world
    actor, victim = world.tenant(plan.actor or ""), world.tenant(plan.victim)
    victim_hosts = sorted(world.hosts, key=lambda h: -sum(vm.tenant == victim.id for vm in h.vms))
    targets = [h for h in victim_hosts if any(vm.tenant == victim.id for vm in h.vms)][:3]
    misses = [h for h in world.hosts if h not in targets] or targets
    launches = 12
    gap = min(span, 18 * 60) / launches
    image = rand.pick(actor.images)
    t, end = start, start
    kept = 0
    for number in range(launches):
        hit = number % 4 != 3
        host = rand.pick(targets if hit else misses)
        vm = world.add_vm(rand, actor, host, churned=True)
        run_instances_call(ops.timeline, rand, actor, vm, image, t)
        up = ops.start_vm(rand, vm, rand.after(t, 15, 40), host=host, define=True)
        end = max(end, up)
        if hit and kept < 2:
            kept += 1  # the attacker keeps two VMs beside the victim
        else:
            gone = rand.after(up, min(gap * 0.6, 60), min(gap * 0.9, 150))
            instance_call(ops.timeline, rand, world, vm, "TerminateInstances", gone)
            stopped = ops.stop_vm(
                rand, vm, rand.after(gone, 2, 6), "destroyed", host=host, undefine=True
            )
            end = max(end, stopped)
        t = rand.after(t, gap * 0.8, gap)
    hosts = ", ".join(h.id for h in targets)
    return (
        start,
        end,
        (
            f"{actor.id} launched {launches} VMs in a row, most landing on {hosts} "
            f"beside {victim.id}"
        ),
    )
