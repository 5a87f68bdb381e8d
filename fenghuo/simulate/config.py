"""What a simulation run is: size of the cloud, time span, event density, seed.

Everything the simulator produces is a function of this value, so the same configuration always
yields byte-identical output.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from fenghuo.errors import ConfigError

# 2026-01-05T10:00:00Z, the day of the shared samples: a fixed start keeps file output repeatable.
DEFAULT_START = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)
MIN_DURATION = dt.timedelta(minutes=5)
MAX_TENANTS = 200  # tenant CIDRs are 10.<n>.0.0/16 below the shared services' 10.255.0.0/16

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SimulationConfigError(ConfigError):
    """A simulation option is out of range."""


def parse_duration(text: str) -> dt.timedelta:
    """`90s`, `30m`, `1h`, `1h30m`, `2d` or a bare number of seconds."""
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return dt.timedelta(seconds=float(value))
    parts = _DURATION_PART.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        msg = f"not a duration: {text!r} (expected e.g. 90s, 30m, 1h, 1h30m)"
        raise SimulationConfigError(msg)
    return dt.timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


@dataclass(frozen=True)
class SimulationConfig:
    """One simulation run.

    `rate` is the mean number of events per second of simulated time (background and attacks
    together, roughly); `attack_rounds` repeats the whole set of attack scenarios (0: benign
    traffic only, to measure false positives).
    """

    seed: int = 7
    start: dt.datetime = DEFAULT_START
    duration: dt.timedelta = dt.timedelta(hours=1)
    rate: float = 10.0
    tenants: int = 6
    hosts: int = 8
    vms: int = 40
    attack_rounds: int = 1

    def __post_init__(self) -> None:
        problems = []
        if self.start.tzinfo is None:
            problems.append("start must be timezone-aware")
        if self.duration < MIN_DURATION:
            problems.append(f"duration must be at least {MIN_DURATION}")
        if not 0.1 <= self.rate <= 100_000:
            problems.append("rate must be between 0.1 and 100000 events/s")
        if not 3 <= self.tenants <= MAX_TENANTS:
            problems.append(f"tenants must be between 3 and {MAX_TENANTS}")
        if not 2 <= self.hosts <= 250:
            problems.append("hosts must be between 2 and 250")
        if not self.tenants <= self.vms <= 5000:
            problems.append("vms must be at least the number of tenants and at most 5000")
        if not 0 <= self.attack_rounds <= 20:
            problems.append("attack rounds must be between 0 and 20")
        if problems:
            raise SimulationConfigError("; ".join(problems))

    @property
    def end(self) -> dt.datetime:
        return self.start + self.duration

    @property
    def budget(self) -> int:
        """How many events the run aims at."""
        return max(1, round(self.rate * self.duration.total_seconds()))
