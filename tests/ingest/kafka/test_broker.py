"""The embedded Apache Kafka node starts, answers, refuses a taken port, stops cleanly with
SIGTERM and keeps what it acknowledged across a restart."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker import KafkaBroker, run_broker_forever
from fenghuo.ingest.kafka.broker_config import new_cluster_id
from fenghuo.ingest.kafka.consume import count_messages
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.topics import Topics


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_start_answers_metadata_and_stop_ends_the_process() -> None:
    with KafkaBroker() as b:
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
    assert not log.exists()  # our own temporary data dir is removed
    b.stop()  # idempotent


def test_restart_keeps_acknowledged_records(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka"
    topic = "kept"
    with KafkaBroker(data_dir=data_dir) as b:
        with Publisher(b.bootstrap) as p:
            p.publish([OutMessage(topic, f"k{i}".encode(), b"v") for i in range(5)])
        proc_pid = b.pid
    assert proc_pid is not None
    assert not pid_alive(proc_pid)
    assert (data_dir / "data" / "meta.properties").is_file()
    with KafkaBroker(data_dir=data_dir) as b:  # another port, the same node
        assert count_messages(b.bootstrap, topic) == 5


def test_taken_port_is_an_error(broker: KafkaBroker) -> None:
    other = KafkaBroker(broker.port, ready_timeout=5)
    with pytest.raises(BrokerUnavailableError, match="already in use"):
        other.start()
    assert not other.is_running()
    assert broker.is_running()


def test_unstarted_broker_has_no_bootstrap() -> None:
    with pytest.raises(BrokerUnavailableError):
        _ = KafkaBroker().bootstrap


def test_run_broker_forever_returns_on_sigint() -> None:
    seen: list[KafkaBroker] = []
    prefix = Topics(prefix="forever.")

    def on_ready(b: KafkaBroker) -> None:
        md = AdminClient({"bootstrap.servers": b.bootstrap}).list_topics(timeout=5)
        assert set(prefix.all()) <= set(md.topics)
        seen.append(b)
        signal.raise_signal(signal.SIGINT)  # as Ctrl-C would

    previous = signal.getsignal(signal.SIGINT)
    run_broker_forever(0, topics=prefix, on_ready=on_ready)
    assert len(seen) == 1
    assert not seen[0].is_running()
    assert signal.getsignal(signal.SIGINT) is previous


def test_cluster_ids_never_look_like_options() -> None:
    ids = {new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
