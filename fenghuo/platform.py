"""Wiring: settings -> the running parts (broker, publisher, ingest pipeline, API server).

`fenghuo up`, `fenghuo serve` and `fenghuo ingest` build their parts here so every entry point
wires them the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from confluent_kafka.admin import AdminClient

from fenghuo.api.app import create_app
from fenghuo.api.deps import Services
from fenghuo.children import stop_on_signals
from fenghuo.demo.samples import demo_inventory_path, sample_files
from fenghuo.errors import ConfigError, PlatformError
from fenghuo.evidence.archive import open_archive
from fenghuo.ingest.kafka.producer import Publisher
from fenghuo.ingest.kafka.supervisor import BrokerSupervisor, SupervisedSink
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.ingest.kafka.transactional import TransactionalPublisher, transactional_id_prefix
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import raw_lines
from fenghuo.ingest.pipeline import Ingestor, IngestReport, MessageSink
from fenghuo.inventory import InventoryStore
from fenghuo.settings import Settings
from fenghuo.simulate.stream import LiveSimulation
from fenghuo.simulate.world import World
from fenghuo.store.base import KeyRepository
from fenghuo.store.factory import open_store
from fenghuo.store.keys import Role
from fenghuo.streaming.child import StreamJobProcess
from fenghuo.streaming.flink_env import latest_checkpoint

if TYPE_CHECKING:
    from fenghuo.graph.runner import ServiceThread
    from fenghuo.graph.service import CorrelatorService

log = logging.getLogger(__name__)

LIVE_ROUND = dt.timedelta(minutes=10)


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


# Transactions the gateway may have in flight at once (one per producer, see transactional.py).
GATEWAY_PRODUCERS = 2


@dataclass
class Ingest:
    ingestor: Ingestor
    publisher: Publisher | TransactionalPublisher


def gateway_publisher(settings: Settings, bootstrap: str) -> TransactionalPublisher:
    """The gateway's publisher: one transaction per request, ids unique to this process."""
    return TransactionalPublisher(
        bootstrap,
        transactional_id_prefix(f"{settings.topic_prefix}gateway"),
        delivery_timeout=settings.kafka_timeout_s,
        producers=GATEWAY_PRODUCERS,
    )


@contextmanager
def open_ingest(
    settings: Settings,
    inventory: InventoryStore,
    bootstrap: str,
    broker_down: Callable[[], bool] | None = None,
    *,
    transactional: bool = False,
) -> Iterator[Ingest]:
    """The publisher and the ingest pipeline on it; with `broker_down` (a supervised broker),
    publishing is refused at once while it returns True.

    `transactional` (the gateway: `serve`, `up`): each `ingest()` call is one transaction, so a
    call that fails left nothing visible and its resend cannot duplicate. Otherwise (`fenghuo
    ingest`) batches are published by the idempotent producer and the report says how much of a
    failed call was acknowledged."""
    topics = Topics(settings.topic_prefix)
    # librdkafka gives up on a message after the configured timeout; publish() waits a little
    # longer so that every failure is a delivery report, not a message left in flight.
    publisher: Publisher | TransactionalPublisher
    if transactional:
        publisher = gateway_publisher(settings, bootstrap)
    else:
        publisher = Publisher(
            bootstrap, client_id="fenghuo-ingest", delivery_timeout=settings.kafka_timeout_s
        )
    with publisher:
        sink: MessageSink = publisher
        if broker_down is not None:
            sink = SupervisedSink(publisher, broker_down)
        ingestor = Ingestor(
            Normaliser(inventory),
            sink,
            topics,
            timeout=settings.kafka_timeout_s + 2,
            batch_size=None if transactional else 2000,
        )
        yield Ingest(ingestor, publisher)


def build_services(
    settings: Settings,
    ingest: Ingest,
    bootstrap: str,
    inventory: InventoryStore,
    broker_down: Callable[[], bool] = lambda: False,
) -> Services:
    return Services(
        settings=settings,
        store=open_store(settings),
        ingestor=ingest.ingestor,
        broker_ready=lambda: not broker_down() and broker_reachable(bootstrap),
        inventory=inventory.current,
        events=open_archive(settings),
    )


class ApiServer:
    """uvicorn in a background thread, so `fenghuo up` can run it beside the other parts."""

    def __init__(self, services: Services, host: str, port: int) -> None:
        self.app = create_app(services)
        # Open live streams (GET /api/v1/stream) would hold a graceful shutdown forever: `stop`
        # ends them first, and the timeout is the backstop.
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
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
        self.app.state.stream_hub.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)


def rotate_demo_key(keys: KeyRepository, role: Role = Role.INGEST) -> str:
    """A fresh demo key of `role` for this run of `fenghuo up`; earlier ones are revoked."""
    name = f"demo-{role.value.replace('_', '-')}"
    for key in keys.list():
        if key.name == name and key.revoked_at is None:
            keys.revoke(key.id)
    _key, token = keys.create(role, name=name)
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


