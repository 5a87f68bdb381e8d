"""Seeded randomness with the id shapes the real systems use.

One `Rand` per purpose (world, benign traffic, attacks) derived from the run's seed, so adding a
behaviour to one does not shift the random stream of the others.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import string
import uuid
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

_ALNUM_UPPER = string.ascii_uppercase + string.digits


class Rand(random.Random):
    """`random.Random` plus the identifiers of AWS, libvirt and Linux."""

    @classmethod
    def derive(cls, seed: int, purpose: str) -> Rand:
        digest = hashlib.sha256(f"{seed}:{purpose}".encode()).digest()
        return cls(int.from_bytes(digest[:8], "big"))

    def hex(self, length: int) -> str:
        return f"{self.getrandbits(4 * length):0{length}x}"

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.getrandbits(128), version=4))

    def upper_id(self, prefix: str, length: int) -> str:
        """`AKIA` + 16 upper-case alphanumerics, and the like."""
        return prefix + "".join(self.choice(_ALNUM_UPPER) for _ in range(length))

    def account(self) -> str:
        return str(self.randint(100_000_000_000, 999_999_999_999))

    def pick(self, items: Sequence[T]) -> T:
        return items[self.randrange(len(items))]

    def pick_weighted(self, items: Sequence[T], weights: Sequence[float]) -> T:
        return self.choices(items, weights=weights, k=1)[0]

    def moment(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        """A time in [start, end), to the millisecond."""
        span_ms = max(1, int((end - start).total_seconds() * 1000))
        return start + dt.timedelta(milliseconds=self.randrange(span_ms))

    def after(self, time: dt.datetime, low: float, high: float) -> dt.datetime:
        """`time` plus between `low` and `high` seconds, to the millisecond."""
        return time + dt.timedelta(milliseconds=self.randint(int(low * 1000), int(high * 1000)))
