"""Live telemetry: the simulation's raw lines published through the Ingestor (parse, attribute,
publish), paced at a fixed number of events per second of wall-clock time.

Event `k` (0-based) is released at `t0 + (k + 1) / rate`; whatever is due is published in one
batch, grouped by format and host, so a slow broker delays batches but never changes how many
events go out. Waiting is `stop.wait(...)`: no busy loop, and a stop is noticed at once.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from fenghuo.ingest.parsers import RawLine
from fenghuo.ingest.pipeline import Ingestor
from fenghuo.simulate.emission import LIBVIRT, VPCFLOW, Emission
from fenghuo.simulate.generate import Generator
from fenghuo.simulate.labels import AttackLabel
from fenghuo.simulate.output import Renderer, file_key
from fenghuo.simulate.render.vpcflow import HEADER
from fenghuo.simulate.world import World

log = logging.getLogger(__name__)

MAX_BATCH = 5000  # events per publish round when the stream has fallen behind


@dataclass
class StreamReport:
    events: int = 0  # simulated events handed to the ingestor
    published: int = 0  # events the broker acknowledged
    dead_lettered: int = 0
    unattributed: int = 0
    segments: int = 0
    elapsed: float = 0.0
    per_topic: Counter[str] = field(default_factory=Counter)
    labels: list[AttackLabel] = field(default_factory=list)


class _Publisher:
    """Turns a batch of emissions into ingest calls, one per (format, host) group."""

    def __init__(self, ingestor: Ingestor, report: StreamReport) -> None:
        self.ingestor = ingestor
        self.report = report
        self.renderer = Renderer()
        self.line_numbers: Counter[str] = Counter()

    def publish(self, batch: Sequence[Emission]) -> None:
        groups: dict[tuple[str, str, str | None], list[Emission]] = {}
        for emission in batch:
            path, host = file_key(emission)
            groups.setdefault((emission.format, path, host), []).append(emission)
        for (fmt, path, host), emissions in groups.items():
            texts = [line for e in emissions for line in self.renderer.lines(e)]
            if fmt == VPCFLOW:
                texts.insert(0, HEADER)
            source = f"simulate:{path}"
            first = self.line_numbers[source] + 1
            self.line_numbers[source] += len(texts)
            lines = (RawLine(source, first + i, text) for i, text in enumerate(texts))
            result = self.ingestor.ingest(
                fmt, lines, host_id=host if fmt == LIBVIRT else None, received_via="simulate"
            )
            self.report.events += len(emissions)
            self.report.published += result.published
            self.report.dead_lettered += result.dead_lettered
            self.report.unattributed += result.unattributed
            self.report.per_topic.update(result.per_topic)
            for error in result.errors[:5]:
                log.warning("simulated record rejected: %s:%s: %s", fmt, error.line, error.reason)


def _emissions(generator: Generator, loop: bool, report: StreamReport) -> Iterator[Emission]:
    for index in itertools.count():
        if index > 0 and not loop:
            return
        segment = generator.segment(index)
        report.segments += 1
        report.labels.extend(segment.labels)
        yield from segment.timeline.ordered()


def stream_to_kafka(
    world: World,
    ingestor: Ingestor,
    rate: float,
    stop_event: threading.Event,
    *,
    max_events: int | None = None,
    loop: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> StreamReport:
    """Publish the world's telemetry at `rate` events/s until `stop_event` is set, `max_events`
    have gone out, or the simulated duration is used up (with `loop`, segment after segment of
    `world.config.duration` follow each other until stopped).

    The ingestor must attribute against this world's inventory (`world.inventory_yaml()`).
    """
    if rate <= 0:
        msg = f"rate must be positive, got {rate}"
        raise ValueError(msg)
    report = StreamReport()
    publisher = _Publisher(ingestor, report)
    source = _emissions(Generator(world), loop, report)
    pending: Emission | None = next(source, None)  # generates the first segment
    start = clock()
    sent = 0
    while pending is not None and not stop_event.is_set():
        if max_events is not None and sent >= max_events:
            break
        due = int((clock() - start) * rate) - sent
        if due <= 0:
            stop_event.wait(max(0.001, start + (sent + 1) / rate - clock()))
            continue
        limit = min(due, MAX_BATCH)
        if max_events is not None:
            limit = min(limit, max_events - sent)
        batch = [pending]
        while len(batch) < limit and (following := next(source, None)) is not None:
            batch.append(following)
        pending = next(source, None) if len(batch) == limit else None
        publisher.publish(batch)
        sent += len(batch)
    report.elapsed = clock() - start
    return report


class LiveSimulation:
    """`stream_to_kafka` on a background thread, for `fenghuo up --simulate` and
    `fenghuo simulate --kafka`. A failure (the broker gone) ends the stream and is kept in
    `error`; `stop()` returns the report, or None when the stream failed."""

    def __init__(self, world: World, ingestor: Ingestor, rate: float, *, loop: bool) -> None:
        self.done = threading.Event()
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._report: StreamReport | None = None
        self._args = (world, ingestor, rate)
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="fenghuo-simulate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> StreamReport | None:
        self._stop.set()
        self._thread.join()
        return self._report

    def _run(self) -> None:
        try:
            self._report = stream_to_kafka(*self._args, self._stop, loop=self._loop)
        except Exception as exc:  # kept for the owner to report; the thread ends
            log.exception("the simulation stream stopped")
            self.error = exc
        finally:
            self.done.set()
