"""The per-key discipline of the stream job equals replay for any partition interleaving (no JVM).

`simulate` plays the job's part without Flink: events spread over partitions (in event-time order
within each, as ingest publishes them), partitions read in random chunks, a watermark that is the
minimum over partitions of the newest time minus the bound, and the adapter's buffering and
wake-ups. Whatever the interleaving, the folded alerts must be replay's.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random
import zlib
from collections import defaultdict

import pytest

from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.registry import instantiate
from fenghuo.detectors.testing import FIXED_NOW, demo_inventory
from fenghuo.ingest.routing import key_for
from fenghuo.model import Event
from fenghuo.model.alert import Alert
from fenghuo.streaming.flush import END_OF_INPUT, flush_event, is_watermark_flush
from fenghuo.streaming.keyed import KeyedRunner, Slot, from_millis, to_millis
from fenghuo.streaming.replay import DEFAULT_OUT_OF_ORDERNESS, fold_alerts, replay
from tests.streaming.scenario import comparable, scenario_config, scenario_events

BOUND = DEFAULT_OUT_OF_ORDERNESS
BOUND_MS = int(BOUND.total_seconds() * 1000)
PARTITIONS = 3


def engine() -> DetectionEngine:
    return DetectionEngine(
        instantiate(), demo_inventory().current, scenario_config(), clock=lambda: FIXED_NOW
    )


def partitioned(events: tuple[Event, ...]) -> list[list[Event]]:
    """Events per (topic, partition) as ingest would publish them, each ending with a flush."""
    parts: dict[tuple[str, int], list[Event]] = defaultdict(list)
    for event in events:
        parts[(event.family.value, zlib.crc32(key_for(event).encode()) % PARTITIONS)].append(event)
    for family in ("hypervisor", "tenant", "network"):
        for p in range(PARTITIONS):
            parts[(family, p)].append(flush_event(family, p))
    return [parts[k] for k in sorted(parts)]


def simulate(events: tuple[Event, ...], seed: int) -> list[Alert]:
    """The adapter's part: each event waits under its ms with a wake-up there; when a watermark
    fires a key's first wake-up, the key runs every event the watermark passed and the engine
    timers due by then, and its other due wake-ups are deleted; an engine timer at t wakes the
    key at t + bound."""
    rng = random.Random(seed)
    eng = engine()
    runner = KeyedRunner(eng, BOUND)
    queues = partitioned(events)
    newest: list[int | None] = [None] * len(queues)
    watermark = -(2**63)
    pending: dict[str, dict[int, list[Event]]] = defaultdict(dict)
    slots: dict[str, Slot] = defaultdict(Slot)
    heap: list[tuple[int, str]] = []
    live: set[tuple[int, str]] = set()  # Flink keeps one timer per key and time
    emitted: list[Alert] = []

    def run(state_key: str, ready: list[Event], at_watermark: int) -> None:
        until = from_millis(at_watermark - BOUND_MS)
        outcome = runner.run(state_key, slots[state_key], ready, until)
        for timer in outcome.fired:
            live.discard((to_millis(timer) + BOUND_MS, state_key))
        for timer in outcome.new_timers:
            wake_up = (to_millis(timer) + BOUND_MS, state_key)
            if wake_up not in live:
                live.add(wake_up)
                heapq.heappush(heap, wake_up)
        emitted.extend(outcome.alerts)

    while any(queues):
        index = rng.choice([i for i, q in enumerate(queues) if q])
        size = rng.randint(1, 40)
        chunk, queues[index] = queues[index][:size], queues[index][size:]
        for event in chunk:
            at = to_millis(event.event_time)
            newest[index] = at
            if is_watermark_flush(event):
                continue
            for detector_id, key in eng.route(event):
                state_key = DetectionEngine.state_key(detector_id, key)
                if at > watermark:
                    pending[state_key].setdefault(at, []).append(event)
                    if (at, state_key) not in live:
                        live.add((at, state_key))
                        heapq.heappush(heap, (at, state_key))
                else:  # late: run at once, as the adapter does
                    run(state_key, [event], watermark)
        if all(n is not None for n in newest):
            watermark = max(watermark, min(n for n in newest if n is not None) - BOUND_MS - 1)
            while heap and heap[0][0] <= watermark:
                wake_up = heapq.heappop(heap)
                if wake_up not in live:
                    continue  # deleted
                live.discard(wake_up)
                state_key = wake_up[1]
                due = sorted(at for at in pending[state_key] if at <= watermark)
                ready = [e for at in due for e in pending[state_key].pop(at)]
                live.difference_update((at, state_key) for at in due)
                run(state_key, ready, watermark)
    assert not any(pending.values())
    return fold_alerts(emitted)


@pytest.fixture(scope="module")
def expected() -> list[Alert]:
    return replay(scenario_events(), engine()).alerts


@pytest.mark.parametrize("seed", range(6))
def test_any_interleaving_gives_replays_alerts(expected: list[Alert], seed: int) -> None:
    got = simulate(scenario_events(), seed)
    assert comparable(got) == comparable(expected)


def test_the_scenario_has_alerts_of_many_detectors(expected: list[Alert]) -> None:
    assert len({a.detector for a in expected}) >= 5


def test_replay_ignores_flush_events(expected: list[Alert]) -> None:
    with_flush = (*scenario_events(), flush_event("t", 0), flush_event("t", 1, END_OF_INPUT))
    result = replay(with_flush, engine())
    assert comparable(result.alerts) == comparable(expected)


def test_millis_round_trip() -> None:
    at = dt.datetime(2026, 1, 5, 10, 0, 0, 123_999, tzinfo=dt.UTC)
    assert to_millis(at) == 1_767_607_200_123
    assert from_millis(to_millis(at)) == at.replace(microsecond=123_000)
    assert from_millis(2**63 - 1) is None  # Flink's end of input: after everything
