"""Shared fixtures. The embedded broker fixtures live in tests/fixtures_kafka.py, the search
node's in tests/fixtures_search.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The public real-format samples sit beside the project (../shared/samples), never copied into it.
SAMPLES = REPO.parent / "shared" / "samples"

pytest_plugins = ["tests.fixtures_kafka", "tests.fixtures_ingest", "tests.fixtures_search"]


@pytest.fixture(scope="session")
def samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"the shared samples are missing: expected them at {SAMPLES}")
    return SAMPLES
