"""`fenghuo simulate` on the command line (the click command the main group adds)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fenghuo.simulate.cli import simulate


def test_simulate_to_files(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    args = ["--out", str(out), "--seed", "2", "--duration", "10m", "--rate", "2"]
    result = CliRunner().invoke(simulate, [*args, "--tenants", "4", "--hosts", "3", "--vms", "9"])
    assert result.exit_code == 0, result.output
    assert "labelled attacks" in result.output
    replay = next(line for line in result.output.splitlines() if line.startswith("replay:"))
    assert "--input libvirt-events@hv-01:" in replay
    assert "--input auditd:" in replay
    manifest = json.loads((out / "manifest.json").read_text())
    assert sum(e["events"] for e in manifest) > 0
    labels = json.loads((out / "labels.json").read_text())
    assert labels["attacks"]
    assert labels["simulation"]["seed"] == 2
    assert (out / "inventory.yaml").is_file()


def test_simulate_needs_a_destination_and_valid_options(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(simulate, []).exit_code == 2
    bad = runner.invoke(simulate, ["--out", str(tmp_path), "--duration", "soon"])
    assert bad.exit_code == 2
    assert "not a duration" in bad.output
    naive = runner.invoke(simulate, ["--out", str(tmp_path), "--start", "2026-01-05T10:00:00"])
    assert naive.exit_code == 2
    assert "UTC offset" in naive.output
    small = runner.invoke(simulate, ["--out", str(tmp_path), "--tenants", "2"])
    assert small.exit_code == 2
    assert "tenants must be between" in small.output
