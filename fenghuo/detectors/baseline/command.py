"""`fenghuo train`: fit the anomalous-access-volume baseline on benign history files.

Wiring in `fenghuo/cli.py` (one line; the command imports scikit-learn only when it runs):

    from fenghuo.detectors.baseline.command import train_command
    main.add_command(train_command)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from fenghuo.detectors.baseline.features import DEFAULT_BUCKET
from fenghuo.detectors.baseline.model import BaselineError
from fenghuo.detectors.baseline.store import TrainReport, train_baseline
from fenghuo.errors import FenghuoError
from fenghuo.ingest.parsers import FORMATS, RecordError, raw_lines
from fenghuo.model import Event


@dataclass
class ParseCounts:
    records: int = 0
    errors: int = 0


def parse_inputs(
    inputs: Sequence[tuple[str, Path]], inventory_path: Path, counts: ParseCounts
) -> Iterator[Event]:
    """Attributed events of `(format, path)` files, as `fenghuo parse --inventory` gives them;
    record errors are counted, never fatal."""
    from fenghuo.ingest.normalise import Normaliser
    from fenghuo.inventory import InventoryStore

    normaliser = Normaliser(InventoryStore(inventory_path))
    for format_name, path in inputs:
        with path.open(encoding="utf-8", errors="backslashreplace") as handle:
            for result in normaliser.stream(format_name, raw_lines(str(path), handle)):
                if isinstance(result, RecordError):
                    counts.errors += 1
                else:
                    counts.records += 1
                    yield result


def train_from_files(
    inputs: Sequence[tuple[str, Path]],
    out: Path,
    *,
    inventory_path: Path,
    seed: int = 0,
    bucket: dt.timedelta = DEFAULT_BUCKET,
) -> tuple[TrainReport, ParseCounts]:
    """Parse, attribute and train: what `fenghuo train` does, callable without click."""
    from fenghuo.inventory import InventoryStore

    counts = ParseCounts()
    index = InventoryStore(inventory_path).current()
    events = parse_inputs(inputs, inventory_path, counts)
    report = train_baseline(events, out, inventory=index, bucket=bucket, seed=seed)
    return report, counts


def _input_spec(value: str) -> tuple[str, Path]:
    format_name, sep, path = value.partition(":")
    if not sep or format_name not in FORMATS:
        msg = f"--input must be FORMAT:PATH with FORMAT one of {', '.join(FORMATS)}: {value!r}"
        raise click.BadParameter(msg)
    if not Path(path).is_file():
        msg = f"no such file: {path}"
        raise click.BadParameter(msg)
    return format_name, Path(path)


@click.command("train")
@click.option(
    "--inventory",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="inventory YAML: whose accounts, addresses and VMs",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    required=True,
    help="benign history as FORMAT:PATH (cloudtrail or native), repeatable",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="model file to write (the detector setting model_path)",
)
@click.option("--seed", type=int, default=0, show_default=True, help="IsolationForest seed")
@click.option("--bucket-minutes", type=click.IntRange(1, 1440), default=5, show_default=True)
def train_command(
    inventory: Path, inputs: tuple[str, ...], out: Path, seed: int, bucket_minutes: int
) -> None:
    """Learn per-tenant API behaviour baselines from benign history (anomalous-access-volume)."""
    specs = [_input_spec(value) for value in inputs]
    try:
        report, counts = train_from_files(
            specs,
            out,
            inventory_path=inventory,
            seed=seed,
            bucket=dt.timedelta(minutes=bucket_minutes),
        )
    except (BaselineError, FenghuoError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines():
        click.echo(line)
    click.echo(f"{counts.records} events parsed, {counts.errors} record errors", err=True)
