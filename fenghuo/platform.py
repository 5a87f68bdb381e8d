"""Wiring: settings -> the running parts (broker, publisher, ingest pipeline, API server).

`fenghuo up`, `fenghuo serve` and `fenghuo ingest` build their parts here so every entry point
wires them the same way.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import uvicorn
from confluent_kafka.admin import AdminClient

from fenghuo.api.app import create_app
from fenghuo.api.deps import Services
from fenghuo.demo.samples import demo_inventory_path, sample_files
from fenghuo.errors import ConfigError
from fenghuo.ingest.kafka.producer import Publisher
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import raw_lines
from fenghuo.ingest.pipeline import Ingestor, IngestReport
from fenghuo.inventory import InventoryStore
from fenghuo.settings import Settings
from fenghuo.store.keys import KeyStore, Role

log = logging.getLogger(__name__)


def broker_reachable(bootstrap: str, timeout: float = 2.0) -> bool:
    """True when the broker answers a metadata request within `timeout`."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000)})
    try:
        admin.list_topics(timeout=timeout)
    except Exception:  # noqa: BLE001 - any failure means "not ready"; the probe reports False
        return False
    return True


def inventory_store(settings: Settings, path: Path | None = None) -> InventoryStore:
    chosen = path or settings.inventory
    if chosen is None:
        msg = "no inventory: pass --inventory or set FENGHUO_INVENTORY"
        raise ConfigError(msg)
    return InventoryStore(chosen)


@dataclass
class Ingest:
    ingestor: Ingestor
    publisher: Publisher


@contextmanager
def open_ingest(settings: Settings, inventory: InventoryStore, bootstrap: str) -> Iterator[Ingest]:
    topics = Topics(settings.topic_prefix)
    # librdkafka gives up on a message after the configured timeout; publish() waits a little
    # longer so that every failure is a delivery report, not a message left in flight.
    with Publisher(
        bootstrap, client_id="fenghuo-ingest", delivery_timeout=settings.kafka_timeout_s
    ) as publisher:
        ingestor = Ingestor(
            Normaliser(inventory), publisher, topics, timeout=settings.kafka_timeout_s + 2
        )
        yield Ingest(ingestor, publisher)


def build_services(settings: Settings, ingest: Ingest, bootstrap: str) -> Services:
    return Services(
        settings=settings,
        keys=KeyStore(settings.db_path),
        ingestor=ingest.ingestor,
        broker_ready=lambda: broker_reachable(bootstrap),
    )


class ApiServer:
    """uvicorn in a background thread, so `fenghuo up` can run it beside the other parts."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        config = uvicorn.Config(
            create_app(services), host=host, port=port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="fenghuo-api", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        started = threading.Event()
        while not started.wait(0.05):
            if self.server.started:
                return
            if not self.thread.is_alive():
                msg = "the API server stopped during start-up (is the port in use?)"
                raise ConfigError(msg)
            timeout -= 0.05
            if timeout <= 0:
                msg = "the API server did not start in time"
                raise ConfigError(msg)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def rotate_demo_key(keys: KeyStore) -> str:
    """A fresh demo ingest key for this run of `fenghuo up`; earlier demo keys are revoked."""
    for key in keys.list():
        if key.name == "demo-ingest" and key.revoked_at is None:
            keys.revoke(key.id)
    _key, token = keys.create(Role.INGEST, name="demo-ingest")
    return token


def ingest_samples(ingestor: Ingestor, root: Path) -> list[tuple[Path, IngestReport]]:
    reports = []
    for sample_set, path in sample_files(root):
        with path.open(encoding="utf-8") as handle:
            report = ingestor.ingest(
                sample_set.format,
                raw_lines(str(path), handle),
                host_id=sample_set.host_id,
            )
        reports.append((path, report))
    return reports


def default_inventory(settings: Settings) -> Path:
    return settings.inventory or demo_inventory_path()


def wait_for_signal() -> None:
    stop = threading.Event()

    def _on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_up(
    settings: Settings,
    samples: Path | None,
    simulate: bool,
    echo: Callable[[str], None],
) -> None:
    """Broker, topics, ingest pipeline and API on embedded defaults, plus the demo data; blocks
    until SIGINT/SIGTERM and then stops every part, last started first."""
    from fenghuo.artifacts import ensure_all
    from fenghuo.demo.samples import default_samples_dir
    from fenghuo.ingest.kafka.broker import EmbeddedBroker
    from fenghuo.ingest.kafka.topics import ensure_topics

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_all()
    inventory = InventoryStore(default_inventory(settings))
    with ExitStack() as stack:
        broker = stack.enter_context(
            EmbeddedBroker(settings.embedded_broker_port, log_path=settings.data_dir / "broker.log")
        )
        topics = Topics(settings.topic_prefix)
        ensure_topics(broker.bootstrap, topics, partitions=settings.topic_partitions)
        echo(f"broker     {broker.bootstrap} (embedded Tansu; topics {', '.join(topics.all())})")
        ingest = stack.enter_context(open_ingest(settings, inventory, broker.bootstrap))
        services = build_services(settings, ingest, broker.bootstrap)
        server = ApiServer(services, settings.api_host, settings.api_port)
        server.start()
        stack.callback(server.stop)
        url = f"http://{settings.api_host}:{settings.api_port}"
        echo(f"api        {url}  (OpenAPI: {url}/api/v1/openapi.json)")
        echo(f"inventory  {inventory.path} (reloaded when it changes)")
        token = rotate_demo_key(services.keys)
        echo(f"ingest key {token}  (demo key, shown once)")
        echo(
            f"           curl -H 'Authorization: Bearer {token}' --data-binary @FILE "
            f"{url}/api/v1/ingest/FORMAT"
        )
        root = samples or default_samples_dir()
        if root is None:
            echo("samples    none found (set FENGHUO_SAMPLES_DIR or pass --samples)")
        else:
            for path, report in ingest_samples(ingest.ingestor, root):
                echo(f"ingested   {path.relative_to(root)}: {report.summary()}")
        if simulate:
            echo("simulate   live demo telemetry arrives with the simulator (not yet built)")
        echo("running; Ctrl-C stops everything")
        wait_for_signal()
        echo("stopping")
