"""The Flink environment of `fenghuo stream`: jars, Python workers, checkpoints, restore.

What has to be right for PyFlink 2.0 (verified here, see NOTES.md):
- The Kafka connector and kafka-clients jars are not part of apache-flink; they come from Maven
  Central (the pinned `flink-kafka` jar set, fenghuo/maven/flink-kafka) and go into
  `pipeline.jars` (shipped to a remote cluster too).
- Python workers must run this interpreter (`python.executable`), else they miss pyflink.
- Thread mode runs the functions in an interpreter embedded in the JVM (pemja). That interpreter
  does not process .pth files, so PYTHONPATH must name site-packages and the directory holding
  the `fenghuo` package (an editable install is found only through a .pth hook). The JVM
  inherits the variable when PyFlink launches it, so it is set before the first Flink call.
- Checkpoints go to a file system directory and are retained on cancellation; a local run
  restarts from the newest completed one (`execution.state-recovery.path`), which is how a
  killed `fenghuo stream` (or a restarted `fenghuo up`) resumes without losing or duplicating
  alerts. Within a run, a failed job restarts from its last checkpoint (exponential delay).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fenghuo.errors import ConfigError

log = logging.getLogger(__name__)

KAFKA_JAR_SET = "flink-kafka"
ExecutionMode = Literal["thread", "process"]
_CHECKPOINT = re.compile(r"chk-(\d+)")


@dataclass(frozen=True)
class FlinkOptions:
    """How and where the job runs (what `fenghuo stream` and the tests choose)."""

    parallelism: int = 1
    execution_mode: ExecutionMode = "thread"
    checkpoint_dir: Path | str | None = None  # a local path or a URI (s3://, hdfs://, file://)
    checkpoint_interval: dt.timedelta = dt.timedelta(seconds=5)
    watermark_interval: dt.timedelta = dt.timedelta(seconds=1)
    restore: Path | str | None = None  # explicit checkpoint/savepoint; None: newest local one
    auto_restore: bool = True
    jobmanager: str | None = None  # HOST:PORT of a cluster's REST endpoint; None: mini-cluster
    python_executable: str | None = None  # the TaskManagers' interpreter; None: this one
    rest_port: int | None = None  # the local mini-cluster's REST port (metrics); None: default
    log_dir: Path | None = None  # the Flink client/mini-cluster log directory
    extra: Mapping[str, str] = field(default_factory=dict)  # further Flink options, verbatim


def kafka_jars() -> list[Path]:
    """The connector jars (flink-connector-kafka and kafka-clients), fetched and verified on
    first use."""
    from fenghuo.maven_jars import jar_set_dir

    return sorted(jar_set_dir(KAFKA_JAR_SET).glob("*.jar"))


def python_path() -> list[str]:
    """What the embedded interpreter needs on its path: site-packages and the project root."""
    paths = sysconfig.get_paths()
    root = str(Path(__file__).resolve().parents[2])
    out: list[str] = []
    for entry in (paths["purelib"], paths["platlib"], root):
        if entry not in out:
            out.append(entry)
    return out


def prepare_process(log_dir: Path | None) -> None:
    """Set what the JVM PyFlink launches must inherit; call before any other Flink call."""
    current = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(python_path() + [p for p in current if p])
    if log_dir is not None and "FLINK_LOG_DIR" not in os.environ:
        log_dir.mkdir(parents=True, exist_ok=True)
        os.environ["FLINK_LOG_DIR"] = str(log_dir.resolve())


def under_flink_client() -> bool:
    """True when Flink's own client (`flink run -py`) started this interpreter: its gateway is
    already running, and the cluster address is the client's to choose."""
    return "PYFLINK_GATEWAY_PORT" in os.environ


def checkpoint_uri(location: Path | str) -> str:
    """A URI Flink accepts for a checkpoint location (absolute file:// for local paths)."""
    text = str(location)
    if "://" in text:
        return text
    return Path(text).resolve().as_uri()


def latest_checkpoint(root: Path) -> Path | None:
    """The newest completed checkpoint under `root` (`<job id>/chk-<n>/_metadata`), or None.

    Jobs are ordered by their newest completed checkpoint's modification time, checkpoints of
    one job by number; a checkpoint without `_metadata` never completed.
    """
    best: tuple[float, int, Path] | None = None
    if not root.is_dir():
        return None
    for job in root.iterdir():
        if not job.is_dir():
            continue
        for chk in job.iterdir():
            match = _CHECKPOINT.fullmatch(chk.name)
            metadata = chk / "_metadata"
            if match is None or not metadata.is_file() or metadata.stat().st_size == 0:
                continue
            rank = (metadata.stat().st_mtime, int(match.group(1)), chk)
            if best is None or rank[:2] > best[:2]:
                best = rank
    return best[2] if best is not None else None


def prune_checkpoints(root: Path, keep: Path) -> None:
    """Delete other jobs' checkpoint folders once `keep` (a chk-<n> folder) is chosen; each
    restart starts a new job id, so without this they pile up."""
    keep_job = keep.resolve().parent
    for job in root.iterdir():
        if job.is_dir() and job.resolve() != keep_job and _is_job_dir(job):
            shutil.rmtree(job, ignore_errors=True)


