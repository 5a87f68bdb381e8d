"""Keeping the embedded broker up under `fenghuo up`.

A broker JVM that dies (SIGKILL, the OOM killer, a stray SIGTERM) is started again on the same
log directory and address, so everything it acknowledged is there when it is back. The clients
need nothing from us: librdkafka (the publisher, the correlator, archive and feed consumers) and
the Flink job's Kafka clients reconnect by themselves, and a job whose sink gives up restarts
from its last checkpoint (Flink's restart strategy, `fenghuo.streaming.flink_env`).

Restarts are bounded: a node that dies `max_restarts` times within `window` (a full disk, a
corrupt log, its port taken) is not started again; `failure()` then says so, and `fenghuo up`
stops with that message. The wait before each restart doubles with every recent restart, from
`first_backoff_s` up to `max_backoff_s`.

While the node is down, `down` is true: `SupervisedSink` refuses publishes at once, so the
ingest gateway answers 503 with Retry-After immediately instead of after the producer's delivery
timeout, and nothing it refused was handed to the broker.

Threads: the supervisor restarts the node from its own thread, and the kernel ties a child's
parent-death signal to the thread that started it (`fenghuo.children.die_with_parent`). So the
thread, before it ends, stops a node it started itself; `stop()` is therefore to be called
last, just before the broker's own stop (which is then a no-op).
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from fenghuo.errors import BrokerUnavailableError
from fenghuo.ingest.kafka.broker import BrokerStartError, KafkaBroker
from fenghuo.ingest.kafka.producer import OutMessage
from fenghuo.ingest.pipeline import MessageSink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    window: dt.timedelta = dt.timedelta(minutes=10)
    first_backoff_s: float = 1.0
    max_backoff_s: float = 30.0

    def backoff(self, recent: int) -> float:
        """The wait before a restart, after `recent` restarts within the window."""
        return float(min(self.first_backoff_s * 2**recent, self.max_backoff_s))


def describe_exit(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    if code == 128 + signal.SIGTERM:
        return "stopped by SIGTERM (exit 143)"
    return f"exit code {code}"


class BrokerSupervisor:
    """Watches a started `KafkaBroker` and starts it again when it dies (see the module)."""

    def __init__(
        self,
        broker: KafkaBroker,
        policy: RestartPolicy | None = None,
        *,
        report: Callable[[str], None] | None = None,
        poll_s: float = 0.25,
    ) -> None:
        self.broker = broker
        self.policy = policy or RestartPolicy()
        self._report = report or log.warning
        self._poll_s = poll_s
        self._stop = threading.Event()
        self._down = threading.Event()
        self._failure: str | None = None
        self._recent: list[float] = []  # monotonic times of the restarts within the window
        self.restarts = 0  # successful restarts since start()
        self._thread = threading.Thread(target=self._run, name="fenghuo-broker-supervisor")

    @property
    def down(self) -> bool:
        """True from the moment the node is seen dead until it serves again (or for good)."""
        return self._down.is_set()

    def failure(self) -> str | None:
        """Why supervision gave up, or None: a probe for `fenghuo up`'s watch loop."""
        return self._failure

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 120.0) -> None:
        """End supervision; a node this thread started is stopped by it (see the module)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        restarted = False
        try:
            while not self._stop.wait(self._poll_s):
                if self.broker.is_running():
                    continue
                self._down.set()
                if not self._recover():
                    return
                restarted = True
                self._down.clear()
        finally:
            if restarted:
                self.broker.stop()

    def _recover(self) -> bool:
        """Start the dead node again, waiting before each attempt; False when it gave up (or
        was told to stop)."""
        died = time.monotonic()
        self._report(
            f"the embedded broker on {self.broker.bootstrap} died "
            f"({describe_exit(self.broker.exit_code)}); restarting it on the same log directory"
        )
        while True:
            now = time.monotonic()
            horizon = self.policy.window.total_seconds()
            self._recent = [t for t in self._recent if now - t < horizon]
            if len(self._recent) >= self.policy.max_restarts:
                self._failure = (
                    f"the embedded broker keeps dying: {len(self._recent)} restarts within "
                    f"{self.policy.window}, giving up. Its log ends:\n{self.broker.log_tail()}"
                )
                self._report(self._failure.splitlines()[0])
                return False
            wait = self.policy.backoff(len(self._recent))
            if self._stop.wait(wait):
                return False
            self._recent.append(time.monotonic())
            try:
                self.broker.start()
            except BrokerStartError as exc:
                self._report(f"restarting the embedded broker failed: {str(exc).splitlines()[0]}")
                continue
            self.restarts += 1
            self._report(
                f"the embedded broker is back on {self.broker.bootstrap} after "
                f"{time.monotonic() - died:.1f} s (restart {self.restarts})"
            )
            return True


class SupervisedSink:
    """A publisher that refuses at once while the supervised broker is down: the caller (the
    ingest gateway) answers 503 without having handed anything to the broker."""

    def __init__(self, sink: MessageSink, down: Callable[[], bool]) -> None:
        self._sink = sink
        self._down = down

    def publish(self, messages: Iterable[OutMessage], timeout: float) -> int:
        if self._down():
            msg = "the embedded broker is restarting; nothing was published"
            raise BrokerUnavailableError(msg)
        return self._sink.publish(messages, timeout)
