"""A store outage delays alerts, never loses them: writes are retried with backoff. (The stream
job's writer under a locked store: tests/streaming/test_store_batches.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fenghuo.store.retry import is_transient, with_backoff


def test_backoff_doubles_up_to_the_maximum() -> None:
    sleeps: list[float] = []
    failures = iter(range(6))

    def flaky() -> str:
        if next(failures, None) is not None:
            err = sqlite3.OperationalError("database is locked")
            err.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise err
        return "ok"

    assert with_backoff(flaky, initial_s=0.1, maximum_s=0.5, sleep=sleeps.append) == "ok"
    assert sleeps == [0.1, 0.2, 0.4, 0.5, 0.5, 0.5]


def test_permanent_errors_are_raised_at_once(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.db")
    sleeps: list[Any] = []
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        with_backoff(lambda: db.execute("SELECT * FROM missing"), sleep=sleeps.append)
    assert sleeps == []
    assert not is_transient(ValueError("x"))
