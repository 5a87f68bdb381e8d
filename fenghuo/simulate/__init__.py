"""`fenghuo simulate`: a seeded multi-tenant cloud, its benign telemetry and labelled attacks, in
the real formats (auditd, libvirt events, Falco, CloudTrail, VPC flow logs), to files or Kafka.

`run_simulate(config, out)` writes the files; `stream_to_kafka(world, ingestor, rate, stop)`
publishes live through the ingest pipeline; `create_world(config)` builds the cloud both use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from fenghuo.simulate.config import SimulationConfig, parse_duration
from fenghuo.simulate.generate import Generator, Segment, create_world
from fenghuo.simulate.labels import AttackLabel, load_labels
from fenghuo.simulate.output import ManifestEntry, write_simulation
from fenghuo.simulate.stream import StreamReport, stream_to_kafka
from fenghuo.simulate.world import World


@dataclass
class SimulationResult:
    world: World
    segment: Segment
    manifest: list[ManifestEntry]

    @property
    def events(self) -> int:
        return sum(entry.events for entry in self.manifest)

    @property
    def labels(self) -> list[AttackLabel]:
        return self.segment.labels


def live_world(rate: float, *, seed: int = 7, duration: dt.timedelta | None = None) -> World:
    """A world whose telemetry, streamed at `rate` events/s from now on, carries event times
    that follow the wall clock (its density is `rate` events per simulated second). Attribute
    the stream against `world.inventory_yaml()`."""
    config = SimulationConfig(
        seed=seed,
        start=dt.datetime.now(dt.UTC).replace(microsecond=0),
        duration=duration or dt.timedelta(hours=1),
        rate=rate,
    )
    return create_world(config)


def run_simulate(config: SimulationConfig, out: Path) -> SimulationResult:
    """Generate one run and write it under `out` (see `fenghuo.simulate.output` for the layout)."""
    world = create_world(config)
    segment = Generator(world).segment(0)
    out.mkdir(parents=True, exist_ok=True)
    manifest = write_simulation(out, world, segment)
    return SimulationResult(world, segment, manifest)


__all__ = [
    "AttackLabel",
    "SimulationConfig",
    "SimulationResult",
    "StreamReport",
    "World",
    "create_world",
    "live_world",
    "load_labels",
    "parse_duration",
    "run_simulate",
    "stream_to_kafka",
]
