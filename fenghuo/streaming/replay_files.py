"""`fenghuo replay`: files in, alerts out, through the same normalisation and detectors as the
stream job, bounded and without Kafka; with `--incidents`, the correlator's incidents too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fenghuo.detectors.config import DetectionConfig, load_detection_config
from fenghuo.detectors.engine import DetectionEngine
from fenghuo.detectors.registry import instantiate
from fenghuo.errors import ConfigError
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import FORMATS, RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model import Event
from fenghuo.model.alert import encode_alert
from fenghuo.model.incident import Incident, encode_incident
from fenghuo.streaming.replay import ReplayResult, replay


@dataclass(frozen=True)
class InputSpec:
    format: str
    path: Path
    host_id: str | None = None

    @classmethod
    def parse(cls, text: str) -> InputSpec:
        """`FORMAT:PATH` or `FORMAT@HOST:PATH` (the host for formats that do not name one)."""
        head, sep, path = text.partition(":")
        fmt, _, host = head.partition("@")
        if not sep or not path or fmt not in FORMATS:
            msg = f"--input {text!r}: expected FORMAT[@HOST]:PATH with FORMAT one of {FORMATS}"
            raise ConfigError(msg)
        return cls(fmt, Path(path), host or None)


@dataclass
class ReplayOutcome:
    result: ReplayResult
    record_errors: list[RecordError]
    incidents: list[Incident] | None = None  # with `incidents_out`: the correlator's incidents


def read_events(
    specs: Iterable[InputSpec], normaliser: Normaliser, errors: list[RecordError]
) -> Iterator[Event]:
    for spec in specs:
        if not spec.path.is_file():
            msg = f"no such input file: {spec.path}"
            raise ConfigError(msg)
        with spec.path.open(encoding="utf-8", errors="backslashreplace") as handle:
            for result in normaliser.stream(
                spec.format, raw_lines(str(spec.path), handle), spec.host_id
            ):
                if isinstance(result, RecordError):
                    errors.append(result)
                else:
                    yield result


def run_replay(
    inventory: Path,
    specs: Sequence[InputSpec],
    out: Path,
    *,
    detection_config: Path | None = None,
    detector_ids: Sequence[str] | None = None,
    incidents_out: Path | None = None,
) -> ReplayOutcome:
    store = InventoryStore(inventory)
    config = load_detection_config(detection_config) if detection_config else DetectionConfig()
    engine = DetectionEngine(instantiate(detector_ids), store.current, config)
    errors: list[RecordError] = []
    result = replay(read_events(specs, Normaliser(store), errors), engine)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as handle:
        for alert in result.alerts:
            handle.write(encode_alert(alert) + b"\n")
    if incidents_out is None:
        return ReplayOutcome(result, errors)
    from fenghuo.graph import correlate  # networkx only when incidents are asked for

    incidents = correlate(result.alerts, store.current())
    incidents_out.parent.mkdir(parents=True, exist_ok=True)
    with incidents_out.open("wb") as handle:
        for incident in incidents:
            handle.write(encode_incident(incident) + b"\n")
    return ReplayOutcome(result, errors, incidents)
