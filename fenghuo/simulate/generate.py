"""The whole simulation: the world, its labelled attacks and benign background, one time
segment at a time (file output is segment 0; a live stream may go on to later segments)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from fenghuo.simulate import attacks_cloud, attacks_host, attacks_placement
from fenghuo.simulate.attacks_host import AttackContext, Outcome
from fenghuo.simulate.benign_cloud import ApiBackground
from fenghuo.simulate.benign_flows import flow_background
from fenghuo.simulate.benign_host import autoscaling, falco_notices, host_background, vm_lifecycles
from fenghuo.simulate.build import build_world
from fenghuo.simulate.config import SimulationConfig
from fenghuo.simulate.emission import Timeline
from fenghuo.simulate.host_ops import HostOps
from fenghuo.simulate.labels import AttackLabel
from fenghuo.simulate.plan import EXPECTED, HOST_KINDS, plan_attacks
from fenghuo.simulate.rand import Rand
from fenghuo.simulate.world import AttackPlan, World

Builder = Callable[[AttackContext, AttackPlan, dt.datetime, float], Outcome]

# kind -> (scenario, how long it naturally lasts in seconds)
SCENARIOS: dict[str, tuple[Builder, float]] = {
    "vm_escape": (attacks_host.vm_escape, 90),
    "vmm_seccomp": (attacks_host.vmm_seccomp, 10),
    "vmm_crash_series": (attacks_host.vmm_crash_series, 20 * 60),
    "cross_vm_access": (attacks_host.cross_vm_access, 60),
    "container_escape": (attacks_host.container_escape, 40),
    "cross_tenant_flow": (attacks_cloud.cross_tenant_flow, 300),
    "cross_tenant_sharing": (attacks_cloud.cross_tenant_sharing, 120),
    "credential_misuse": (attacks_cloud.credential_misuse, 300),
    "anomalous_access": (attacks_cloud.anomalous_access, 240),
    "co_residency_probing": (attacks_placement.co_residency_probing, 18 * 60),
}
# Share of the events left after hypervisor activity and attacks: the rest are flows.
API_SHARE = 0.35


def create_world(config: SimulationConfig) -> World:
    """The cloud and the attacks planned in it: everything the inventory must list."""
    world = build_world(config)
    plan_attacks(world)
    return world


@dataclass
class Segment:
    window: tuple[dt.datetime, dt.datetime]
    timeline: Timeline
    labels: list[AttackLabel]


class Generator:
    """Generates successive segments of one world; state that outlives a segment (running
    QEMU pids, where migrated VMs are) is kept between them."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.ops = HostOps(world, Timeline())

    def segment(self, index: int = 0) -> Segment:
        config = self.world.config
        start = config.start + index * config.duration
        window = (start, start + config.duration)
        timeline = Timeline()
        self.ops.timeline = timeline
        seed = config.seed
        labels = self._attacks(Rand.derive(seed, f"attacks:{index}"), window, index)
        rand = Rand.derive(seed, f"hosts:{index}")
        vm_lifecycles(self.ops, rand, window)
        autoscaling(self.ops, rand, window)
        for number, host in enumerate(self.world.hosts):
            # Package updates writing /etc as root: always some, next to the escapes' writes.
            host_background(self.ops, rand, host, window, update=number % 4 == 0)
        falco_notices(timeline, rand, self.world, window)
        remaining = max(0, config.budget - len(timeline))
        api = round(remaining * API_SHARE)
        ApiBackground(timeline, Rand.derive(seed, f"api:{index}"), self.world, window).run(api)
        flows = Rand.derive(seed, f"flows:{index}")
        flow_background(timeline, flows, self.world, window, remaining - api)
        return Segment(window, timeline, labels)

    def _attacks(
        self, rand: Rand, window: tuple[dt.datetime, dt.datetime], index: int
    ) -> list[AttackLabel]:
        context = AttackContext(self.ops, rand, window)
        duration = (window[1] - window[0]).total_seconds()
        lead, tail = min(180.0, 0.08 * duration), min(300.0, 0.1 * duration)
        labels = []
        for plan in self.world.attacks:
            builder, natural = SCENARIOS[plan.kind]
            span = min(natural, 0.3 * duration)
            room = max(0.0, duration - lead - tail - span)
            start = window[0] + dt.timedelta(seconds=round(lead + plan.offset * room, 3))
            first, last, description = builder(context, plan, start, span)
            on_host = plan.kind in HOST_KINDS or plan.kind == "container_escape"
            labels.append(
                AttackLabel(
                    id=plan.id if index == 0 else f"s{index}-{plan.id}",
                    kind=plan.kind,
                    tenant_id=plan.victim,
                    actor_tenant_id=plan.actor,
                    host_id=plan.host if on_host else None,
                    vm_id=plan.vm if plan.kind != "co_residency_probing" else None,
                    start=first,
                    end=last,
                    variant=plan.variant,
                    description=description,
                    expected_detectors=EXPECTED.get((plan.kind, plan.variant), ()),
                )
            )
        return sorted(labels, key=lambda label: (label.start, label.id))
