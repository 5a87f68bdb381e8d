"""The embedded broker starts, answers, refuses a taken port and stops cleanly."""

from __future__ import annotations

import os
import signal

import pytest
from confluent_kafka.admin import AdminClient

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker import EmbeddedBroker, run_broker_forever
from fenghuo.ingest.kafka.topics import Topics


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_answers_metadata_and_stop_ends_the_process() -> None:
    with EmbeddedBroker() as b:
        assert b.is_running()
        assert b.bootstrap == f"127.0.0.1:{b.port}"
        md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5)
        assert len(md.brokers) == 1
        pid = b.pid
        log = b.log_path
        assert pid is not None
        assert log is not None
        assert log.exists()
    assert not b.is_running()
    assert not pid_alive(pid)
    assert not log.exists()  # our own temporary log is removed
    b.stop()  # idempotent


def test_taken_port_is_an_error(broker: EmbeddedBroker) -> None:
    other = EmbeddedBroker(broker.port, ready_timeout=5)
    with pytest.raises(BrokerUnavailableError, match="already in use"):
        other.start()
    assert not other.is_running()
    assert broker.is_running()


def test_unstarted_broker_has_no_bootstrap() -> None:
    with pytest.raises(BrokerUnavailableError):
        _ = EmbeddedBroker().bootstrap


def test_run_broker_forever_returns_on_sigint() -> None:
    seen: list[EmbeddedBroker] = []
    prefix = Topics(prefix="forever.")

    def on_ready(b: EmbeddedBroker) -> None:
        md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5)
        assert set(prefix.all()) <= set(md.topics)
        seen.append(b)
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C would

    previous = signal.getsignal(signal.SIGINT)
    run_broker_forever(0, topics=prefix, on_ready=on_ready)
    assert len(seen) == 1
    assert not seen[0].is_running()
    assert signal.getsignal(signal.SIGINT) is previous
