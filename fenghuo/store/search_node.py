"""The embedded search server: OpenSearch 2.19.6, one node, as a child JVM.

It serves the tests (a real server behind the store's "opensearch" backend) and
`fenghuo search-node`. The jars come from Maven Central, pinned and verified, and the small main
that runs the node from the classpath (`FenghuoSearchNode.java`) is compiled beside them by
`fenghuo setup` (`fenghuo.maven_jars`, set `opensearch-node`). No distribution layout, no plugin
descriptors, no security manager: it runs as root, as CI does.

The node keeps its indices under `data_dir` (`<data_dir>/data`, with `config/`, `logs/` and the
JVM's `tmp/` beside them), so what it acknowledged survives a stop or a SIGKILL; without a
`data_dir` it runs in a temporary folder removed by `stop()`. HTTP and transport listen on
loopback, on ports free at each start. `start()` returns once the node has printed its started
line (printed after it made new indices replica-free, so that a lone node turns them green) and
its cluster health is green, which after a restart also means every shard has recovered.

The heap is fixed (-Xms = -Xmx, default 512m) and direct memory is bounded to half of it, so the
node's memory stays put. `stop()` sends SIGTERM (the JVM closes the node and exits with 143) and
SIGKILL as a last resort. The JVM runs in its own session (Ctrl-C reaches Fenghuo, which then stops
it) and the kernel kills it if Fenghuo dies.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from fenghuo.children import die_with_parent, stop_child, stop_on_signals
from fenghuo.errors import ConfigError
from fenghuo.store.base import StoreError

JAR_SET = "opensearch-node"
MAIN_CLASS = "FenghuoSearchNode"
STARTED = "fenghuo-search-node started"  # FenghuoSearchNode.STARTED
FAILED = "fenghuo-search-node failed"  # FenghuoSearchNode.FAILED
DEFAULT_HEAP = "512m"
HEAP_PATTERN = r"^[1-9][0-9]*[mMgG]$"
_HOST = "127.0.0.1"
_OUT = "node.out"  # the JVM's standard output and error, in <data_dir>/logs
_PORT_ATTEMPTS = 3
_BIND_FAILURE = re.compile(r"BindException|Address already in use|Failed to bind")
# OpenSearch's own jvm.options, the parts that matter for a small node: Netty without unsafe
# tricks or per-thread recyclers and no direct arenas (bounded off-heap memory), log4j without its
# own shutdown hook (the node's hook still logs while closing), no JMX, no lookups.
_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-UsePerfData",  # no hsperfdata files in /tmp
    "-XX:+ExitOnOutOfMemoryError",  # a node out of heap exits rather than limps on
    "-Xss1m",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
    "-Dlog4j2.formatMsgNoLookups=true",
    "-Dlog4j.shutdownHookEnabled=false",
    "-Dlog4j2.disable.jmx=true",
    "-Dopensearch.set.netty.runtime.available.processors=false",
    "-Dio.netty.noUnsafe=true",
    "-Dio.netty.noKeySetOptimization=true",
    "-Dio.netty.recycler.maxCapacityPerThread=0",
    "-Dio.netty.allocator.numDirectArenas=0",
)


class SearchNodeError(StoreError):
    """The embedded search node exited, or did not turn green before the deadline."""


def search_node_jars() -> Path:
    """The installed `opensearch-node` set (jars and `classes/`), resolved and compiled on first
    use."""
    from fenghuo.maven_jars import jar_set_dir

    return jar_set_dir(JAR_SET)


def heap_bytes(heap: str) -> int:
    """A JVM heap size such as 512m or 1g in bytes; a ConfigError names a malformed one."""
    if not re.fullmatch(HEAP_PATTERN, heap):
        msg = f"search node heap {heap!r} is not a JVM size such as 512m or 1g"
        raise ConfigError(msg)
    return int(heap[:-1]) * (2**30 if heap[-1] in "gG" else 2**20)


def free_port(host: str = _HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class SearchNode:
    """A single-node OpenSearch on loopback; a context manager. `data_dir` holds its indices,
    configuration and logs. Without `scripts` the node leaves out Painless (scripted queries and
    updates), which saves about a third of its start-up CPU and 60 MB (bench/README.md)."""

    def __init__(
        self,
        *,
        data_dir: Path | None = None,
        heap: str = DEFAULT_HEAP,
        http_port: int | None = None,
        jars: Path | None = None,
        scripts: bool = True,
        ready_timeout: float = 180.0,
    ) -> None:
        self._direct_bytes = heap_bytes(heap) // 2
        self.heap = heap
        self._requested_port = http_port or None
        self._http_port: int | None = None
        self._jars = jars
        self.scripts = scripts
        self._ready_timeout = ready_timeout
        self._own_dir = data_dir is None
        self._data_dir = data_dir
        self._out: IO[bytes] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes]], SearchNode] | None = None

    @property
    def http_port(self) -> int:
        if self._http_port is None:
            msg = "the search node is not started"
            raise SearchNodeError(msg)
        return self._http_port

    @property
    def url(self) -> str:
        """The node's REST endpoint, e.g. http://127.0.0.1:41234."""
        return f"http://{_HOST}:{self.http_port}"

    @property
    def data_dir(self) -> Path | None:
        return self._data_dir

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Self:
        """Start the node and return once it is green; a SearchNodeError (with the end of its
        log) if the JVM exits first or the deadline passes."""
        if self.is_running():
            return self
        java = _find_java()
        jars = self._jars or search_node_jars()
        if self._data_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="fenghuo-search-"))
        for sub in ("logs", "tmp"):
            (self._data_dir / sub).mkdir(parents=True, exist_ok=True)
        attempts = 1 if self._requested_port else _PORT_ATTEMPTS
        attempt = 0
        while True:
            attempt += 1
            http_port = self._requested_port or free_port()
            if not _bindable(http_port):
                # Checked first: otherwise another server on the port would look like ours.
                self.stop()
                msg = f"cannot start the search node: {_HOST}:{http_port} is already in use"
                raise SearchNodeError(msg)
            self._spawn(self._command(java, jars, http_port, free_port()), http_port)
            try:
                self._wait_ready(time.monotonic() + self._ready_timeout)
            except SearchNodeError:
                # A free port can be taken between our probe and the node's bind: try others.
                if attempt >= attempts or not self._failed_to_bind():
                    self.stop()
                    raise
                self._terminate()
            except BaseException:
                self.stop()  # interrupted (Ctrl-C): leave no JVM behind
                raise
            else:
                return self

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait, SIGKILL as a last resort; idempotent. A temporary data dir is removed.
        Returns the JVM's exit code (143 after a clean SIGTERM), None if it was not running."""
        code = self._terminate(timeout)
        if self._own_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
            self._data_dir = None
        return code

    def kill(self) -> int | None:
        """SIGKILL the JVM, as a crash would; the data dir stays, for a restart (fault tests)."""
        return self._terminate(0.0, sig=signal.SIGKILL)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the JVM's own output and of the node's log."""
        if self._data_dir is None:
            return ""
        out: list[str] = []
        logs = self._data_dir / "logs"
        for path in (logs / _OUT, logs / "opensearch.log"):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace")
                out += [f"--- {path.name}", *text.splitlines()[-lines:]]
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

    def _command(self, java: str, jars: Path, http_port: int, transport_port: int) -> list[str]:
        home = self._data_dir
        assert home is not None
        memory = [f"-Xms{self.heap}", f"-Xmx{self.heap}"]
        memory.append(f"-XX:MaxDirectMemorySize={self._direct_bytes}")
        classpath = f"{jars}/*:{jars}/classes"
        return [
            java,
            *memory,
            *_JVM_FLAGS,
            f"-Djava.io.tmpdir={home / 'tmp'}",  # nothing left behind in /tmp
            f"-Dfenghuo.node.painless={str(self.scripts).lower()}",
            "-cp",
            classpath,
            MAIN_CLASS,
            str(home),
            str(http_port),
            str(transport_port),
        ]

    def _spawn(self, command: list[str], http_port: int) -> None:
        home = self._data_dir
        assert home is not None
        # A file, not a pipe: nobody has to drain it, so the JVM can never block on its output.
        # Truncated at each start: the started line must be this start's.
        self._out = (home / "logs" / _OUT).open("wb")
        self._proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # start the node from the main thread
        )
        self._http_port = http_port
        # If the owner forgets stop() (or the interpreter exits), do not leave the JVM behind.
        self._finalizer = weakref.finalize(self, _kill, self._proc)

    def _wait_ready(self, deadline: float) -> None:
        proc = self._proc
        home = self._data_dir
        assert proc is not None
        assert home is not None
        out = home / "logs" / _OUT
        step = "started line"
        while True:
            if proc.poll() is not None:
                text = out.read_text(encoding="utf-8", errors="replace")
                why = [line for line in text.splitlines() if line.startswith(FAILED)]
                msg = f"the search node exited with {proc.returncode} on start"
                msg += f" ({why[-1]})" if why else ""
                msg += f":\n{self.log_tail()}"
                raise SearchNodeError(msg)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                msg = f"the search node on {self.url} was not ready ({step}) in "
                msg += f"{self._ready_timeout:.0f} s:\n{self.log_tail()}"
                raise SearchNodeError(msg)
            if step == "started line":
                if STARTED in out.read_text(encoding="utf-8", errors="replace"):
                    step = "green health"
                else:
                    time.sleep(0.1)  # polling interval, not synchronisation
                continue
            if _is_green(self.url, min(5.0, remaining)):
                return
            time.sleep(0.1)  # shards still recovering: poll again

    def _failed_to_bind(self) -> bool:
        out = self._data_dir / "logs" / _OUT if self._data_dir is not None else None
        if out is None or not out.exists():
            return False
        return _BIND_FAILURE.search(out.read_text(encoding="utf-8", errors="replace")) is not None

    def _terminate(
        self, timeout: float = 30.0, *, sig: signal.Signals = signal.SIGTERM
    ) -> int | None:
        proc = self._proc
        code: int | None = None
        if proc is not None:
            code = stop_child(proc, timeout, sig=sig)
            if self._finalizer is not None:
                self._finalizer.detach()
        if self._out is not None:
            self._out.close()
            self._out = None
        self._proc = None
        return code


def _is_green(url: str, timeout: float) -> bool:
    """Cluster health green (the server waits up to 1 s for it); False while it is not."""
    query = f"{url}/_cluster/health?wait_for_status=green&timeout=1s"
    try:
        with urllib.request.urlopen(query, timeout=timeout) as response:  # noqa: S310 (loopback)
            body = json.load(response)
    except (OSError, ValueError):  # refused, 408 (not green yet), 503 (no cluster manager yet)
        return False
    return isinstance(body, dict) and body.get("status") == "green"


def _find_java() -> str:
    """`java` on PATH (Java 17 or newer); a ConfigError saying what to install otherwise."""
    java = shutil.which("java")
    if java is None:
        msg = "the embedded search node needs Java 17 (`java` on PATH): "
        msg += "apt install openjdk-17-jre-headless"
        raise ConfigError(msg)
    return java


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM binds
        try:
            s.bind((_HOST, port))
        except OSError:
            return False
    return True


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def run_search_node_forever(
    *,
    data_dir: Path,
    heap: str = DEFAULT_HEAP,
    http_port: int | None = None,
    on_ready: Callable[[SearchNode], None] | None = None,
) -> None:
    """Run the node until SIGINT or SIGTERM (`fenghuo search-node`).

    Must be called from the main thread (it installs signal handlers, restored on return).
    Raises SearchNodeError if the node dies on its own.
    """
    node = SearchNode(data_dir=data_dir, heap=heap, http_port=http_port)
    with stop_on_signals() as stop, node:
        if on_ready is not None:
            on_ready(node)
        while not stop.wait(0.5):
            if not node.is_running():
                msg = f"the search node exited unexpectedly:\n{node.log_tail()}"
                raise SearchNodeError(msg)
