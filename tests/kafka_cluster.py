"""A three-node Apache Kafka cluster on loopback for the fault tests: kill a node, restart it on
the same log directory, wait until every partition's replicas are back in sync.

Layout: node 1 is broker and controller, the quorum's only voter; nodes 2 and 3 are brokers
only. Only nodes 2 and 3 are killed. With three combined nodes as voters, killing two loses the
controller quorum: nothing changes leaders or shrinks an ISR any more and producers only time
out. With the controller kept alive, the partitions' ISR shrinks to the one broker left and its
leader answers NOT_ENOUGH_REPLICAS at once, which is what `min.insync.replicas` is for.

Test-only settings on top of `broker_config.cluster_server_properties`:
- `controlled.shutdown.enable=false`: a controlled shutdown waits for the controller to move
  leadership away, up to 5 minutes when it cannot (the end of a test that left nodes down).
- `auto.leader.rebalance.enable=false`: a restarted node stays a follower of every partition
  until asked, so a test can kill a broker that leads nothing (see `bounce`).
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import Consumer, KafkaException
from confluent_kafka.admin import AdminClient

from fenghuo.children import die_with_parent, stop_child
from fenghuo.ingest.kafka.broker import coordinator_answers, free_port, kafka_jars
from fenghuo.ingest.kafka.broker_config import (
    LOG4J2,
    ClusterNode,
    JvmCommands,
    cluster_server_properties,
    find_java,
    new_cluster_id,
)

HOST = "127.0.0.1"
CONTROLLER = 1  # the node that must stay up
TEST_OVERRIDES = {
    "controlled.shutdown.enable": "false",
    "auto.leader.rebalance.enable": "false",
}
_WARMUP_GROUP = "fenghuo-warmup"

TopicPartition = tuple[str, int]


class ClusterError(RuntimeError):
    """A node exited on its own, or the cluster did not reach a state before the deadline."""


@dataclass
class _Node:
    spec: ClusterNode
    commands: JvmCommands
    logs: Path
    proc: subprocess.Popen[bytes] | None = None
    out: IO[bytes] | None = None


class KafkaCluster:
    """Three Apache Kafka 4.4 nodes (see the module docstring); a context manager."""

    def __init__(self, root: Path, *, heap: str = "256m", ready_timeout: float = 120.0) -> None:
        self.root = root
        self.ready_timeout = ready_timeout
        java, jars = find_java(), kafka_jars()
        specs = [
            ClusterNode(1, free_port(), free_port()),
            ClusterNode(2, free_port()),
            ClusterNode(3, free_port()),
        ]
        self.cluster_id = new_cluster_id()
        self._nodes: dict[int, _Node] = {}
        for spec in specs:
            home = root / f"node{spec.node_id}"
            (home / "logs").mkdir(parents=True, exist_ok=True)
            config = home / "server.properties"
            config.write_text(
                cluster_server_properties(HOST, spec, specs, home / "data", TEST_OVERRIDES),
                encoding="utf-8",
            )
            log4j = home / "log4j2.properties"
            log4j.write_text(LOG4J2, encoding="utf-8")
            commands = JvmCommands(java, jars, heap, config, log4j, home / "logs")
            self._nodes[spec.node_id] = _Node(spec, commands, home / "logs")
        self.bootstrap = ",".join(f"{HOST}:{s.port}" for s in specs)
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient(
                {
                    "bootstrap.servers": self.bootstrap,
                    "reconnect.backoff.ms": 50,
                    "reconnect.backoff.max.ms": 500,
                    "log_level": 0,  # refused connections to killed nodes are expected here
                }
            )
        return self._admin

    @property
    def node_ids(self) -> list[int]:
        return sorted(self._nodes)

    def start(self) -> Self:
        """Format every node's log directory, start them all, and return once the metadata
        lists the three brokers and the group coordinator answers."""
        formats = []
        for node in self._nodes.values():  # side by side: each is a JVM start
            with (node.logs / "format.out").open("wb") as out:
                formats.append(
                    subprocess.Popen(
                        node.commands.format(self.cluster_id, standalone=False),
                        stdin=subprocess.DEVNULL,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        for node, proc in zip(self._nodes.values(), formats, strict=True):
            if proc.wait(120) != 0:
                text = (node.logs / "format.out").read_text(errors="replace")
                msg = f"formatting node {node.spec.node_id} failed:\n{text[-2000:]}"
                raise ClusterError(msg)
        for node_id in self.node_ids:
            self._spawn(node_id)
        deadline = time.monotonic() + self.ready_timeout
        self._until("three brokers in the metadata", lambda: self.live() == {1, 2, 3}, deadline)
        self._warm_up(deadline)
        return self

    def _warm_up(self, deadline: float) -> None:
        """Until a group coordinator answers: asking one for a group's offsets makes the cluster
        create `__consumer_offsets` (replicated 3 times), which the first group join would
        otherwise wait for. A consumer, not AdminClient.describe_consumer_groups: librdkafka
        aborts the process when a DescribeGroups answer arrives after its request timed out
        (confluentinc/librdkafka#4605), as it can while three JVMs start on two cores."""
        consumer = Consumer(
            {"bootstrap.servers": self.bootstrap, "group.id": _WARMUP_GROUP, "log_level": 0}
        )
        try:
            self._until("the group coordinator", lambda: coordinator_answers(consumer), deadline)
        finally:
            consumer.close()

    def kill(self, node_id: int) -> None:
        """SIGKILL the node's JVM (no flush, no controlled shutdown) and reap it."""
        if node_id == CONTROLLER:
            msg = "node 1 is the cluster's only controller; kill node 2 or 3"
            raise ValueError(msg)
        node = self._nodes[node_id]
        assert node.proc is not None, f"node {node_id} is not running"
        node.proc.send_signal(signal.SIGKILL)
        node.proc.wait(30)
        node.proc = None
        self._close_out(node)

    def restart(self, node_id: int) -> None:
        """Start a killed node again on its log directory; return once it is a live broker again.

        Waits first for the controller to fence the dead incarnation (its session times out
        after 3 s), so that "listed in the metadata" can only mean the new one."""
        deadline = time.monotonic() + self.ready_timeout
        self._until(f"node {node_id} fenced", lambda: node_id not in self.live(), deadline)
        self._spawn(node_id)
        self._until(f"node {node_id} back", lambda: node_id in self.live(), deadline)

    def bounce(self, node_id: int, topics: Iterable[str]) -> None:
        """Kill and restart a node and wait until `topics` are fully in sync again: the node then
        leads none of their partitions (there is no automatic leader rebalance here)."""
        self.kill(node_id)
        self.restart(node_id)
        self.wait_isr_full(topics)

    def running(self) -> set[int]:
        return {i for i, n in self._nodes.items() if n.proc is not None and n.proc.poll() is None}

    def live(self) -> set[int]:
        """The brokers the cluster's metadata lists (registered and not fenced)."""
        self._check_alive()
        try:
            return set(self.admin.list_topics(timeout=2).brokers)
        except KafkaException:
            return set()

    def partitions(
        self, topics: Iterable[str] | None = None
    ) -> dict[TopicPartition, tuple[int, set[int], set[int]]]:
        """(leader, ISR, replicas) of every partition of `topics` (default: every topic)."""
        wanted = None if topics is None else set(topics)
        metadata = self.admin.list_topics(timeout=5)
        out: dict[TopicPartition, tuple[int, set[int], set[int]]] = {}
        for name, topic in metadata.topics.items():
            if wanted is not None and name not in wanted:
                continue
            for pid, p in topic.partitions.items():
                out[(name, pid)] = (p.leader, set(p.isrs), set(p.replicas))
        if wanted is not None and {t for t, _ in out} != wanted:
            msg = f"topics missing from the metadata: {sorted(wanted - {t for t, _ in out})}"
            raise ClusterError(msg)
        return out

    def leaders(self, topics: Iterable[str]) -> dict[TopicPartition, int]:
        return {tp: leader for tp, (leader, _isr, _replicas) in self.partitions(topics).items()}

    def wait_isr(
        self,
        what: str,
        done: Callable[[dict[TopicPartition, tuple[int, set[int], set[int]]]], bool],
        topics: Iterable[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        """Poll the partitions of `topics` until `done(partitions)`."""
        names = None if topics is None else list(topics)

        def probe() -> bool:
            try:
                return done(self.partitions(names))
            except (KafkaException, ClusterError):
                return False

        self._until(what, probe, time.monotonic() + timeout)

    def wait_isr_full(self, topics: Iterable[str] | None = None, timeout: float = 60.0) -> None:
        """Until every replica of every partition of `topics` (default: all) is in sync."""
        self.wait_isr(
            "every replica in sync",
            lambda parts: all(isr == replicas for _l, isr, replicas in parts.values()),
            topics,
            timeout,
        )

    def heal(self) -> None:
        """Restart every killed node and wait until all partitions are in sync again."""
        for node_id in self.node_ids:
            if node_id not in self.running():
                self.restart(node_id)
        self.wait_isr_full()

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node (SIGKILL after `timeout`); idempotent."""
        # Released while the nodes still answer: librdkafka's destroy can wait forever on a
        # broker thread once every broker is gone.
        self._admin = None
        for node in self._nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    node.proc.send_signal(signal.SIGTERM)
        for node in self._nodes.values():
            if node.proc is not None:
                stop_child(node.proc, timeout)
                node.proc = None
            self._close_out(node)

    def log_tail(self, node_id: int, lines: int = 30) -> str:
        path = self._nodes[node_id].logs / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, node_id: int) -> None:
        node = self._nodes[node_id]
        # A file, not a pipe: nobody has to drain it, so the JVM can never block on its output.
        node.out = (node.logs / "kafka.out").open("ab")
        node.proc = subprocess.Popen(
            node.commands.broker(),
            stdin=subprocess.DEVNULL,
            stdout=node.out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # start nodes from the main thread
        )

    def _check_alive(self) -> None:
        for node_id, node in self._nodes.items():
            if node.proc is not None and node.proc.poll() is not None:
                msg = f"node {node_id} exited with {node.proc.returncode}:\n"
                raise ClusterError(msg + self.log_tail(node_id))

    def _until(self, what: str, done: Callable[[], bool], deadline: float) -> None:
        while not done():
            if time.monotonic() > deadline:
                msg = f"Kafka cluster: {what} not reached in time"
                raise ClusterError(msg)
            time.sleep(0.1)  # polling interval against a deadline

    @staticmethod
    def _close_out(node: _Node) -> None:
        if node.out is not None:
            node.out.close()
            node.out = None
