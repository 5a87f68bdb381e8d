"""A store outage delays alerts, never loses them: the stream sink retries with backoff."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from fenghuo.model.alert import encode_alert
from fenghuo.settings import Settings
from fenghuo.store.alerts import AlertStore
from fenghuo.store.base import Scope
from fenghuo.store.retry import is_transient, with_backoff
from fenghuo.store.sqlite import SqliteStore
from fenghuo.streaming import sinks
from fenghuo.streaming.sinks import StoreWriter
from tests.store.test_contract import alert


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def inc(self) -> None:
        self.count += 1


def _hold_lock(path: Path, seconds: float, locked: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    locked.set()
    time.sleep(seconds)
    db.execute("COMMIT")
    db.close()


def test_the_sink_waits_out_a_locked_database_and_writes_everything(tmp_path: Path) -> None:
    path = tmp_path / "fenghuo.db"
    writer = StoreWriter(path)
    # What open() sets up, with a short wait for the lock.
    writer.alerts = SqliteStore(path, busy_timeout=0.05).alerts
    writer.stored = _Counter()
    locked = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 1.0, locked))
    holder.start()
    locked.wait()
    started = time.monotonic()
    records = [("acme", encode_alert(alert(f"a{i}", minute=i)).decode()) for i in range(5)]
    for record in records:
        assert writer.map(record) == record
    holder.join()
    assert time.monotonic() - started >= 0.9  # it waited for the lock ...
    assert writer.stored.count == 5
    assert AlertStore(path).count() == 5  # ... and lost nothing


class _Context:
    """The part of Flink's RuntimeContext that StoreWriter.open uses."""

    def get_metrics_group(self) -> Any:
        return self

    def counter(self, _name: str) -> _Counter:
        return _Counter()


def test_the_sink_writes_through_the_configured_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fenghuo.store.elastic import ElasticStore
    from tests.store.fake_es import FakeSearchClient

    model = ElasticStore(FakeSearchClient(), "fh-")
    model.bootstrap()
    opened: list[Settings] = []

    def open_model(settings: Settings) -> ElasticStore:
        opened.append(settings)
        return model

    monkeypatch.setattr(sinks, "open_store", open_model)
    settings = Settings(store="elasticsearch", es_url="http://127.0.0.1:9", data_dir=tmp_path)
    writer = StoreWriter(tmp_path / "fenghuo.db", settings)
    writer.open(_Context())
    record = ("acme", encode_alert(alert("e1")).decode())
    assert writer.map(record) == record
    assert opened == [settings]
    assert model.alerts.get(Scope.everything(), "e1") is not None
    assert not (tmp_path / "fenghuo.db").exists()  # SQLite untouched


def test_the_sink_defaults_to_sqlite_at_the_jobs_path(tmp_path: Path) -> None:
    path = tmp_path / "fenghuo.db"
    writer = StoreWriter(path, Settings(data_dir=tmp_path / "elsewhere"))
    writer.open(_Context())
    writer.map(("acme", encode_alert(alert("s1")).decode()))
    writer.close()
    assert [a.id for a in AlertStore(path).all()] == ["s1"]


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
