"""The compose stack's detection job, run the way its JobManager runs it, outside a container:
Flink's application mode (`standalone-job --pyModule fenghuo.streaming.job`) plus one
TaskManager, with compose's FLINK_PROPERTIES, the connector jars and flink-python in lib/ as
the Flink image has them (the connector named again by the job's pipeline.jars), and the
settings from FENGHUO_* variables only. Its alerts on the topic must equal replay's.

The Flink distribution is PyFlink's own (the same Flink 2.0.2 as the image's base), with this
test's conf, lib, log and pid folders and free ports; only what must differ on loopback is
changed from compose's properties (addresses, ports, memory, the Python, the checkpoint path).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyflink
import pytest
import yaml

from fenghuo.demo.samples import demo_inventory_path
from fenghuo.detectors.registry import instantiate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.store.base import Scope
from fenghuo.store.elastic import ElasticStore
from fenghuo.streaming.flink_env import kafka_jars, python_path
from fenghuo.streaming.flush import publish_flush
from tests.deploy import manifests as m
from tests.fixtures_search import search_url
from tests.store.backends import fresh_prefix
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


def compose_flink_properties() -> dict[str, str]:
    env = m.compose_env(m.compose()["services"]["jobmanager"])
    return dict(line.split(": ", 1) for line in env["FLINK_PROPERTIES"].splitlines() if line)


def nest(config: dict[str, Any], flat: Mapping[str, str]) -> dict[str, Any]:
    """Merge flat `a.b.c: v` keys into Flink's nested config.yaml mapping."""
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                msg = f"{key}: {part} is already a value in the configuration"
                raise TypeError(msg)
            node = child
        node[leaf] = value
    return config


def _kill_all(pids: Path) -> None:
    for pid_file in pids.glob("*"):
        with contextlib.suppress(ValueError, OSError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGKILL)


