"""The ingest rate meter behind the console's "events ingested per second"."""

from __future__ import annotations

from fenghuo.ingest.meter import RateMeter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_counts_whole_seconds_of_the_window() -> None:
    clock = Clock()
    meter = RateMeter(window_s=10, clock=clock)
    assert meter.rate() == 0.0
    for _ in range(10):
        meter.add(50)
        clock.now += 1.0
    assert meter.rate() == 50.0
    meter.add(1000)  # the current second is not counted until it is over
    assert meter.rate() == 50.0
    clock.now += 1.0
    assert meter.rate() == (9 * 50 + 1000) / 10
    assert meter.total == 1500


def test_old_seconds_leave_the_window() -> None:
    clock = Clock()
    meter = RateMeter(window_s=5, clock=clock)
    meter.add(100)
    clock.now += 3.0
    assert meter.rate() == 20.0
    clock.now += 10.0
    assert meter.rate() == 0.0
    meter.add(0)
    meter.add(-3)
    assert meter.total == 100