def wait_for_signal(watched: Sequence[Callable[[], str | None]] = ()) -> str | None:
    """Block until SIGINT/SIGTERM (returns None) or until one of `watched` reports a failure
    (returns its message): a part that dies must not leave the rest pretending to run."""
    with stop_on_signals() as stop:
        while not stop.wait(1.0):
            for probe in watched:
                if (failure := probe()) is not None:
                    return failure
        return None


def run_until_signal(running: ServiceThread[Any], echo: Callable[[str], None], line: str) -> None:
    """A service started alone (`fenghuo archive`, `fenghuo feed follow`): say what it does,
    run until SIGINT/SIGTERM or its failure, stop it; a failure is raised as a PlatformError."""
    echo(line)
    echo("running; Ctrl-C stops it")
    try:
        failure = wait_for_signal([running.failure])
    finally:
        running.stop()
    if failure is not None:
        raise PlatformError(failure)


def start_stream_job(
    settings: Settings, inventory: Path, bootstrap: str, echo: Callable[[str], None]
) -> StreamJobProcess:
    """The detection job on the local mini-cluster, reading the embedded broker's topics.

    It resumes from the newest checkpoint of an earlier run: the embedded broker keeps its topics
    under the data dir, so the offsets checkpointed there still refer to its data."""
    checkpoints = settings.data_dir / "checkpoints" / "up"
    resume = latest_checkpoint(checkpoints)
    args = ["--inventory", str(inventory.resolve()), "--bootstrap", bootstrap]
    args += ["--checkpoint-dir", str(checkpoints.resolve())]
    if settings.detection_config is not None:
        args += ["--detection-config", str(settings.detection_config.resolve())]
    job = StreamJobProcess(args, settings.data_dir / "stream.log")
    echo("detection  starting the stream job (Flink mini-cluster; the JVM takes a few seconds)")
    if resume is not None:
        echo(f"detection  resuming from checkpoint {resume}")
    job.start()
    echo(
        f"detection  {job.job_line}; alerts to {Topics(settings.topic_prefix).alerts} and "
        f"{settings.db_path}; Flink UI http://127.0.0.1:{settings.stream_rest_port}; "
        f"log {job.log_path}"
    )
    return job


def start_correlator_thread(
    settings: Settings, inventory: InventoryStore, bootstrap: str, echo: Callable[[str], None]
) -> ServiceThread[CorrelatorService]:
    """The correlator service as a thread of `fenghuo up` (pure Python, no process needed):
    alerts topic in, incidents topic and the store out. It rebuilds its graph from the earliest
    alert the broker keeps."""
    from fenghuo.graph.runner import describe, start_correlator

    running = start_correlator(settings, inventory, bootstrap)
    echo(f"correlate  {describe(settings)}")
    return running


def start_archive_thread(
    settings: Settings, bootstrap: str, stack: ExitStack, echo: Callable[[str], None]
) -> Callable[[], str | None]:
    """The archive service (telemetry -> the event archive, for alerts' evidence) as a thread
    of `fenghuo up`; returns its failure probe."""
    from fenghuo.evidence.service import describe, start_archive

    running = start_archive(settings, bootstrap)
    stack.callback(running.stop)
    echo(f"archive    {describe(settings)}")
    return running.failure


def start_regulator_side(
    settings: Settings,
    services: Services,
    inventory: InventoryStore,
    bootstrap: str,
    url: str,
    stack: ExitStack,
    echo: Callable[[str], None],
) -> list[Callable[[], str | None]]:
    """The feed service (incidents -> the collections' STIX objects and the reports), the demo
    regulator collection and key, and the push to a regulator's TAXII server when configured;
    returns their failure probes."""
    from fenghuo.graph.runner import ServiceThread
    from fenghuo.intel.demo import start_regulator_feed
    from fenghuo.intel.push import PushService

    feed = start_regulator_feed(
        settings,
        services.store,
        inventory,
        bootstrap,
        url,
        lambda role: rotate_demo_key(services.store.keys, role),
        echo,
    )
    stack.callback(feed.stop)
    probes = [feed.failure]
    push_store = open_store(settings)
    push = PushService.from_settings(settings, push_store)
    if push is None:
        push_store.close()
        return probes
    running = ServiceThread(push, push_store, name="feed push")
    running.start()
    stack.callback(running.stop)
    echo(f"push       {push.describe()}")
    return [*probes, running.failure]


def simulated_inventory(settings: Settings, world: World) -> Path:
    path = settings.data_dir / "simulated-inventory.yaml"
    path.write_text(world.inventory_yaml(), encoding="utf-8")
    return path


