"""Rate limiting of failed authentication, per client address.

An address that failed authentication (401) `limit` times within the last `window` seconds gets
429 with Retry-After for every authenticated request, valid key or not, until the oldest of those
failures leaves the window. While it is refused, nothing is verified, so nothing new is counted
and the block ends on time. A success does not reset the count (a client holding one valid key
must not be able to keep guessing others), and one address's requests never touch another's
count.

Memory is bounded: an address whose last failure is older than the window is forgotten, each
address keeps at most `limit` failure times, and beyond `max_addresses` the address that failed
least recently is evicted. The client address is the TCP peer (uvicorn's `request.client`):
behind a reverse proxy, configure uvicorn's forwarded-allow-ips so it is the real client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from fastapi import Request

from fenghuo.api.problems import Problem
from fenghuo.settings import Settings


class AuthFailureLimiter:
    """Thread-safe: the API's sync dependencies run on a thread pool."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window_s <= 0 or max_addresses < 1:
            msg = "limit and max_addresses must be at least 1 and the window positive"
            raise ValueError(msg)
        self.limit = limit
        self.window = window_s
        self.max_addresses = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        # address -> failure times (newest last); ordered by the time of the last failure
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self.failures_total = 0  # failed authentications seen (for /metrics)
        self.limited_total = 0  # requests refused with 429

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthFailureLimiter:
        return cls(
            settings.auth_failure_limit,
            settings.auth_failure_window_s,
            settings.auth_failure_max_addresses,
        )

    def __len__(self) -> int:
        with self._lock:
            return len(self._failures)

    def retry_after(self, address: str) -> int | None:
        """Seconds until `address` may try again, or None when it is not blocked. A blocked
        answer counts as a refused request."""
        with self._lock:
            now = self._clock()
            self._forget_expired(now)
            times = self._failures.get(address)
            if times is None:
                return None
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) < self.limit:
                return None
            self.limited_total += 1
            # times holds at most `limit` entries: the oldest is the one that must expire.
            return max(1, math.ceil(times[0] + self.window - now))

    def record_failure(self, address: str) -> None:
        with self._lock:
            now = self._clock()
            self.failures_total += 1
            times = self._failures.pop(address, None)
            if times is None:
                times = deque(maxlen=self.limit)
            times.append(now)
            self._failures[address] = times  # now the most recent
            self._forget_expired(now)
            while len(self._failures) > self.max_addresses:
                self._failures.popitem(last=False)

    def _forget_expired(self, now: float) -> None:
        # The front failed least recently: once its last failure left the window, forget it.
        while self._failures:
            first = next(iter(self._failures.values()))
            if first and first[-1] > now - self.window:
                return
            self._failures.popitem(last=False)


def _limiter(request: Request) -> AuthFailureLimiter | None:
    limiter = getattr(request.app.state, "auth_limiter", None)
    return limiter if isinstance(limiter, AuthFailureLimiter) else None


def _address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def refuse_if_limited(request: Request) -> None:
    """Raise 429 when the request's address is blocked (call before verifying a key)."""
    limiter = _limiter(request)
    if limiter is None:
        return
    wait = limiter.retry_after(_address(request))
    if wait is not None:
        raise Problem(
            429,
            "Too many failed authentications",
            f"retry after {wait} s",
            headers={"Retry-After": str(wait)},
        )


def record_failure(request: Request) -> None:
    """Count a failed authentication (a 401 answer) against the request's address."""
    limiter = _limiter(request)
    if limiter is not None:
        limiter.record_failure(_address(request))
