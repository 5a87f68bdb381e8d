"""The shared real-format samples as a demo data set: which files, in which format, from which
host. The samples sit beside the project (`../shared/samples`); they are never copied into it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class SampleSet:
    pattern: str  # glob below the samples folder
    format: str
    host_id: str | None  # the host the files are said to come from, when the format lacks it


SAMPLE_SETS: tuple[SampleSet, ...] = (
    # go-libaudit's test logs come from unnamed hosts; the demo files them under hv-01.
    SampleSet("auditd/*.log", "auditd", "hv-01"),
    SampleSet("libvirt/*.log", "libvirt-events", "hv-01"),
    SampleSet("falco/*.jsonl", "falco", None),
    SampleSet("cloudtrail/*.json", "cloudtrail", None),
    SampleSet("vpcflow/*.log", "vpcflow", None),
)


def demo_inventory_path() -> Path:
    return Path(str(resources.files("fenghuo.demo").joinpath("inventory.yaml")))


def default_samples_dir() -> Path | None:
    """FENGHUO_SAMPLES_DIR, else `../shared/samples` from the working directory or the checkout."""
    candidates = []
    if env := os.environ.get("FENGHUO_SAMPLES_DIR"):
        candidates.append(Path(env))
    candidates.append(Path.cwd().parent / "shared" / "samples")
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "samples")
    return next((c for c in candidates if c.is_dir()), None)


def sample_files(root: Path) -> list[tuple[SampleSet, Path]]:
    return [(s, path) for s in SAMPLE_SETS for path in sorted(root.glob(s.pattern))]
