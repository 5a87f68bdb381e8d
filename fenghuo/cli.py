"""The `fenghuo` command line (CONTRACTS.md)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from fenghuo import __version__
from fenghuo.errors import FenghuoError
from fenghuo.ingest.parsers import FORMATS, RawLine, RecordError, raw_lines
from fenghuo.model import encode_event
from fenghuo.settings import get_settings
from fenghuo.store.factory import open_store
from fenghuo.store.keys import ApiKeyError, Role

FORMAT_CHOICE = click.Choice(FORMATS)
_CLI_ACTOR = "cli"  # the actor of audit entries written by the command line


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _input_lines(paths: tuple[str, ...]) -> Iterator[tuple[str, Iterator[RawLine]]]:
    for name in paths:
        if name == "-":
            yield "stdin", raw_lines("stdin", sys.stdin)
            continue
        path = Path(name)
        if not path.is_file():
            _fail(f"no such file: {name}")
        with path.open(encoding="utf-8", errors="backslashreplace") as handle:
            yield str(path), raw_lines(str(path), handle)


def _error_line(error: RecordError) -> str:
    where = f"{error.source}:{error.line}" if error.line else error.source
    return f"{where}: {error.format}: {error.reason}"


@click.group()
@click.version_option(__version__)
@click.option("-v", "--verbose", is_flag=True, help="log at INFO level")
def main(verbose: bool) -> None:
    """Fenghuo (烽火): early warning of VM escape, container escape and cross-tenant leakage."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.command()
def setup() -> None:
    """Download and verify the pinned artifacts (jars of the Kafka broker, Flink connector and
    OpenSearch node; the node's Java main compiled)."""
    from fenghuo.artifacts import ensure_all

    for name, path in ensure_all().items():
        click.echo(f"{name}: {path}")


@main.command()
@click.option("--port", type=int, default=None, help="listen port (default from settings: 9092)")
def broker(port: int | None) -> None:
    """Run the embedded Apache Kafka broker alone (data in <data dir>/kafka), until Ctrl-C."""
    from fenghuo.artifacts import ensure_all
    from fenghuo.ingest.kafka.broker import run_broker_forever
    from fenghuo.ingest.kafka.topics import Topics

    settings = get_settings()
    ensure_all()
    run_broker_forever(
        port or settings.embedded_broker_port,
        data_dir=settings.data_dir / "kafka",
        heap=settings.broker_heap,
        topics=Topics(settings.topic_prefix),
        on_ready=lambda b: click.echo(f"broker ready on {b.bootstrap} (Ctrl-C stops it)"),
    )


@main.command("search-node")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9200,
    show_default=True,
    help="HTTP port (0: a free one)",
)
def search_node(port: int) -> None:
    """Run the embedded OpenSearch 2.19.6 node alone (data in <data dir>/search), until Ctrl-C."""
    from fenghuo.artifacts import ensure_all
    from fenghuo.store.search_node import run_search_node_forever

    settings = get_settings()
    ensure_all()
    run_search_node_forever(
        data_dir=settings.data_dir / "search",
        heap=settings.search_heap,
        http_port=port or None,
        on_ready=lambda n: click.echo(f"search node ready on {n.url} (Ctrl-C stops it)"),
    )


@main.command()
@click.option("--format", "format_name", type=FORMAT_CHOICE, required=True)
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", "host_id", help="host the records came from, when the format lacks it")
@click.argument("paths", nargs=-1, required=True)
def parse(format_name: str, inventory: Path | None, host_id: str | None, paths: tuple[str]) -> None:
    """Print the normalised events of raw files as JSON lines; record errors go to stderr."""
    from fenghuo.ingest.normalise import Normaliser
    from fenghuo.inventory import InventoryStore

    normaliser = Normaliser(InventoryStore(inventory) if inventory else None)
    events = errors = unattributed = 0
    out = sys.stdout.buffer
    for _name, lines in _input_lines(paths):
        for result in normaliser.stream(format_name, lines, host_id):
            if isinstance(result, RecordError):
                errors += 1
                click.echo(_error_line(result), err=True)
            else:
                events += 1
                unattributed += result.attribution == "unattributed"
                out.write(encode_event(result) + b"\n")
    out.flush()
    click.echo(
        f"{format_name}: {events} events, {errors} record errors, {unattributed} unattributed",
        err=True,
    )


