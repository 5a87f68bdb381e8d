"""The analysts' suppression rules, as the stream job's engine sees them: read from the store
and refreshed every few seconds, so "suppress similar" in the console takes effect on the
running job without a restart.

A failing store keeps the last rules in force (logged): an outage must not stop detection, and
suppressing is the exception, so the cost is at most a few alerts an analyst asked not to see.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from fenghuo.store.base import Scope, Store, SuppressionRule

log = logging.getLogger(__name__)

DEFAULT_REFRESH = 5.0  # seconds between reads of the store


class StoreSuppressions:
    """Callable: the active rules (re-read at most every `refresh` seconds)."""

    def __init__(
        self,
        open_store: Callable[[], Store],
        refresh: float = DEFAULT_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._open = open_store
        self._store: Store | None = None
        self.refresh = refresh
        self._clock = clock
        self._rules: list[SuppressionRule] = []
        self._next = float("-inf")

    def __call__(self) -> Sequence[SuppressionRule]:
        now = self._clock()
        if now >= self._next:
            self._next = now + self.refresh
            try:
                if self._store is None:
                    self._store = self._open()
                rules = self._store.suppressions.list(Scope.everything())
            except Exception:  # keep the last rules; detection goes on
                log.exception("could not read suppression rules; keeping the last ones")
            else:
                self._rules = rules  # revoked ones are not listed; `until` is checked per alert
        return self._rules
