"""`fenghuo stream --jobmanager HOST:PORT` on a real Flink 2.0 standalone cluster.

The cluster is PyFlink's own distribution (bin/start-cluster.sh: one JobManager and one
TaskManager, separate JVMs) with configuration, lib, log and pid folders of this test, random
ports, and `flink-python` moved into lib/ as every PyFlink cluster needs. The command submits the
job and returns; its alerts on the topic must equal replay's.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyflink
import pytest
import yaml

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.streaming.flink_env import python_path
from fenghuo.streaming.flush import publish_flush
from tests.streaming.scenario import comparable, scenario_config, scenario_events
from tests.streaming.support import (
    expected_replay,
    poll,
    publish,
    rest,
    running_job,
    wait_for_alerts,
    write_config,
)

pytestmark = pytest.mark.flink

FLINK_HOME = Path(pyflink.__file__).parent


@dataclass
class Cluster:
    rest_port: int
    env: dict[str, str]
    pid_dir: Path


def _overview(port: int) -> dict[str, Any]:
    try:
        result: dict[str, Any] = rest(port, "/overview")
    except OSError:
        return {}
    return result


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    conf, lib, log, pids = (tmp_path / name for name in ("conf", "lib", "log", "pids"))
    for folder in (conf, lib, log, pids):
        folder.mkdir()
    for item in (FLINK_HOME / "conf").iterdir():
        shutil.copy(item, conf / item.name)
    config = yaml.safe_load((conf / "config.yaml").read_text())
    port = free_port()
    config["jobmanager"]["rpc"]["port"] = free_port()
    config.setdefault("rest", {})["port"] = port
    (conf / "config.yaml").write_text(yaml.safe_dump(config))
    for jar in (FLINK_HOME / "lib").glob("*.jar"):
        (lib / jar.name).symlink_to(jar)
    for jar in (FLINK_HOME / "opt").glob("flink-python-*.jar"):
        (lib / jar.name).symlink_to(jar)
    env = {
        **os.environ,
        "FLINK_CONF_DIR": str(conf),
        "FLINK_LIB_DIR": str(lib),
        "FLINK_LOG_DIR": str(log),
        "FLINK_PID_DIR": str(pids),
        # The TaskManager's embedded interpreter (thread mode) imports pyflink and fenghuo.
        "PYTHONPATH": os.pathsep.join(python_path()),
    }
    bin_dir = FLINK_HOME / "bin"
    subprocess.run(["bash", str(bin_dir / "start-cluster.sh")], env=env, check=True, timeout=60)
    try:
        poll(
            "the cluster's TaskManager slot",
            lambda: _overview(port),
            lambda o: o.get("slots-available") == 1,
            timeout=60,
        )
        yield Cluster(port, env, pids)
    finally:
        subprocess.run(["bash", str(bin_dir / "stop-cluster.sh")], env=env, timeout=60)
        for pid_file in pids.glob("*.pid"):  # whatever stop-cluster.sh missed
            for pid in pid_file.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def cancel(port: int, job_id: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/jobs/{job_id}?mode=cancel", method="PATCH"
    )
    urllib.request.urlopen(request, timeout=10).close()


def test_submitted_to_a_cluster_the_job_gives_replays_alerts(
    broker: KafkaBroker, cluster: Cluster, tmp_path: Path
) -> None:
    topics = Topics(prefix=f"c{uuid.uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, topics)
    events = scenario_events()
    expected = expected_replay(events, instantiate(), scenario_config())
    publish(broker.bootstrap, topics, events)
    publish_flush(broker.bootstrap, topics)
    env = {
        **os.environ,
        "FENGHUO_DATA_DIR": str(tmp_path / "data"),
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
    }
    command = [
        str(Path(sys.executable).with_name("fenghuo")),
        "stream",
        "--jobmanager",
        f"127.0.0.1:{cluster.rest_port}",
        "--inventory",
        str(demo_inventory_path()),
        "--detection-config",
        str(write_config(scenario_config(), tmp_path / "detection.yaml")),
        "--bootstrap",
        broker.bootstrap,
        "--checkpoint-dir",
        (tmp_path / "checkpoints").as_uri(),
    ]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "submitted job" in done.stdout
    job_id = str(poll("the job on the cluster", lambda: running_job(cluster.rest_port), bool, 60))
    try:
        got = wait_for_alerts(broker.bootstrap, topics.alerts, expected.alerts, timeout=180)
        assert comparable(got) == comparable(expected.alerts)
    finally:
        cancel(cluster.rest_port, job_id)