@main.command()
@click.option("--format", "format_name", type=FORMAT_CHOICE, required=True)
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--host", "host_id", help="host the records came from, when the format lacks it")
@click.option("--bootstrap", help="Kafka bootstrap servers (default from settings)")
@click.argument("paths", nargs=-1, required=True)
def ingest(
    format_name: str,
    inventory: Path | None,
    host_id: str | None,
    bootstrap: str | None,
    paths: tuple[str],
) -> None:
    """Publish raw files (or - for stdin) to Kafka; bad records go to the dead-letter topic."""
    from fenghuo.platform import inventory_store, open_ingest

    settings = get_settings()
    store = inventory_store(settings, inventory)
    totals = [0, 0, 0]
    with open_ingest(settings, store, bootstrap or settings.kafka_bootstrap) as parts:
        for _name, lines in _input_lines(paths):
            report = parts.ingestor.ingest(format_name, lines, host_id=host_id)
            for error in report.errors:
                click.echo(_error_line(error), err=True)
            totals[0] += report.lines_read
            totals[1] += report.published
            totals[2] += report.dead_lettered
    click.echo(
        f"{format_name}: read {totals[0]} lines, published {totals[1]} events, "
        f"dead-lettered {totals[2]} records"
    )


@main.command()
@click.option(
    "--inventory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    required=True,
    help="FORMAT:PATH or FORMAT@HOST:PATH (repeatable)",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option(
    "--detection-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="suppressions and detector settings (YAML)",
)
@click.option("--detectors", help="comma-separated detector ids (default: all)")
@click.option(
    "--incidents",
    type=click.Path(dir_okay=False, path_type=Path),
    help="also correlate the alerts and write the incidents here (JSON lines)",
)
def replay(
    inventory: Path,
    inputs: tuple[str, ...],
    out: Path,
    detection_config: Path | None,
    detectors: str | None,
    incidents: Path | None,
) -> None:
    """Run the detectors over files, bounded, without Kafka; write alerts (and, with
    --incidents, the correlated incidents) as JSON lines."""
    from fenghuo.streaming.replay_files import InputSpec, run_replay

    specs = [InputSpec.parse(text) for text in inputs]
    ids = [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
    outcome = run_replay(
        inventory,
        specs,
        out,
        detection_config=detection_config,
        detector_ids=ids,
        incidents_out=incidents,
    )
    for error in outcome.record_errors[:100]:
        click.echo(_error_line(error), err=True)
    result = outcome.result
    failures = sum(result.failures.values())
    click.echo(
        f"replayed {result.events} events ({len(outcome.record_errors)} record errors): "
        f"{len(result.alerts)} alerts ({result.emitted} versions) to {out}; "
        f"{failures} detector failures"
    )
    if outcome.incidents is not None:
        click.echo(f"correlated {len(outcome.incidents)} incidents to {incidents}")


@main.command()
@click.option("--host", default=None, help="listen address (default 127.0.0.1)")
@click.option("--port", type=int, default=None, help="listen port (default 8080)")
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bootstrap", help="Kafka bootstrap servers (default from settings)")
def serve(
    host: str | None, port: int | None, inventory: Path | None, bootstrap: str | None
) -> None:
    """Serve the API (ingest gateway, health) against an existing broker."""
    from fenghuo.ingest.kafka.topics import Topics, ensure_configured_topics
    from fenghuo.platform import (
        ApiServer,
        build_services,
        inventory_store,
        open_ingest,
        wait_for_signal,
    )

    settings = get_settings()
    bootstrap = bootstrap or settings.kafka_bootstrap
    store = inventory_store(settings, inventory)
    try:
        ensure_configured_topics(bootstrap, Topics(settings.topic_prefix), settings)
    except FenghuoError as exc:
        # The gateway still starts: it answers 503 until the broker is back.
        click.echo(f"warning: could not ensure topics ({exc}); continuing", err=True)
    with open_ingest(settings, store, bootstrap, transactional=True) as parts:
        server = ApiServer(
            build_services(settings, parts, bootstrap, store),
            host or settings.api_host,
            port or settings.api_port,
        )
        server.start()
        url = f"http://{host or settings.api_host}:{port or settings.api_port}"
        click.echo(f"API on {url}  (console {url}/, TAXII {url}/taxii2/)")
        try:
            wait_for_signal()
        finally:
            server.stop()


@main.command()
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--detection-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="suppressions and per-detector settings (YAML)",
)
@click.option("--bootstrap", help="Kafka bootstrap servers (default from settings)")
@click.option("--jobmanager", help="HOST:PORT of a Flink cluster's REST endpoint (default: local)")
@click.option("--parallelism", type=click.IntRange(min=1), default=None)
@click.option("--checkpoint-dir", help="checkpoint path or URI (default under the data dir)")
def stream(
    inventory: Path | None,
    detection_config: Path | None,
    bootstrap: str | None,
    jobmanager: str | None,
    parallelism: int | None,
    checkpoint_dir: str | None,
) -> None:
    """Run the streaming detection job on Kafka (local mini-cluster unless --jobmanager)."""
    from fenghuo.streaming.job import run, stream_spec

    spec = stream_spec(
        get_settings(),
        inventory=inventory,
        detection_config=detection_config,
        bootstrap=bootstrap,
        jobmanager=jobmanager,
        parallelism=parallelism,
        checkpoint_dir=checkpoint_dir,
    )
    run(spec, echo=click.echo)


@main.command()
@click.option("--inventory", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bootstrap", help="Kafka bootstrap servers (default from settings)")
@click.option("--group", "group_id", help="consumer group (default <topic prefix>correlate)")
@click.option(
    "--from-beginning/--from-committed",
    default=True,
    show_default=True,
    help="rebuild the graph from the earliest alert (restart-safe), or resume at the group's "
    "committed offsets with an empty graph",
)
def correlate(
    inventory: Path | None, bootstrap: str | None, group_id: str | None, from_beginning: bool
) -> None:
    """Run the correlator service: alerts topic in, incidents topic and store out, until
    Ctrl-C."""
    from fenghuo.graph.runner import run_service
    from fenghuo.platform import inventory_store, wait_for_signal

    settings = get_settings()
    run_service(
        settings,
        inventory_store(settings, inventory),
        bootstrap=bootstrap or settings.kafka_bootstrap,
        group_id=group_id,
        from_beginning=from_beginning,
        wait=wait_for_signal,
        echo=click.echo,
    )


@main.command()
@click.option(
    "--samples",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="folder of real-format samples to ingest (default ../shared/samples)",
)
@click.option(
    "--simulate",
    is_flag=True,
    help="live demo telemetry: a simulated multi-tenant cloud with labelled attacks, in place "
    "of the samples",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=50.0,
    show_default=True,
    help="with --simulate: events per second",
)
def up(samples: Path | None, simulate: bool, rate: float) -> None:
    """Start everything on embedded defaults; Ctrl-C stops all of it cleanly."""
    from fenghuo.platform import run_up

    if simulate and samples is not None:
        msg = "--samples and --simulate exclude each other (the simulation has its own inventory)"
        raise click.UsageError(msg)
    run_up(get_settings(), samples, rate if simulate else None, echo=click.echo)


@main.group()
def keys() -> None:
    """Manage API keys (stored hashed; a key is shown once)."""


@keys.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--tenant", "tenant_id", help="the tenant a tenant_viewer key may see")
@click.option("--name", default="", help="a label for the key (shown in audit records)")
def keys_create(role: str, tenant_id: str | None, name: str) -> None:
    from fenghuo.api.routes.keys import key_audit

    store = open_store(get_settings())
    try:
        try:
            key, token = store.keys.create(Role(role), tenant_id, name)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from None
        store.audit.append(key_audit("key.create", key, _CLI_ACTOR, Role.ADMIN.value))
    finally:
        store.close()
    click.echo(f"created key {key.id} ({key.name}, role {key.role.value}); it is shown once:")
    click.echo(token)


@keys.command("list")
def keys_list() -> None:
    store = open_store(get_settings())
    try:
        keys = store.keys.list()
    finally:
        store.close()
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        click.echo(f"{key.id}  {key.role.value:<13} {key.tenant_id or '-':<12} {key.name}  {state}")


@keys.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    from fenghuo.api.routes.keys import key_audit

    store = open_store(get_settings())
    try:
        if not store.keys.revoke(key_id):
            _fail(f"no active key {key_id}")
        key = next(k for k in store.keys.list() if k.id == key_id)
        store.audit.append(key_audit("key.revoke", key, _CLI_ACTOR, Role.ADMIN.value))
    finally:
        store.close()
    click.echo(f"revoked {key_id}")


@main.command()
@click.option("-o", "--output", type=click.File("w"), default="-")
def schema(output: TextIO) -> None:
    """Print the JSON Schema of the `native` event format."""
    from fenghuo.model.schema import native_event_schema

    json.dump(native_event_schema(), output, indent=2, sort_keys=True)
    output.write("\n")


def _register_extensions() -> None:
    from fenghuo.detectors.baseline.command import train_command
    from fenghuo.simulate.cli import evaluate, simulate

    main.add_command(train_command)
    main.add_command(simulate)
    main.add_command(evaluate)
    from fenghuo.intel.stix.command import stix

    main.add_command(stix)
    from fenghuo.evidence.cli import archive_command  # `fenghuo archive`

    main.add_command(archive_command)
    from fenghuo.intel.push.cli import feed  # `fenghuo feed push|log` (fenghuo.intel.push)

    main.add_command(feed)
    from fenghuo.intel.collections_cli import collections  # `fenghuo collections ...`

    main.add_command(collections)


_register_extensions()


def run() -> None:
    try:
        main(standalone_mode=True)
    except FenghuoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