@pytest.fixture
def application(broker: KafkaBroker, tmp_path: Path) -> Iterator[tuple[Topics, int, str]]:
    topics = Topics(prefix=f"a{uuid.uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, topics)
    conf, lib, log, pids = (tmp_path / name for name in ("conf", "lib", "log", "pids"))
    for folder in (conf, lib, log, pids):
        folder.mkdir()
    for item in (FLINK_HOME / "conf").iterdir():
        shutil.copy(item, conf / item.name)
    for jar in (FLINK_HOME / "lib").glob("*.jar"):
        (lib / jar.name).symlink_to(jar)
    # As the Flink image has them: the connector jars and flink-python in lib/.
    for jar in kafka_jars():
        shutil.copyfile(jar, lib / jar.name)
    for jar in (FLINK_HOME / "opt").glob("flink-python-*.jar"):
        (lib / jar.name).symlink_to(jar)
    rest_port = free_port()
    properties = compose_flink_properties() | {
        "jobmanager.rpc.address": "localhost",
        "jobmanager.rpc.port": str(free_port()),
        "rest.port": str(rest_port),
        "rest.address": "localhost",
        "jobmanager.bind-host": "localhost",
        "taskmanager.bind-host": "localhost",
        "taskmanager.host": "localhost",
        "jobmanager.memory.process.size": "1024m",
        "taskmanager.memory.process.size": "1536m",
        "taskmanager.memory.task.off-heap.size": "256m",
        "python.client.executable": sys.executable,
        "python.executable": sys.executable,
        "execution.checkpointing.dir": (tmp_path / "checkpoints").as_uri(),
    }
    config = yaml.safe_load((conf / "config.yaml").read_text(encoding="utf-8"))
    (conf / "config.yaml").write_text(yaml.safe_dump(nest(config, properties)), encoding="utf-8")
    detection = write_config(scenario_config(), tmp_path / "detection.yaml")
    prefix = fresh_prefix()
    env = {
        **os.environ,
        "FLINK_CONF_DIR": str(conf),
        "FLINK_LIB_DIR": str(lib),
        "FLINK_LOG_DIR": str(log),
        "FLINK_PID_DIR": str(pids),
        "PYTHONPATH": os.pathsep.join(python_path()),
        # The job's settings, as compose gives them (only FENGHUO_* variables).
        "FENGHUO_ENVIRONMENT": "production",
        "FENGHUO_PSEUDONYM_KEY": m.STAND_IN_SECRET,
        "FENGHUO_KAFKA_BOOTSTRAP": broker.bootstrap,
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
        "FENGHUO_INVENTORY": str(demo_inventory_path()),
        "FENGHUO_DETECTION_CONFIG": str(detection),
        "FENGHUO_STREAM_PARALLELISM": "1",
        "FENGHUO_STREAM_CHECKPOINT_DIR": properties["execution.checkpointing.dir"],
        "FENGHUO_FLINK_PYTHON": sys.executable,
        "FENGHUO_DATA_DIR": str(tmp_path / "data"),
        # The store is a search server, as in compose: the job writes alerts into it too.
        "FENGHUO_STORE": "opensearch",
        "FENGHUO_OPENSEARCH_URL": search_url(),
        "FENGHUO_ES_INDEX_PREFIX": prefix,
    }
    bin_dir = FLINK_HOME / "bin"
    command = m.compose()["services"]["jobmanager"]["command"]
    assert command[0] == "standalone-job"
    processes = [
        subprocess.Popen(
            ["bash", str(bin_dir / "standalone-job.sh"), "start-foreground", *command[1:]],
            env=env,
            cwd=tmp_path,
            stdout=(log / "jobmanager.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            ["bash", str(bin_dir / "taskmanager.sh"), "start-foreground"],
            env=env,
            cwd=tmp_path,
            stdout=(log / "taskmanager.out").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:
        yield topics, rest_port, prefix
    except BaseException:
        for out in sorted(log.glob("*")):
            sys.stderr.write(f"==> {out.name}\n{out.read_text(errors='replace')[-4000:]}\n")
        raise
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        _kill_all(pids)


def test_compose_jobmanager_command_runs_the_job_in_application_mode(
    broker: KafkaBroker, application: tuple[Topics, int, str]
) -> None:
    topics, rest_port, prefix = application
    events = scenario_events()
    expected = expected_replay(events, instantiate(), scenario_config())
    job_id = poll("the application's job", lambda: running_job(rest_port), bool, 180)
    assert rest(rest_port, f"/jobs/{job_id}")["name"] == "fenghuo-stream"
    publish(broker.bootstrap, topics, events)
    publish_flush(broker.bootstrap, topics)
    got = wait_for_alerts(broker.bootstrap, topics.alerts, expected.alerts, timeout=180)
    assert comparable(got) == comparable(expected.alerts)
    assert expected.alerts  # the scenario raises alerts: equality is not vacuous
    # ... and the job wrote them into the search store (its store writer runs on a cluster when
    # the store is a server every TaskManager reaches).
    store = ElasticStore.connect(search_url(), prefix=prefix, flavour="opensearch")
    try:
        want = {a.id for a in expected.alerts}
        stored = poll(
            "the alerts in OpenSearch", lambda: _stored_ids(store, prefix), want.__eq__, 120
        )
        assert stored == want
    finally:
        store.drop()
        store.close()


def _stored_ids(store: ElasticStore, prefix: str) -> set[str]:
    store.client.indices.refresh(index=f"{prefix}*")  # what the job wrote, visible now
    return {v.alert.id for v in store.alerts.list(Scope.everything(), limit=500).items}


def test_nest_merges_flat_keys_and_refuses_a_collision() -> None:
    config: dict[str, Any] = {"jobmanager": {"rpc": {"port": 6123}}}
    nest(config, {"jobmanager.rpc.address": "localhost", "python.executable": "/p"})
    assert config == {
        "jobmanager": {"rpc": {"port": 6123, "address": "localhost"}},
        "python": {"executable": "/p"},
    }
    with pytest.raises(TypeError, match="already a value"):
        nest(config, {"python.executable.x": "y"})
