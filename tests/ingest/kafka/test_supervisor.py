"""The broker supervisor on a real Apache Kafka node: a killed node comes back on its log
directory with what it acknowledged; a node that cannot come back ends supervision with a reason.
"""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker import KafkaBroker
from fenghuo.ingest.kafka.consume import read_messages
from fenghuo.ingest.kafka.producer import OutMessage, Publisher
from fenghuo.ingest.kafka.supervisor import (
    BrokerSupervisor,
    RestartPolicy,
    SupervisedSink,
    describe_exit,
)
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from tests.streaming.support import poll

pytestmark = pytest.mark.kafka


def test_backoff_doubles_up_to_its_cap_and_exits_are_named() -> None:
    policy = RestartPolicy(first_backoff_s=1.0, max_backoff_s=5.0)
    assert [policy.backoff(n) for n in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(143) == "stopped by SIGTERM (exit 143)"
    assert describe_exit(1) == "exit code 1"


def test_a_killed_broker_comes_back_with_its_data_then_gives_up_when_it_cannot(
    tmp_path: Path,
) -> None:
    reports: list[str] = []
    topics = Topics()
    with KafkaBroker(data_dir=tmp_path / "kafka") as broker:
        ensure_topics(broker.bootstrap, topics, partitions=1)
        with Publisher(broker.bootstrap) as publisher:
            assert publisher.publish([OutMessage(topics.alerts, b"k", b"before")]) == 1
        policy = RestartPolicy(max_restarts=2, first_backoff_s=1.0, max_backoff_s=2.0)
        supervisor = BrokerSupervisor(broker, policy, report=reports.append, poll_s=0.05)
        supervisor.start()
        try:
            os.kill(pid_of(broker), signal.SIGKILL)
            poll("the restart", lambda: supervisor.restarts, (1).__eq__, timeout=90)
            assert broker.is_running()
            assert not supervisor.down
            # Same address, same log directory: the acknowledged record is still there.
            (message,) = read_messages(broker.bootstrap, topics.alerts, 1, timeout=30)
            assert message.value == b"before"

            # Killed again, with its port taken before the restart (2 s away): the attempt
            # fails, the second restart within the window is the last allowed, and it gives up.
            sink = SupervisedSink(publisher_that_must_not_be_called(), lambda: supervisor.down)
            os.kill(pid_of(broker), signal.SIGKILL)
            poll("the death noticed", lambda: supervisor.down, bool, timeout=10)
            with socket.socket() as squatter:
                squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                squatter.bind((broker.host, broker.port))
                squatter.listen()
                with pytest.raises(BrokerUnavailableError, match="restarting"):
                    sink.publish([OutMessage(topics.alerts, b"k", b"during")], timeout=1)
                failure = poll("giving up", supervisor.failure, bool, timeout=30)
        finally:
            supervisor.stop()
    assert failure is not None
    assert failure.startswith("the embedded broker keeps dying")
    assert supervisor.down
    assert not broker.is_running()
    assert reports[0].endswith("died (killed by SIGKILL); restarting it on the same log directory")
    assert any("is back on" in line for line in reports)
    assert any("already in use" in line for line in reports)
    assert reports[-1] == failure.splitlines()[0]


def pid_of(broker: KafkaBroker) -> int:
    pid = broker.pid
    assert pid is not None
    return pid


class _Refuses:
    def publish(self, messages: object, timeout: float) -> int:
        msg = "a supervised sink published while the broker was down"
        raise AssertionError(msg)


def publisher_that_must_not_be_called() -> _Refuses:
    return _Refuses()