def _is_job_dir(path: Path) -> bool:
    return re.fullmatch(r"[0-9a-f]{32}", path.name) is not None


def restore_path(options: FlinkOptions) -> str | None:
    """Where the job restores from: the explicit path, else (local directory, auto_restore) the
    newest completed checkpoint, else nowhere."""
    if options.restore is not None:
        return checkpoint_uri(options.restore)
    location = options.checkpoint_dir
    if not options.auto_restore or location is None:
        return None
    text = str(location)
    if "://" in text and not text.startswith("file://"):
        return None  # a remote store: the cluster's own recovery (or --restore) applies
    root = Path(text.removeprefix("file://"))
    found = latest_checkpoint(root)
    if found is None:
        return None
    prune_checkpoints(root, found)
    log.info("restoring from checkpoint %s", found)
    return found.resolve().as_uri()


def configuration(options: FlinkOptions) -> dict[str, str]:
    """Flink configuration entries for the job (strings, as Flink's Configuration takes them)."""
    python = options.python_executable or sys.executable
    watermark_ms = int(options.watermark_interval.total_seconds() * 1000)
    conf: dict[str, str] = {
        "python.execution-mode": options.execution_mode,
        "python.executable": python,
        "python.client.executable": sys.executable,
        "pipeline.jars": ";".join(jar.resolve().as_uri() for jar in kafka_jars()),
        "parallelism.default": str(options.parallelism),
        # The job's event-time arithmetic is UTC; SQL casts must not depend on the host's zone.
        "table.local-time-zone": "UTC",
        # Each watermark runs every key with due events once (one state read and write per key),
        # so the interval trades alert latency against that cost; Flink's default is 200 ms.
        "pipeline.auto-watermark-interval": f"{watermark_ms} ms",
    }
    if options.checkpoint_dir is not None:
        millis = int(options.checkpoint_interval.total_seconds() * 1000)
        conf |= {
            "execution.checkpointing.interval": f"{millis} ms",
            "execution.checkpointing.mode": "EXACTLY_ONCE",
            "execution.checkpointing.storage": "filesystem",
            "execution.checkpointing.dir": checkpoint_uri(options.checkpoint_dir),
            "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
            "execution.checkpointing.num-retained": "2",
            # A failed task (a sink that gave up during a broker outage, a lost TaskManager)
            # restarts the job from its last checkpoint, retrying without limit. Flink's own
            # default is the same strategy with up to a minute between attempts; ten seconds
            # at most brings the job back soon after the broker (`up` restarts it in seconds).
            "restart-strategy.type": "exponential-delay",
            "restart-strategy.exponential-delay.initial-backoff": "1 s",
            "restart-strategy.exponential-delay.max-backoff": "10 s",
            "restart-strategy.exponential-delay.reset-backoff-threshold": "10 min",
        }
    recovery = restore_path(options)
    if recovery is not None:
        conf["execution.state-recovery.path"] = recovery
    if options.jobmanager is not None:
        host, _, port = options.jobmanager.rpartition(":")
        if not host or not port.isdigit():
            msg = f"--jobmanager must be HOST:PORT (a REST endpoint), not {options.jobmanager!r}"
            raise ConfigError(msg)
        conf |= {"execution.target": "remote", "rest.address": host, "rest.port": port}
    elif options.rest_port is not None and not under_flink_client():
        conf["rest.port"] = str(options.rest_port)
    conf.update(options.extra)
    return conf


def stream_environment(options: FlinkOptions) -> Any:
    """A StreamExecutionEnvironment configured for the job (typed Any: pyflink has no stubs).

    Locally, PyFlink's own environment (a mini-cluster in the JVM it launches). For a cluster,
    Flink's RemoteStreamEnvironment on the JobManager's REST endpoint: PyFlink's environment
    factory always builds a local one when it launched the JVM itself, whatever
    `execution.target` says. The connector jars are shipped with the job; the cluster needs
    `flink-python` in its lib/ (as every PyFlink cluster does) and this package importable by
    the TaskManagers' Python.
    """
    prepare_process(options.log_dir)
    from pyflink.common import Configuration
    from pyflink.datastream import StreamExecutionEnvironment

    conf = Configuration()
    for key, value in configuration(options).items():
        conf.set_string(key, value)
    if options.jobmanager is None:
        env = StreamExecutionEnvironment.get_execution_environment(conf)
    else:
        from pyflink.java_gateway import get_gateway

        gateway = get_gateway()
        host, _, port = options.jobmanager.rpartition(":")
        paths = kafka_jars()
        jars = gateway.new_array(gateway.jvm.String, len(paths))
        for index, jar in enumerate(paths):
            jars[index] = str(jar.resolve())
        j_env = gateway.jvm.org.apache.flink.streaming.api.environment.StreamExecutionEnvironment
        env = StreamExecutionEnvironment(
            j_env.createRemoteEnvironment(host, int(port), conf._j_configuration, jars)
        )
    env.set_parallelism(options.parallelism)
    return env
