"""`fenghuo parse` turns every shared sample into attributed events, with zero crashes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fenghuo.demo.samples import SAMPLE_SETS, SampleSet, demo_inventory_path, sample_files
from fenghuo.model import decode_event


def run_parse(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("fenghuo")
    return subprocess.run(
        [str(exe), "parse", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("sample_set", SAMPLE_SETS, ids=lambda s: s.format)
def test_every_sample_parses_and_is_attributed(samples: Path, sample_set: SampleSet) -> None:
    files = [p for s, p in sample_files(samples) if s is sample_set]
    assert files, f"no sample files for {sample_set}"
    fmt = sample_set
    host = ["--host", fmt.host_id] if fmt.host_id else []
    result = run_parse(
        "--format",
        fmt.format,
        "--inventory",
        str(demo_inventory_path()),
        *host,
        *map(str, files),
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    events = [decode_event(line) for line in result.stdout.splitlines()]
    assert events
    # Every event went through attribution: none is left pending.
    statuses = Counter(e.attribution for e in events)
    assert "pending" not in statuses
    summary = result.stderr.strip().splitlines()[-1]
    assert summary.startswith(f"{fmt.format}: {len(events)} events, ")
    # Every record error is reported with file and line.
    errors = result.stderr.strip().splitlines()[:-1]
    assert all(":" in line and fmt.format in line for line in errors)


def test_sample_attribution_facts(samples: Path) -> None:
    inv = str(demo_inventory_path())
    flows = run_parse("--format", "vpcflow", "--inventory", inv, str(samples / "vpcflow"))
    # A directory is not a file: a clear error, not a crash.
    assert flows.returncode != 0
    assert "no such file" in flows.stderr
    flows = run_parse(
        "--format", "vpcflow", "--inventory", inv, str(samples / "vpcflow" / "v5-custom.log")
    )
    first = json.loads(flows.stdout.splitlines()[0])
    assert (first["tenant_id"], first["related_tenant_ids"]) == ("acme", ["globex"])
    falco = run_parse(
        "--format", "falco", "--inventory", inv, str(samples / "falco" / "alerts.jsonl")
    )
    assert {json.loads(line)["tenant_id"] for line in falco.stdout.splitlines()} == {"acme"}
    trail = run_parse(
        "--format",
        "cloudtrail",
        "--inventory",
        inv,
        str(samples / "cloudtrail" / "stratus-aws.exfiltration.ec2-share-ami.json"),
    )
    share = json.loads(trail.stdout)
    # initech shares an image with an account of umbrella: both tenants are on the event.
    assert (share["tenant_id"], share["related_tenant_ids"]) == ("initech", ["umbrella"])


def test_without_inventory_events_stay_pending(samples: Path) -> None:
    result = run_parse("--format", "libvirt-events", str(samples / "libvirt" / "virsh-events.log"))
    assert result.returncode == 0
    assert {json.loads(line)["attribution"] for line in result.stdout.splitlines()} == {"pending"}


def test_unknown_format_is_a_usage_error() -> None:
    result = run_parse("--format", "syslog", "x")
    assert result.returncode == 2
    assert "syslog" in result.stderr
