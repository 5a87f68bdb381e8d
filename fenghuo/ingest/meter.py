"""How fast events are being published: a sliding count per second, cheap enough to update on
every batch and read from another thread (the console's live statistics)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class RateMeter:
    """Events counted into one-second slots over the last `window_s` seconds."""

    def __init__(self, window_s: int = 10, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self.total = 0
        self._slots: deque[tuple[int, int]] = deque()  # (second, count), oldest first
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        if count <= 0:
            return
        second = int(self.clock())
        with self._lock:
            self.total += count
            if self._slots and self._slots[-1][0] == second:
                self._slots[-1] = (second, self._slots[-1][1] + count)
            else:
                self._slots.append((second, count))
            self._forget(second)

    def rate(self) -> float:
        """Events per second over the last `window_s` whole seconds (the current, partial
        second left out, so a burst does not read as a spike)."""
        now = int(self.clock())
        with self._lock:
            self._forget(now)
            counted = sum(c for s, c in self._slots if s < now)
        return counted / self.window_s

    def _forget(self, now: int) -> None:
        while self._slots and self._slots[0][0] < now - self.window_s:
            self._slots.popleft()
