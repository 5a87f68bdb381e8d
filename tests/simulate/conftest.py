"""One simulated run shared by the simulate tests (generation takes about a second)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from fenghuo.ingest.normalise import Normaliser
from fenghuo.ingest.parsers import RecordError, raw_lines
from fenghuo.inventory import InventoryStore
from fenghuo.model import Event
from fenghuo.simulate import SimulationConfig, SimulationResult, run_simulate

# Short but complete: every attack scenario fits, every benign behaviour has room.
CONFIG = SimulationConfig(seed=11, duration=dt.timedelta(minutes=40), rate=4.0)


@pytest.fixture(scope="session")
def simulation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationResult]:
    out = tmp_path_factory.mktemp("simulation")
    return out, run_simulate(CONFIG, out)


def parse_simulation(root: Path) -> tuple[list[tuple[dict[str, object], Event]], list[RecordError]]:
    """Every file of the manifest through the real parsers and attribution."""
    normaliser = Normaliser(InventoryStore(root / "inventory.yaml"))
    events: list[tuple[dict[str, object], Event]] = []
    errors: list[RecordError] = []
    for entry in json.loads((root / "manifest.json").read_text()):
        host = entry["host"] if entry["format"] == "libvirt-events" else None
        with (root / entry["path"]).open(encoding="utf-8") as handle:
            for result in normaliser.stream(
                entry["format"], raw_lines(entry["path"], handle), host
            ):
                if isinstance(result, RecordError):
                    errors.append(result)
                else:
                    events.append((entry, result))
    return events, errors
