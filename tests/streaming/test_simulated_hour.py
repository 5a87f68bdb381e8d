"""A simulated hour with every kind of attack, through the commands an operator runs.

`fenghuo simulate` writes six benign hours (training history) and the labelled hour of the same
cloud; `fenghuo train` learns the tenants' baselines from the history; `fenghuo replay` runs every
detector over the hour's files; `fenghuo ingest` publishes the same files to the embedded broker
and `fenghuo stream` runs the Flink job on them. Both runs must catch every attack with the
detector meant for it, raise no false positive of medium or above, and give the same alerts
(on the topic and in the store).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from fenghuo.evaluate import EvaluationReport, run_evaluate
from fenghuo.ingest.kafka.broker import KafkaBroker, free_port
from fenghuo.ingest.kafka.topics import Topics, ensure_topics
from fenghuo.model.alert import Alert, decode_alert, encode_alert
from fenghuo.simulate.labels import load_labels
from fenghuo.store.alerts import AlertStore
from fenghuo.streaming.child import StreamJobProcess
from fenghuo.streaming.flush import publish_flush
from tests.streaming.scenario import comparable
from tests.streaming.support import wait_for_alerts

pytestmark = pytest.mark.flink

FENGHUO = str(Path(sys.executable).with_name("fenghuo"))


@dataclass
class Hour:
    root: Path  # the simulated hour: files, inventory.yaml, labels.json, manifest.json
    replay: list[Alert]
    replay_report: EvaluationReport
    topic: list[Alert]
    store: list[Alert]
    topic_report: EvaluationReport


def fenghuo(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [FENGHUO, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"fenghuo {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout


def manifest(root: Path) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = json.loads((root / "manifest.json").read_text())
    return [e for e in entries if e["events"]]


def ingest_commands(root: Path) -> list[list[str]]:
    """One `fenghuo ingest` per format, or per file where the format names no host."""
    by_format: dict[str, list[str]] = defaultdict(list)
    commands = []
    for entry in manifest(root):
        path = str(root / str(entry["path"]))
        if entry["host"] is None:
            by_format[str(entry["format"])].append(path)
        else:
            commands.append(["--format", str(entry["format"]), "--host", str(entry["host"]), path])
    commands += [["--format", fmt, *paths] for fmt, paths in by_format.items()]
    return commands


def score(alerts: list[Alert], root: Path, path: Path) -> EvaluationReport:
    path.write_bytes(b"".join(encode_alert(a) + b"\n" for a in alerts))
    return run_evaluate(path, root / "labels.json")


@pytest.fixture(scope="module")
def hour(broker: KafkaBroker, tmp_path_factory: pytest.TempPathFactory) -> Hour:
    tmp = tmp_path_factory.mktemp("hour")
    history, root = tmp / "history", tmp / "hour"
    fenghuo("simulate", "--out", str(history), "--duration", "6h", "--attack-rounds", "0",
            "--start", "2026-01-04T00:00:00Z")  # fmt: skip
    model = tmp / "baseline.fhm"
    fenghuo("train", "--inventory", str(history / "inventory.yaml"),
            "--input", f"cloudtrail:{history / 'cloudtrail' / 'records.jsonl'}",
            "--out", str(model))  # fmt: skip
    fenghuo("simulate", "--out", str(root))  # the default hour: seed 7, every attack kind
    config = tmp / "detection.yaml"
    config.write_text(f"settings:\n  anomalous-access-volume:\n    model_path: {model}\n")
    inventory = str(root / "inventory.yaml")

    inputs = [
        f"--input={e['format']}{'@' + str(e['host']) if e['host'] else ''}:{root / str(e['path'])}"
        for e in manifest(root)
    ]
    fenghuo("replay", "--inventory", inventory, "--detection-config", str(config), *inputs,
            "--out", str(tmp / "replay.jsonl"))  # fmt: skip
    lines = (tmp / "replay.jsonl").read_bytes().splitlines()
    replayed = list({a.id: a for a in map(decode_alert, lines)}.values())  # the last version

    topics = Topics(prefix=f"h{uuid.uuid4().hex[:8]}.")
    ensure_topics(broker.bootstrap, topics)
    env = {
        **os.environ,
        "FENGHUO_TOPIC_PREFIX": topics.prefix,
        "FENGHUO_DATA_DIR": str(tmp / "var"),
        "FENGHUO_STREAM_REST_PORT": str(free_port()),
    }
    for command in ingest_commands(root):
        fenghuo("ingest", "--inventory", inventory, "--bootstrap", broker.bootstrap, *command,
                env=env)  # fmt: skip
    publish_flush(broker.bootstrap, topics)  # the hour is bounded: let every window close
    job = StreamJobProcess(
        ["--inventory", inventory, "--detection-config", str(config),
         "--bootstrap", broker.bootstrap, "--checkpoint-dir", str(tmp / "checkpoints")],
        tmp / "stream.log",
        env=env,
    )  # fmt: skip
    job.start()
    try:
        topic = wait_for_alerts(broker.bootstrap, topics.alerts, replayed, timeout=300)
        store = AlertStore(tmp / "var" / "fenghuo.db")
        stored = store.all()
        store.close()
    finally:
        assert job.stop() == 0, job.tail()
    return Hour(
        root=root,
        replay=replayed,
        replay_report=run_evaluate(tmp / "replay.jsonl", root / "labels.json"),
        topic=topic,
        store=stored,
        topic_report=score(topic, root, tmp / "topic.jsonl"),
    )


def test_every_attack_kind_is_in_the_hour(hour: Hour) -> None:
    kinds = {label.kind for label in load_labels(hour.root / "labels.json")}
    assert kinds == {
        "vm_escape", "vmm_seccomp", "vmm_crash_series", "cross_vm_access", "container_escape",
        "cross_tenant_flow", "cross_tenant_sharing", "credential_misuse", "anomalous_access",
        "co_residency_probing",
    }  # fmt: skip


@pytest.mark.parametrize("run", ["replay", "stream"])
def test_recall_is_one_by_the_intended_detector_with_no_false_positive(
    hour: Hour, run: str
) -> None:
    report = hour.replay_report if run == "replay" else hour.topic_report
    assert report.recall == 1.0, [a.id for a in report.missed]
    assert report.detected_as_intended == len(report.attacks)
    assert report.false_positive_alerts == []
    assert report.input_events == sum(int(str(e["events"])) for e in manifest(hour.root))


def test_the_stream_job_gives_replays_alerts(hour: Hour) -> None:
    assert comparable(hour.topic) == comparable(hour.replay)
    assert comparable(hour.store) == comparable(hour.replay)
