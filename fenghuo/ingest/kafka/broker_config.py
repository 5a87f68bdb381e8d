"""What the embedded Apache Kafka node runs with: its files, its JVM command lines.

One node, broker and controller combined (KRaft), on loopback. The values that matter, verified
on this project's machines (see the README, "The embedded broker"):
- `log.cleaner.dedupe.buffer.size` 16 MiB: the default 128 MiB is allocated on the heap at start
  and does not fit a small heap.
- `broker.session.timeout.ms` 3000 / `broker.heartbeat.interval.ms` 1000: after a kill, the
  restarted node is ready in seconds rather than waiting out the old session (9 s by default).
- `group.initial.rebalance.delay.ms` 0: a lone consumer group starts at once.
- Replication factors of 1 and `min.insync.replicas` 1: there is one node.
- log4j2 writes to `<logs>/server.log` only (rolled by size) and leaves the JVM's shutdown to the
  broker (`shutdownHook = disable`), so the last lines of a stop are still logged.
"""

from __future__ import annotations

import base64
import json
import shutil
import uuid
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
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "1000",
    }
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

    def format(self, cluster_id: str) -> list[str]:
        """Format the log directory for a one-voter quorum; a no-op if already formatted."""
        cmd = [self.java, "-Xmx128m", *self._common(), "kafka.tools.StorageTool", "format"]
        cmd += ["--standalone", "--ignore-formatted", "-t", cluster_id, "-c", str(self.config)]
        return cmd

    def broker(self) -> list[str]:
        heap = [f"-Xms{self.heap}", f"-Xmx{self.heap}"]
        return [self.java, *heap, *JVM_FLAGS, *self._common(), "kafka.Kafka", str(self.config)]
