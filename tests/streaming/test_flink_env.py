"""The job's Flink configuration and checkpoint discovery (no JVM)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from fenghuo.errors import ConfigError
from fenghuo.streaming.flink_env import (
    FlinkOptions,
    configuration,
    latest_checkpoint,
    python_path,
    restore_path,
)

JOB_A = "a" * 32
JOB_B = "b" * 32


def checkpoint(root: Path, job: str, number: int, mtime: float, complete: bool = True) -> Path:
    chk = root / job / f"chk-{number}"
    chk.mkdir(parents=True)
    if complete:
        (chk / "_metadata").write_bytes(b"metadata")
        os.utime(chk / "_metadata", (mtime, mtime))
    return chk


def test_latest_checkpoint_is_the_newest_completed_one(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path / "missing") is None
    checkpoint(tmp_path, JOB_A, 7, 1000)
    newest = checkpoint(tmp_path, JOB_B, 2, 2000)
    checkpoint(tmp_path, JOB_B, 3, 3000, complete=False)  # in progress when the job died
    (tmp_path / JOB_B / "shared").mkdir()
    assert latest_checkpoint(tmp_path) == newest


def test_restore_picks_the_newest_and_prunes_older_jobs(tmp_path: Path) -> None:
    checkpoint(tmp_path, JOB_A, 7, 1000)
    newest = checkpoint(tmp_path, JOB_B, 2, 2000)
    assert restore_path(FlinkOptions(checkpoint_dir=tmp_path)) == newest.as_uri()
    assert not (tmp_path / JOB_A).exists()
    assert restore_path(FlinkOptions(checkpoint_dir=tmp_path, auto_restore=False)) is None
    assert restore_path(FlinkOptions(checkpoint_dir="s3://bucket/ckpt")) is None
    explicit = FlinkOptions(checkpoint_dir=tmp_path, restore=tmp_path / "savepoint-1")
    assert restore_path(explicit) == (tmp_path / "savepoint-1").as_uri()


def test_configuration_of_a_local_run(tmp_path: Path) -> None:
    checkpoint(tmp_path, JOB_A, 4, 1000)
    conf = configuration(
        FlinkOptions(
            parallelism=2,
            checkpoint_dir=tmp_path,
            checkpoint_interval=dt.timedelta(seconds=2),
            rest_port=18081,
        )
    )
    assert conf["python.execution-mode"] == "thread"
    assert conf["parallelism.default"] == "2"
    assert conf["execution.checkpointing.interval"] == "2000 ms"
    assert conf["execution.checkpointing.dir"] == tmp_path.as_uri()
    assert (
        conf["execution.checkpointing.externalized-checkpoint-retention"]
        == "RETAIN_ON_CANCELLATION"
    )
    assert conf["execution.state-recovery.path"] == (tmp_path / JOB_A / "chk-4").as_uri()
    # A failed job restarts from its last checkpoint, retrying without end, at most 10 s apart.
    assert conf["restart-strategy.type"] == "exponential-delay"
    assert conf["restart-strategy.exponential-delay.max-backoff"] == "10 s"
    assert conf["rest.port"] == "18081"
    jars = conf["pipeline.jars"].split(";")
    assert [j.rsplit("/", 1)[1] for j in jars] == [
        "flink-connector-kafka-4.0.1-2.0.jar",
        "kafka-clients-3.9.1.jar",
    ]
    assert "execution.target" not in conf


def test_configuration_of_a_cluster_submission() -> None:
    conf = configuration(
        FlinkOptions(jobmanager="flink-jm.example:8081", checkpoint_dir="s3://b/ckpt")
    )
    assert conf["execution.target"] == "remote"
    assert (conf["rest.address"], conf["rest.port"]) == ("flink-jm.example", "8081")
    assert conf["execution.checkpointing.dir"] == "s3://b/ckpt"
    with pytest.raises(ConfigError, match="HOST:PORT"):
        configuration(FlinkOptions(jobmanager="flink-jm.example"))


def test_embedded_interpreter_path_finds_the_package() -> None:
    paths = python_path()
    assert any((Path(p) / "fenghuo" / "__init__.py").is_file() for p in paths)
    assert any((Path(p) / "pyflink").is_dir() for p in paths)
