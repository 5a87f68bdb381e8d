"""The embedded broker: Apache Kafka 4.4.0, one KRaft node (broker and controller), as a child JVM.

The jars come from Maven Central, pinned and verified (`fenghuo.maven_jars`, set `kafka-broker`).
The node keeps its log directory under `data_dir` (`<data_dir>/data`), so what it acknowledged
survives a restart; without a `data_dir` it runs in a temporary folder removed by `stop()`.
The first start formats the log directory (a cluster id and the controller port are kept in the
data dir: both must stay the same between starts). `start()` returns once the node answers
metadata requests and its group coordinator is up, so the first consumer group joins at once.

`stop()` sends SIGTERM (the JVM then exits with 143 after a controlled shutdown) and SIGKILL as
a last resort. The JVM runs in its own session so that Ctrl-C reaches Fenghuo, which can then flush
its producers before stopping the broker, and the kernel kills it if Fenghuo dies.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from fenghuo.children import die_with_parent, stop_child, stop_on_signals
from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker_config import (
    LOG4J2,
    JvmCommands,
    NodeIdentity,
    find_java,
    new_cluster_id,
    server_properties,
)
from fenghuo.ingest.kafka.topics import Topics, ensure_topics

JAR_SET = "kafka-broker"
_PORT_ATTEMPTS = 3
_FORMAT_TIMEOUT_S = 120.0
_WARMUP_GROUP = "fenghuo-warmup"


class BrokerStartError(BrokerUnavailableError):
    """The embedded broker exited or did not answer Kafka requests before the deadline."""


def kafka_jars() -> Path:
    """The folder of the pinned Kafka broker jars, resolved and verified on first use."""
    from fenghuo.maven_jars import jar_set_dir

    return jar_set_dir(JAR_SET)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class KafkaBroker:
    """A single-node Apache Kafka on host:port (a free port when port is None or 0); a context
    manager. `data_dir` holds its log directory, configuration and logs."""

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        heap: str = "256m",
        jars: Path | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        self.host = host
        self.heap = heap
        self._requested_port = port
        self._port: int | None = None
        self._jars = jars
        self._ready_timeout = ready_timeout
        self._own_dir = data_dir is None
        self._data_dir = data_dir
        self._out: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], KafkaBroker] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            msg = "the embedded broker is not started"
            raise BrokerUnavailableError(msg)
        return self._port

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    @property
    def log_path(self) -> Path | None:
        """The broker's log (`<data_dir>/logs/server.log`); None before the first start."""
        return self._data_dir / "logs" / "server.log" if self._data_dir is not None else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The exit code of a node that stopped on its own (killed: minus the signal); None while
        it runs or before it started."""
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> Self:
        """Start the node (formatting its log directory on first use) and return once it serves
        metadata and consumer groups. Called again after the node died, it starts it again on the
        same log directory (and, with a fixed port, the same address)."""
        if self.is_running():
            return self
        if self._proc is not None:
            self._terminate()  # it died on its own: reap it before starting it again
        java = find_java()
        jars = self._jars or kafka_jars()
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="fenghuo-kafka-"))
        data_dir = self._data_dir
        (data_dir / "logs").mkdir(parents=True, exist_ok=True)
        identity = NodeIdentity.load(data_dir)
        fixed_controller = identity is not None and (data_dir / "data").is_dir()
        # A node started before keeps its address: clients were given it.
        fixed_port = self._requested_port or self._port
        attempts = 1 if fixed_port or fixed_controller else _PORT_ATTEMPTS
        attempt = 0
        while True:
            attempt += 1
            port = fixed_port or free_port(self.host)
            if identity is None or not fixed_controller:
                identity = NodeIdentity(new_cluster_id(), free_port(self.host))
            for p in (port, identity.controller_port):
                if not _bindable(self.host, p):
                    # Checked first: otherwise another broker on the port would look like ours.
                    self.stop()
                    msg = f"cannot start Kafka: {self.host}:{p} is already in use"
                    raise BrokerStartError(msg)
            commands = self._configure(java, jars, port, identity)
            self._format(commands, identity)
            self._spawn(commands, port)
            try:
                self._wait_ready(time.monotonic() + self._ready_timeout)
            except BrokerStartError:
                exited = self._proc is not None and self._proc.poll() is not None
                # A free port can be taken between our probe and Kafka's bind: try another.
                if not exited or attempt >= attempts:
                    self.stop()
                    raise
                self._terminate()
                # Formatted just now for ports that did not work out: format afresh.
                shutil.rmtree(data_dir / "data", ignore_errors=True)
            else:
                return self

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, wait, SIGKILL as a last resort; idempotent. A temporary data dir is removed."""
        self._terminate(timeout)
        if self._own_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the JVM's own output and of the broker's log."""
        if self._data_dir is None:
            return ""
        out: list[str] = []
        for path in (self._data_dir / "logs" / "kafka.out", self._data_dir / "logs" / "server.log"):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                out += text.splitlines()[-lines:]
        return "\n".join(out)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _configure(self, java: str, jars: Path, port: int, identity: NodeIdentity) -> JvmCommands:
        data_dir = self.data_dir
        assert data_dir is not None
        config = data_dir / "server.properties"
        log_dir = data_dir / "data"
        config.write_text(
            server_properties(self.host, port, identity.controller_port, log_dir), encoding="utf-8"
        )
        log4j = data_dir / "log4j2.properties"
        log4j.write_text(LOG4J2, encoding="utf-8")
        return JvmCommands(java, jars, self.heap, config, log4j, data_dir / "logs")

    def _format(self, commands: JvmCommands, identity: NodeIdentity) -> None:
        """Format the log directory unless it already is (meta.properties present)."""
        data_dir = self.data_dir
        assert data_dir is not None
        if (data_dir / "data" / "meta.properties").is_file():
            return
        identity.save(data_dir)
        with (data_dir / "logs" / "format.out").open("wb") as out:
            proc = subprocess.run(
                commands.format(identity.cluster_id),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=_FORMAT_TIMEOUT_S,
                check=False,
            )
        if proc.returncode != 0:
            text = (data_dir / "logs" / "format.out").read_text(errors="replace")
            msg = f"formatting Kafka's log directory failed ({proc.returncode}):\n{text[-2000:]}"
            raise BrokerStartError(msg)

    def _spawn(self, commands: JvmCommands, port: int) -> None:
        data_dir = self.data_dir
        assert data_dir is not None
        # A file, not a pipe: nobody has to drain it, so the JVM can never block on its output.
        self._out = (data_dir / "logs" / "kafka.out").open("ab")
        self._proc = subprocess.Popen(
            commands.broker(),
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # start the broker from the main thread
        )
        self._port = port
        # If the owner forgets stop() (or the interpreter exits), do not leave Kafka behind.
        self._finalizer = weakref.finalize(self, _kill, self._proc)

    def _wait_ready(self, deadline: float) -> None:
        """Metadata with this broker in it, then the group coordinator: asking it for a group's
        offsets makes the node create `__consumer_offsets`, which the first group join would
        otherwise wait for (about 3 s). A consumer asks, not AdminClient.describe_consumer_groups:
        librdkafka aborts the process when a DescribeGroups answer arrives after its request
        timed out (confluentinc/librdkafka#4605), as it can on a loaded machine."""
        proc = self._proc
        assert proc is not None

        def check(step: str) -> None:
            if proc.poll() is not None:
                msg = f"Kafka exited with {proc.returncode} on start:\n{self.log_tail()}"
                raise BrokerStartError(msg)
            if time.monotonic() >= deadline:
                msg = f"Kafka on {self.bootstrap} did not answer ({step}) in time:\n"
                raise BrokerStartError(msg + self.log_tail())

        while not _accepts(self.host, self.port):
            check("connection")
            time.sleep(0.05)  # polling interval, not synchronisation
        client: dict[str, str | int | float | bool] = {
            "bootstrap.servers": self.bootstrap,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500,
        }
        admin = AdminClient(client)
        while not _lists_brokers(admin, min(1.0, max(0.1, deadline - time.monotonic()))):
            check("metadata")
        consumer = Consumer({**client, "group.id": _WARMUP_GROUP, "log_level": 0})
        try:
            while not coordinator_answers(consumer, min(5.0, deadline - time.monotonic())):
                check("group coordinator")
                time.sleep(0.1)  # the coordinator is loading: poll again
        finally:
            consumer.close()

    def _terminate(self, timeout: float = 30.0) -> None:
        proc = self._proc
        if proc is not None:
            stop_child(proc, timeout)  # exit 143: the JVM's answer to SIGTERM
            if self._finalizer is not None:
                self._finalizer.detach()
        if self._out is not None:
            self._out.close()
            self._out = None
        self._proc = None


def _lists_brokers(admin: AdminClient, timeout: float) -> bool:
    try:
        return bool(admin.list_topics(timeout=timeout).brokers)
    except KafkaException:
        return False


def coordinator_answers(consumer: Consumer, timeout: float = 5.0) -> bool:
    """Whether a group coordinator answers the consumer's group (asking creates
    `__consumer_offsets` on a fresh cluster)."""
    try:
        consumer.committed([TopicPartition("__consumer_offsets", 0)], timeout=max(0.1, timeout))
    except KafkaException:
        return False
    return True


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM binds
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def run_broker_forever(
    port: int = 9092,
    *,
    host: str = "127.0.0.1",
    data_dir: Path | None = None,
    heap: str = "256m",
    topics: Topics | None = None,
    on_ready: Callable[[KafkaBroker], None] | None = None,
) -> None:
    """Run the broker (with `topics` created, default Topics()) until SIGINT or SIGTERM.

    Must be called from the main thread (it installs signal handlers, restored on return).
    Raises BrokerUnavailableError if Kafka dies on its own.
    """
    broker = KafkaBroker(port, host=host, data_dir=data_dir, heap=heap)
    with stop_on_signals() as stop, broker:
        ensure_topics(broker.bootstrap, topics or Topics())
        if on_ready is not None:
            on_ready(broker)
        while not stop.wait(0.5):
            if not broker.is_running():
                msg = f"Kafka exited unexpectedly:\n{broker.log_tail()}"
                raise BrokerUnavailableError(msg)
