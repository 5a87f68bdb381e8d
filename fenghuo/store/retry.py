"""Retry with backoff for store writes: an outage of the store delays alerts, never loses them.

Writes are idempotent (deterministic ids, upserts fold with `merge_alerts`), so repeating one
after a failure is always safe. Only transient failures are retried (a locked or busy SQLite
database, disk full or I/O errors, an unreachable or overloaded search server:
`fenghuo.store.search_client.SearchUnavailable`); anything else is a bug or a misconfiguration
and is raised at once.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from fenghuo.store.search_client import SearchUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)

_SQLITE_TRANSIENT = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        # Extended result codes carry the primary code in their low byte.
        return code is not None and code & 0xFF in _SQLITE_TRANSIENT
    return isinstance(exc, SearchUnavailable)


def with_backoff(
    write: Callable[[], T],
    *,
    initial_s: float = 0.1,
    maximum_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `write` until it succeeds, waiting (doubling up to `maximum_s`) after each transient
    failure; the stream job is back-pressured meanwhile, so nothing queues up in memory."""
    delay = initial_s
    attempt = 0
    while True:
        try:
            return write()
        except (sqlite3.OperationalError, SearchUnavailable) as exc:
            if not is_transient(exc):
                raise
            attempt += 1
            log.warning("store write failed (%s), retry %d in %.1f s", exc, attempt, delay)
        sleep(delay)
        delay = min(delay * 2, maximum_s)
