"""Wiring of the correlator service (`fenghuo.graph.service`) for `fenghuo correlate` and
`fenghuo up`: settings, store and inventory in; a background thread that reports how it ended."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from fenghuo.errors import FenghuoError
from fenghuo.graph.service import CorrelatorService, CorrelatorServiceError, ServiceConfig
from fenghuo.ingest.kafka.topics import Topics, ensure_configured_topics
from fenghuo.inventory import InventoryStore
from fenghuo.settings import Settings
from fenghuo.store.factory import open_store

log = logging.getLogger(__name__)

Wait = Callable[[Sequence[Callable[[], str | None]]], str | None]


class Runs(Protocol):
    def run(self, stop: threading.Event) -> None: ...


class Closes(Protocol):
    """What a service writes to (a store, the event archive): closed when the service ends."""

    def close(self) -> None: ...


S = TypeVar("S", bound=Runs)


class ServiceThread(Generic[S]):
    """A service (the correlator, the feed, a push) in a background thread: `failure()` says
    why it ended if it ended by itself (for `fenghuo up`'s watched probes), `stop()` ends it
    and closes its store."""

    def __init__(self, service: S, store: Closes, name: str = "correlator") -> None:
        self.service = service
        self.store = store
        self.name = name
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"fenghuo-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.service.run(self._stop)
        except BaseException as exc:  # kept for failure(), which the caller watches
            log.exception("the %s service failed", self.name)
            self.error = exc

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def failure(self) -> str | None:
        if self._thread.is_alive() or self._stop.is_set():
            return None
        return f"the {self.name} stopped: {self.error!r}"

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the %s did not stop within %.0f s", self.name, timeout)
            return
        self.store.close()


def group_of(settings: Settings, group_id: str | None = None) -> str:
    return group_id or f"{settings.topic_prefix}correlate"


def start_correlator(
    settings: Settings,
    inventory: InventoryStore,
    bootstrap: str,
    *,
    group_id: str | None = None,
    from_beginning: bool = True,
) -> ServiceThread[CorrelatorService]:
    """Open the configured store and start the service on `bootstrap` in a thread."""
    config = ServiceConfig(
        bootstrap=bootstrap,
        topics=Topics(settings.topic_prefix),
        group_id=group_of(settings, group_id),
        from_beginning=from_beginning,
        publish_timeout_s=settings.kafka_timeout_s,
    )
    store = open_store(settings)
    running = ServiceThread(CorrelatorService(config, store, inventory.current), store)
    running.start()
    return running


def describe(settings: Settings, group_id: str | None = None, from_beginning: bool = True) -> str:
    """One line for the operator: what the service reads and writes."""
    topics = Topics(settings.topic_prefix)
    where = settings.search_url or settings.db_path
    start = "graph rebuilt from the earliest alert" if from_beginning else "from committed offsets"
    return (
        f"{topics.alerts} -> {topics.incidents} and the {settings.store} store ({where}); "
        f"group {group_of(settings, group_id)}, {start}"
    )


def run_service(
    settings: Settings,
    inventory: InventoryStore,
    *,
    bootstrap: str,
    group_id: str | None,
    from_beginning: bool,
    wait: Wait,
    echo: Callable[[str], None],
) -> None:
    """`fenghuo correlate`: run until `wait` returns (a signal, or the service failing)."""
    try:
        ensure_configured_topics(bootstrap, Topics(settings.topic_prefix), settings)
    except FenghuoError as exc:
        # The service still starts: it waits for the alerts topic and retries its publishes.
        echo(f"warning: could not ensure topics ({exc}); continuing")
    running = start_correlator(
        settings, inventory, bootstrap, group_id=group_id, from_beginning=from_beginning
    )
    echo(f"correlate  {describe(settings, group_id, from_beginning)}")
    echo("running; Ctrl-C stops it")
    try:
        failure = wait([running.failure])
    finally:
        running.stop()
    if failure is not None:
        raise CorrelatorServiceError(failure)
