"""The parity scenario: every registered detector's case events plus the shared samples,
parsed and attributed against the demo inventory exactly as ingest does."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from fenghuo.demo.samples import sample_files
from fenghuo.detectors.config import DetectionConfig
from fenghuo.detectors.registry import all_detectors
from fenghuo.detectors.testing import FIXED_NOW, case_events, demo_inventory
from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.model import Event
from fenghuo.model.alert import Alert

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"


@cache
def scenario_events() -> tuple[Event, ...]:
    events: list[Event] = []
    for cls in all_detectors().values():
        for case in cls.cases:
            events.extend(case_events(case))
    normaliser = Normaliser(demo_inventory(), clock=lambda: FIXED_NOW)
    for sample_set, path in sample_files(SAMPLES):
        with path.open(encoding="utf-8", errors="backslashreplace") as handle:
            for result in normaliser.stream(
                sample_set.format, raw_lines(str(path), handle), sample_set.host_id
            ):
                if not isinstance(result, RecordError):
                    events.append(result)
    return tuple(sorted(events, key=lambda e: (e.event_time, e.id)))


def scenario_settings() -> dict[str, dict[str, Any]]:
    """Per-detector settings for the scenario: the first case setting of each detector that
    needs one to be active (the anomaly detector's inline baseline)."""
    settings: dict[str, dict[str, Any]] = {}
    for detector_id, cls in all_detectors().items():
        for case in cls.cases:
            if "baseline" in case.settings:
                settings[detector_id] = {"baseline": case.settings["baseline"]}
                break
    return settings


def scenario_config() -> DetectionConfig:
    return DetectionConfig(settings=scenario_settings())


def comparable(alerts: list[Alert]) -> list[dict[str, Any]]:
    """Alerts as plain dicts without the processing time, ordered by id."""
    import msgspec

    out = []
    for alert in sorted(alerts, key=lambda a: a.id):
        doc = msgspec.to_builtins(alert)
        doc.pop("detected_at")
        out.append(doc)
    return out
