"""What an Apache Kafka node runs with: its files, its JVM command lines.

The embedded broker is one node, broker and controller combined (KRaft), on loopback
(`server_properties`). `cluster_server_properties` describes a node of a small cluster (the
three-broker fault tests, `tests/kafka_cluster.py`), with static controller voters. The values
that matter, verified on this project's machines (see the README, "The embedded broker"):
- `log.cleaner.dedupe.buffer.size` 16 MiB: the default 128 MiB is allocated on the heap at start
  and does not fit a small heap.
- `broker.session.timeout.ms` 3000 / `broker.heartbeat.interval.ms` 1000: after a kill, the
  restarted node is ready in seconds rather than waiting out the old session (9 s by default).
- `group.initial.rebalance.delay.ms` 0: a lone consumer group starts at once.
- Replication factors of 1 and `min.insync.replicas` 1 on one node; on a cluster, the internal
  topics are replicated to every node (at most 3) with `min.insync.replicas` 2 once there are 3.
  That includes `__transaction_state` (`transaction.state.log.*`; Kafka's defaults of 3 and 2
  would leave a single node unable to start a transaction): the ingest gateway publishes each
  request in a transaction, so on a cluster a transaction needs two live replicas too.
- log4j2 writes to `<logs>/server.log` only (rolled by size) and leaves the JVM's shutdown to the
  broker (`shutdownHook = disable`), so the last lines of a stop are still logged.
"""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fenghuo.errors import ConfigError

NODE_FILE = "fenghuo-node.json"
JVM_FLAGS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
)
LOG4J2 = """\
# Written by Fenghuo (fenghuo/ingest/kafka/broker_config.py) at every start.
shutdownHook = disable
status = warn
appender.file.type = RollingFile
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.filePattern = ${sys:kafka.logs.dir}/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 20MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 5
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


@dataclass(frozen=True)
class NodeIdentity:
    """What must not change between starts of one data directory: the cluster id the log
    directory was formatted with, and the controller's port (the quorum's voter endpoint)."""

    cluster_id: str
    controller_port: int

    @classmethod
    def load(cls, data_dir: Path) -> NodeIdentity | None:
        try:
            raw = json.loads((data_dir / NODE_FILE).read_text(encoding="utf-8"))
            return cls(str(raw["cluster_id"]), int(raw["controller_port"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"{data_dir / NODE_FILE} is unreadable ({exc}); remove {data_dir} to start afresh"
            raise ConfigError(msg) from exc

    def save(self, data_dir: Path) -> None:
        body = {"cluster_id": self.cluster_id, "controller_port": self.controller_port}
        tmp = data_dir / f".{NODE_FILE}.tmp"
        tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
        tmp.replace(data_dir / NODE_FILE)


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes in URL-safe base64 without padding, never starting
    with "-" (which the command line would take for an option), as Kafka's own `Uuid.randomUuid`."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def server_properties(host: str, port: int, controller_port: int, log_dir: Path) -> str:
    """server.properties of the single combined node."""
    values = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port}",
        **_shared_values(log_dir, replicas=1, min_insync=1),
        "auto.create.topics.enable": "true",
    }
    return _render(values)


@dataclass(frozen=True)
class ClusterNode:
    """One node of a cluster: its id, client port and, on a controller (a quorum voter), the
    controller port. A node without one is broker-only."""

    node_id: int
    port: int
    controller_port: int | None = None

    @property
    def is_controller(self) -> bool:
        return self.controller_port is not None


def cluster_server_properties(
    host: str,
    node: ClusterNode,
    nodes: Sequence[ClusterNode],
    log_dir: Path,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """server.properties of `node` in a cluster of `nodes` with static controller voters (the
    controllers among `nodes`); format its log directory with `JvmCommands.format(...,
    standalone=False)`. Internal topics get a replication factor of min(3, nodes) and
    `min.insync.replicas` 2 when there are 3 replicas or more. `overrides` are set last."""
    voters = [n for n in nodes if n.controller_port is not None]
    if not voters:
        msg = "a Kafka cluster needs at least one controller node"
        raise ConfigError(msg)
    replicas = min(3, len(nodes))
    listeners = [f"PLAINTEXT://{host}:{node.port}"]
    if node.controller_port is not None:
        listeners.append(f"CONTROLLER://{host}:{node.controller_port}")
    values = {
        "process.roles": "broker,controller" if node.is_controller else "broker",
        "node.id": str(node.node_id),
        "controller.quorum.voters": ",".join(
            f"{n.node_id}@{host}:{n.controller_port}" for n in voters
        ),
        "listeners": ",".join(listeners),
        "advertised.listeners": f"PLAINTEXT://{host}:{node.port}",
        **_shared_values(log_dir, replicas=replicas, min_insync=2 if replicas >= 3 else 1),
        "auto.create.topics.enable": "false",
        **(overrides or {}),
    }
    return _render(values)


def _shared_values(log_dir: Path, *, replicas: int, min_insync: int) -> dict[str, str]:
    """What every node runs with, whatever its role (see the module docstring)."""
    return {
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_insync),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_insync),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_insync),
        "group.initial.rebalance.delay.ms": "0",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "1000",
    }


def _render(values: Mapping[str, str]) -> str:
    lines = ["# Written by Fenghuo (fenghuo/ingest/kafka/broker_config.py) at every start."]
    lines += [f"{k}={v}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


def find_java() -> str:
    """`java` on PATH (Java 17 or newer); a ConfigError saying what to install otherwise."""
    java = shutil.which("java")
    if java is None:
        msg = "the embedded Kafka broker needs Java 17 (`java` on PATH): "
        msg += "apt install openjdk-17-jre-headless"
        raise ConfigError(msg)
    return java


@dataclass(frozen=True)
class JvmCommands:
    """The two Java programs of a node: the storage formatter and the broker."""

    java: str
    jars: Path
    heap: str
    config: Path  # server.properties
    log4j: Path  # log4j2.properties
    logs: Path

    def _common(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile=file:{self.log4j}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            f"{self.jars}/*",
        ]

    def format(self, cluster_id: str, *, standalone: bool = True) -> list[str]:
        """Format the log directory; a no-op if already formatted. `standalone`: for the one
        node that bootstraps a dynamic quorum by itself; False for a node of a cluster with
        static voters (`controller.quorum.voters`), broker-only nodes included."""
        cmd = [self.java, "-Xmx128m", *self._common(), "kafka.tools.StorageTool", "format"]
        cmd += ["--standalone"] if standalone else []
        cmd += ["--ignore-formatted", "-t", cluster_id, "-c", str(self.config)]
        return cmd

    def broker(self) -> list[str]:
        heap = [f"-Xms{self.heap}", f"-Xmx{self.heap}"]
        return [self.java, *heap, *JVM_FLAGS, *self._common(), "kafka.Kafka", str(self.config)]
