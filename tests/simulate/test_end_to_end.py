"""The simulation through the real pipeline: parsed, attributed and replayed through every
registered detector, then scored. Every attack is caught by the detector meant for it (save
anomalous-access-volume, which stays inactive until `fenghuo train` gives it a baseline) and the
benign background raises nothing of medium severity or above."""

from __future__ import annotations

import json
from pathlib import Path

from fenghuo.evaluate import run_evaluate
from fenghuo.simulate import SimulationResult
from fenghuo.streaming.replay_files import InputSpec, run_replay

Simulation = tuple[Path, SimulationResult]
NEEDS_TRAINING = {"anomalous_access"}


def test_replayed_simulation_scores(simulation: Simulation, tmp_path: Path) -> None:
    root, result = simulation
    specs = [
        InputSpec(e["format"], root / e["path"], e["host"])
        for e in json.loads((root / "manifest.json").read_text())
        if e["events"]
    ]
    alerts = tmp_path / "alerts.jsonl"
    outcome = run_replay(root / "inventory.yaml", specs, alerts)
    assert outcome.record_errors == []
    assert outcome.result.events == result.events
    assert sum(outcome.result.failures.values()) == 0
    report = run_evaluate(alerts, root / "labels.json")
    assert report.input_events == result.events
    assert report.false_positive_alerts == []
    for label in result.labels:
        if label.kind not in NEEDS_TRAINING:
            assert report.intended(label), (label.id, label.kind, label.variant)
    assert report.recall is not None
    assert report.recall >= 0.9
