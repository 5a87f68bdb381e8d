"""The `simulate` and `evaluate` commands; the main group adds them with `main.add_command`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from fenghuo.simulate.config import (
    DEFAULT_START,
    SimulationConfig,
    SimulationConfigError,
    parse_duration,
)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> dt.timedelta:
    try:
        return parse_duration(value)
    except SimulationConfigError as exc:
        raise click.BadParameter(str(exc)) from None


def _start(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        msg = f"not an RFC 3339 time: {value!r}"
        raise click.BadParameter(msg) from None
    if parsed.tzinfo is None:
        msg = "the start time needs a UTC offset (e.g. 2026-01-05T10:00:00Z)"
        raise click.BadParameter(msg)
    return parsed.astimezone(dt.UTC)


@click.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="write files here (inventory.yaml, labels.json, manifest.json, one file per "
    "format and host)",
)
@click.option(
    "--kafka",
    "bootstrap",
    help="publish live through the ingest pipeline to this Kafka bootstrap server instead "
    "(with --out: the inventory is written there at once, the labels when the stream ends)",
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option(
    "--duration",
    default="1h",
    show_default=True,
    callback=_duration,
    help="simulated time span, e.g. 30m, 1h, 1h30m",
)
@click.option(
    "--rate",
    type=float,
    default=10.0,
    show_default=True,
    help="events per second (of simulated time for files; of wall-clock time for --kafka)",
)
@click.option(
    "--start",
    callback=_start,
    help="first event time, RFC 3339 (default 2026-01-05T10:00:00Z for files, now for --kafka)",
)
@click.option("--tenants", type=int, default=6, show_default=True)
@click.option("--hosts", type=int, default=8, show_default=True)
@click.option("--vms", type=int, default=40, show_default=True)
@click.option(
    "--attack-rounds",
    type=int,
    default=1,
    show_default=True,
    help="how many times every attack scenario is played (0: benign only)",
)
@click.option("--loop", is_flag=True, help="with --kafka: go on past --duration until Ctrl-C")
def simulate(
    out: Path | None,
    bootstrap: str | None,
    seed: int,
    duration: dt.timedelta,
    rate: float,
    start: dt.datetime | None,
    tenants: int,
    hosts: int,
    vms: int,
    attack_rounds: int,
    loop: bool,
) -> None:
    """Generate multi-tenant cloud telemetry in the real formats, with labelled attacks."""
    from fenghuo.simulate import run_simulate

    if out is None and bootstrap is None:
        msg = "give --out DIR, --kafka BOOTSTRAP, or both"
        raise click.UsageError(msg)
    if start is None:
        start = (
            DEFAULT_START if bootstrap is None else dt.datetime.now(dt.UTC).replace(microsecond=0)
        )
    try:
        config = SimulationConfig(
            seed=seed,
            start=start,
            duration=duration,
            rate=rate,
            tenants=tenants,
            hosts=hosts,
            vms=vms,
            attack_rounds=attack_rounds,
        )
    except SimulationConfigError as exc:
        raise click.UsageError(str(exc)) from None
    if bootstrap is None:
        assert out is not None
        result = run_simulate(config, out)
        world = result.world
        click.echo(
            f"simulated {len(world.tenants)} tenants, {len(world.hosts)} hosts, "
            f"{len(world.vms())} VMs from {config.start:%Y-%m-%dT%H:%M:%SZ} for {duration}: "
            f"{result.events} events, {len(result.labels)} labelled attacks in {out}"
        )
        inputs = " ".join(f"--input {e.replay_input(out)}" for e in result.manifest if e.events)
        click.echo(
            f"replay: fenghuo replay --inventory {out / 'inventory.yaml'} {inputs} "
            f"--out {out / 'alerts.jsonl'}"
        )
        click.echo(
            f"score:  fenghuo evaluate --alerts {out / 'alerts.jsonl'} "
            f"--labels {out / 'labels.json'}"
        )
        return
    _stream(config, bootstrap, out, loop)


def _stream(config: SimulationConfig, bootstrap: str, out: Path | None, loop: bool) -> None:
    from fenghuo.ingest.kafka.producer import Publisher
    from fenghuo.ingest.kafka.topics import Topics, ensure_configured_topics
    from fenghuo.ingest.normalise import Normaliser
    from fenghuo.ingest.pipeline import Ingestor
    from fenghuo.inventory import InventoryStore, parse_inventory
    from fenghuo.settings import get_settings
    from fenghuo.simulate.generate import create_world
    from fenghuo.simulate.labels import encode_labels
    from fenghuo.simulate.stream import LiveSimulation

    settings = get_settings()
    world = create_world(config)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "inventory.yaml").write_text(world.inventory_yaml(), encoding="utf-8")
    topics = Topics(settings.topic_prefix)
    ensure_configured_topics(bootstrap, topics, settings)
    inventory = InventoryStore.fixed(parse_inventory(world.inventory_yaml()))
    with Publisher(
        bootstrap, client_id="fenghuo-simulate", delivery_timeout=settings.kafka_timeout_s
    ) as publisher:
        ingestor = Ingestor(
            Normaliser(inventory), publisher, topics, timeout=settings.kafka_timeout_s + 2
        )
        live = LiveSimulation(world, ingestor, config.rate, loop=loop)
        live.start()
        click.echo(f"publishing to {bootstrap} at {config.rate:g} events/s (Ctrl-C stops)")
        try:
            while not live.done.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        report = live.stop()
    if report is None:
        msg = f"the simulation stream failed: {live.error}"
        raise click.ClickException(msg)
    if out is not None:
        (out / "labels.json").write_text(encode_labels(report.labels), encoding="utf-8")
    click.echo(
        f"published {report.published} events ({report.dead_lettered} dead-lettered, "
        f"{report.unattributed} unattributed) in {report.elapsed:.1f} s; "
        f"{len(report.labels)} labelled attacks"
    )


@click.command()
@click.option(
    "--alerts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="alerts as JSON lines (fenghuo replay --out)",
)
@click.option(
    "--labels",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="labels.json of the simulation",
)
@click.option("--events", type=int, help="input event count (default: from the manifest)")
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="manifest.json giving the input event count (default: beside the labels)",
)
@click.option("--json", "as_json", is_flag=True, help="print the report as JSON")
def evaluate(
    alerts: Path, labels: Path, events: int | None, manifest: Path | None, as_json: bool
) -> None:
    """Score alerts against labelled attacks: recall, precision, false positives."""
    from fenghuo.evaluate import format_report, run_evaluate

    report = run_evaluate(alerts, labels, events=events, manifest_path=manifest)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        click.echo(format_report(report))
