"""Shared fixtures of the intel tests (STIX export, TAXII server, reports, push).

`hour` is the simulated hour (seed 7: six tenants, every attack kind, cross-tenant incidents)
replayed once per session to alerts and incidents; its inventory is `hour.root / "inventory.yaml"`.
Session-scoped because the replay takes seconds and every intel test only reads it.
"""

from __future__ import annotations

import pytest

from tests.api.seeded import Hour, replay_hour


@pytest.fixture(scope="session")
def hour(tmp_path_factory: pytest.TempPathFactory) -> Hour:
    return replay_hour(tmp_path_factory.mktemp("intel-hour"))