def run_up(
    settings: Settings,
    samples: Path | None,
    simulate_rate: float | None,
    echo: Callable[[str], None],
) -> None:
    """Broker, topics, ingest pipeline, API and the detection job on embedded defaults, plus
    demo data: the shared samples, or (`simulate_rate`) a live simulated cloud with attacks.
    Blocks until SIGINT/SIGTERM (or a part fails) and then stops every part, last started
    first. The broker is supervised: restarted when it dies, until it keeps dying (see
    `fenghuo.ingest.kafka.supervisor`)."""
    from fenghuo.artifacts import ensure_all
    from fenghuo.demo.samples import default_samples_dir
    from fenghuo.ingest.kafka.broker import KafkaBroker
    from fenghuo.ingest.kafka.topics import ensure_topics
    from fenghuo.simulate import live_world
    from fenghuo.streaming.flush import publish_flush

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_all()
    # Ten simulated minutes per round, so that a demo shows every kind of attack in minutes.
    world = live_world(simulate_rate, duration=LIVE_ROUND) if simulate_rate is not None else None
    inventory_path = (
        simulated_inventory(settings, world) if world is not None else default_inventory(settings)
    )
    inventory = InventoryStore(inventory_path)
    with ExitStack() as stack:
        broker = stack.enter_context(
            KafkaBroker(
                settings.embedded_broker_port,
                data_dir=settings.data_dir / "kafka",
                heap=settings.broker_heap,
            )
        )
        # Registered right after the broker, so stopped right before it (see supervisor).
        supervisor = BrokerSupervisor(broker, report=lambda line: echo(f"broker     {line}"))
        supervisor.start()
        stack.callback(supervisor.stop)
        topics = Topics(settings.topic_prefix)
        ensure_topics(broker.bootstrap, topics, partitions=settings.topic_partitions)
        names = ", ".join(topics.all())
        echo(f"broker     {broker.bootstrap} (embedded Apache Kafka; topics {names})")
        ingest = stack.enter_context(
            open_ingest(
                settings, inventory, broker.bootstrap, lambda: supervisor.down, transactional=True
            )
        )
        services = build_services(
            settings, ingest, broker.bootstrap, inventory, lambda: supervisor.down
        )
        server = ApiServer(services, settings.api_host, settings.api_port)
        server.start()
        stack.callback(server.stop)
        url = f"http://{settings.api_host}:{settings.api_port}"
        echo(f"api        {url}  (OpenAPI: {url}/api/v1/openapi.json)")
        echo(f"console    {url}/  (log in with a key printed below)")
        echo(f"inventory  {inventory.path} (reloaded when it changes)")
        token = rotate_demo_key(services.store.keys)
        echo(f"ingest key {token}  (demo key, shown once)")
        echo(
            f"           curl -H 'Authorization: Bearer {token}' --data-binary @FILE "
            f"{url}/api/v1/ingest/FORMAT"
        )
        analyst = rotate_demo_key(services.store.keys, Role.SOC_ANALYST)
        echo(f"analyst key {analyst}  (demo soc_analyst key, shown once)")
        echo(f"           curl -H 'Authorization: Bearer {analyst}' {url}/api/v1/incidents")
        job = start_stream_job(settings, inventory.path, broker.bootstrap, echo)
        stack.callback(job.stop)
        watched: list[Callable[[], str | None]] = [
            supervisor.failure,
            lambda: None if job.running else f"the stream job exited:\n{job.tail()}",
        ]
        correlator = start_correlator_thread(settings, inventory, broker.bootstrap, echo)
        stack.callback(correlator.stop)
        watched.append(correlator.failure)
        watched.append(start_archive_thread(settings, broker.bootstrap, stack, echo))
        watched += start_regulator_side(
            settings, services, inventory, broker.bootstrap, url, stack, echo
        )
        if world is None:
            root = samples or default_samples_dir()
            if root is None:
                echo("samples    none found (set FENGHUO_SAMPLES_DIR or pass --samples)")
            elif not (reports := ingest_samples(ingest.ingestor, root)):
                # No backfill, so event time stays where the telemetry puts it.
                echo(f"samples    none in {root}")
            else:
                for path, report in reports:
                    echo(f"ingested   {path.relative_to(root)}: {report.summary()}")
                # The samples are a backfill of the past: tell the job that event time has
                # reached now, so their windows close and every alert they hold comes out.
                now = dt.datetime.now(dt.UTC)
                publish_flush(broker.bootstrap, topics, at=now)
                echo(f"backfill   done; event time moved to {now:%Y-%m-%dT%H:%M:%SZ}")
        else:
            live = LiveSimulation(world, ingest.ingestor, world.config.rate, loop=True)
            live.start()
            stack.callback(live.stop)
            watched.append(
                lambda: f"the simulation stopped: {live.error}" if live.done.is_set() else None
            )
            echo(
                f"simulate   {len(world.tenants)} tenants, {len(world.hosts)} hosts, "
                f"{len(world.vms())} VMs at {world.config.rate:g} events/s with labelled attacks "
                f"(seed {world.config.seed}, from {world.config.start:%Y-%m-%dT%H:%M:%SZ}); "
                f"attacks recur every {world.config.duration}"
            )
        echo(f"console    {url}/  (open it in a browser; the analyst key above logs in)")
        echo("running; Ctrl-C stops everything")
        failure = wait_for_signal(watched)
        echo("stopping")
        if failure is not None:
            raise PlatformError(failure)
