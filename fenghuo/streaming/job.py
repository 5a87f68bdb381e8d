"""`fenghuo stream`: the streaming detection job (PyFlink 2.0, DataStream API).

    Kafka telemetry topics (3) ──► route ──key by state_key──► detect ──┬──► fenghuo.alerts
      table source: raw JSON,      (flat_map:    (one KeyedProcess-     │    (table sink:
      event time from the payload,  engine.route) Function, every       │     key = tenant id)
      per-partition watermarks                    detector)             └──► store writer
                                                                (one key, buffered in state,
                                                                 one upsert per batch)

Why the Kafka edges are connector *tables* inside the DataStream job: event time lives in the
JSON payload, and watermarks must be generated per partition inside the source, or a catch-up
read (one partition far ahead of another) makes everything late. A DataStream KafkaSource can do
that only from Kafka record timestamps (a Python timestamp assigner runs after the source, per
subtask, not per partition); the table source computes the event time in Java from the payload
(falling back to the record timestamp when a record has none) and pushes the watermark into the
KafkaSource. The sink side is explained in `sinks`. Both are the connector's KafkaSource and
KafkaSink underneath; everything between them is the DataStream API. The store writer is a
branch beside the topic sink, so no alert waits for the store (`store_sink`).

Offsets: the consumer group's committed offsets, else the earliest; committed on checkpoints.
State, timers and offsets are checkpointed (`flink_env`); a restarted local job resumes from the
newest completed checkpoint. On a cluster (`--jobmanager HOST:PORT`, the JobManager's REST
endpoint) the same job graph is submitted through PyFlink's remote executor; the TaskManagers
need this package installed, the inventory at the same path, and a shared checkpoint URI. The
module is also runnable by Flink's own client: `flink run -py fenghuo/streaming/job.py
-pyexec PYTHON` (settings from FENGHUO_* variables).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fenghuo.children import stop_on_signals
from fenghuo.detectors.base import Detector
from fenghuo.errors import ConfigError, StreamJobError
from fenghuo.ingest.kafka.topics import Topics
from fenghuo.settings import Settings
from fenghuo.streaming.adapter import EngineSpec
from fenghuo.streaming.flink_env import FlinkOptions, stream_environment
from fenghuo.streaming.store_sink import AlertBatchTarget, StoreBatching

log = logging.getLogger(__name__)

SOURCE_TABLE = "fenghuo_telemetry_source"
JOB_NAME = "fenghuo-stream"

# The event time of a record: its payload's `event_time` (RFC 3339 UTC, as msgspec writes it),
# else the Kafka record timestamp, so a malformed record can never stop the watermark.
_EVENT_TIME = (
    "COALESCE(TRY_CAST(REGEXP_REPLACE(REPLACE(JSON_VALUE(payload, '$.event_time'), 'T', ' '), "
    "'(Z|[+]00:00)$', '') AS TIMESTAMP(3)), CAST(record_time AS TIMESTAMP(3)))"
)


@dataclass(frozen=True)
class StreamSpec:
    """Everything the job needs; build one with `stream_spec` or by hand (tests)."""

    bootstrap: str
    topics: Topics
    engine: EngineSpec
    flink: FlinkOptions = field(default_factory=FlinkOptions)
    group_id: str = "fenghuo.stream"
    store: Path | None = None  # the SQLite alert store; None: the topic only
    store_batching: StoreBatching = field(default_factory=StoreBatching)
    # How the writer opens the store at `store` (tests wrap it); None: the settings' backend.
    store_opener: Callable[[Path], AlertBatchTarget] | None = None
    idle_timeout: dt.timedelta | None = dt.timedelta(seconds=30)
    # Watermark alignment: partitions more than this ahead of the slowest (in event time) pause,
    # which bounds the events buffered during a catch-up. Off by default: on the benchmark it
    # slowed reading (paused partitions wait for the next alignment round) more than it saved.
    max_drift: dt.timedelta | None = None
    job_name: str = JOB_NAME


def telemetry_source_descriptor(spec: StreamSpec) -> Any:
    """The Kafka table source over the three telemetry topics, with event time and watermark."""
    from pyflink.table import DataTypes, Schema, TableDescriptor

    # One millisecond beyond the bound, as Flink's BoundedOutOfOrderness does: an event exactly
    # `bound` behind the newest is still on time, as it is in replay.
    lag_ms = int(spec.engine.out_of_orderness.total_seconds() * 1000) + 1
    schema = (
        Schema.new_builder()
        .column("payload", DataTypes.STRING())
        .column_by_metadata("record_time", DataTypes.TIMESTAMP_LTZ(3), "timestamp", True)
        .column_by_expression("event_time", _EVENT_TIME)
        .watermark("event_time", f"event_time - INTERVAL '{lag_ms / 1000:.3f}' SECOND")
        .build()
    )
    descriptor = (
        TableDescriptor.for_connector("kafka")
        .schema(schema)
        .option("topic", ";".join(spec.topics.telemetry()))
        .option("properties.bootstrap.servers", spec.bootstrap)
        .option("properties.group.id", spec.group_id)
        .option("scan.startup.mode", "group-offsets")
        .option("properties.auto.offset.reset", "earliest")
        .option("properties.commit.offsets.on.checkpoint", "true")
        # The gateway publishes each request in a transaction; Kafka's Java client reads
        # uncommitted records by default, aborted requests included.
        .option("properties.isolation.level", "read_committed")
        .option("value.format", "raw")
    )
    if spec.max_drift is not None:
        millis = int(spec.max_drift.total_seconds() * 1000)
        descriptor = descriptor.option("scan.watermark.alignment.group", spec.group_id)
        descriptor = descriptor.option("scan.watermark.alignment.max-drift", f"{millis} ms")
        descriptor = descriptor.option("scan.watermark.alignment.update-interval", "1 s")
    if spec.idle_timeout is not None and spec.idle_timeout.total_seconds() > 0:
        millis = int(spec.idle_timeout.total_seconds() * 1000)
        descriptor = descriptor.option("scan.watermark.idle-timeout", f"{millis} ms")
    return descriptor.build()


def _state_key(value: Any) -> str:
    return str(value[0])


def build_job(spec: StreamSpec) -> Any:
    """The configured StreamExecutionEnvironment with the whole job graph on it."""
    from pyflink.common import Types
    from pyflink.table import StreamTableEnvironment
    from pyflink.table.expressions import col

    from fenghuo.streaming.adapter import ALERT_TYPE, ROUTED_TYPE, DetectFunction, RouteFunction
    from fenghuo.streaming.sinks import attach_alerts_sink
    from fenghuo.streaming.store_sink import BatchingStoreWriter, store_key

    env = stream_environment(spec.flink)
    table_env = StreamTableEnvironment.create(env)
    table_env.create_temporary_table(SOURCE_TABLE, telemetry_source_descriptor(spec))
    # Only the payload crosses into Python (a timestamp column would cost a datetime per record);
    # the watermarks the source generates flow on regardless.
    records = table_env.to_data_stream(table_env.from_path(SOURCE_TABLE).select(col("payload")))
    routed = (
        records.flat_map(RouteFunction(spec.engine), output_type=ROUTED_TYPE)
        .name("route")
        .uid("fenghuo-route")
    )
    alerts = (
        routed.key_by(_state_key, key_type=Types.STRING())
        .process(DetectFunction(spec.engine), output_type=ALERT_TYPE)
        .name("detect")
        .uid("fenghuo-detect")
    )
    if spec.store is not None:
        # A branch of its own: it emits nothing, and the topic sink does not wait for it.
        writer = BatchingStoreWriter(spec.store, spec.store_batching, opener=spec.store_opener)
        (
            alerts.key_by(store_key, key_type=Types.INT())
            .process(writer)
            .name("store")
            .uid("fenghuo-store")  # the per-alert map's uid: it had no state to conflict with
            .set_parallelism(1)  # one key; SQLite takes one writer at a time anyway
        )
    attach_alerts_sink(table_env, alerts, spec.bootstrap, spec.topics.alerts)
    return env


def start(spec: StreamSpec) -> Any:
    """Submit the job without waiting (local mini-cluster or cluster); returns its JobClient."""
    return build_job(spec).execute_async(spec.job_name)


def stream_spec(
    settings: Settings,
    *,
    inventory: Path | None = None,
    detection_config: Path | None = None,
    bootstrap: str | None = None,
    jobmanager: str | None = None,
    parallelism: int | None = None,
    checkpoint_dir: str | None = None,
    detectors: Sequence[Detector] | None = None,
    store: bool = True,
) -> StreamSpec:
    """The job as settings and command-line options describe it (options win)."""
    chosen_inventory = inventory or settings.inventory
    if chosen_inventory is None:
        msg = "no inventory: pass --inventory or set FENGHUO_INVENTORY"
        raise ConfigError(msg)
    config = detection_config or settings.detection_config
    group_id = settings.stream_group_id or f"{settings.topic_prefix}stream"
    cluster = jobmanager or settings.flink_jobmanager
    checkpoints = checkpoint_dir or settings.stream_checkpoint_dir
    if checkpoints is None:
        if cluster is not None:
            msg = "a cluster needs a shared checkpoint location: pass --checkpoint-dir URI"
            raise ConfigError(msg)
        checkpoints = str((settings.data_dir / "checkpoints" / group_id).resolve())
    bound = dt.timedelta(seconds=settings.stream_out_of_orderness_s)
    idle = settings.stream_idle_timeout_s
    # SQLite is the embedded store: on a cluster it would sit on some TaskManager's disk. A
    # search server is reached from every TaskManager, so the job writes alerts to it anywhere.
    writes_store = store and (cluster is None or settings.store != "sqlite")
    return StreamSpec(
        bootstrap=bootstrap or settings.kafka_bootstrap,
        topics=Topics(settings.topic_prefix),
        engine=EngineSpec(
            inventory=chosen_inventory.resolve(),
            detection_config=config.resolve() if config is not None else None,
            detectors=tuple(detectors) if detectors is not None else None,
            out_of_orderness=bound,
            suppressions_db=settings.db_path.resolve() if store and cluster is None else None,
        ),
        flink=FlinkOptions(
            parallelism=parallelism or settings.stream_parallelism,
            execution_mode=settings.stream_execution_mode,
            checkpoint_dir=checkpoints,
            checkpoint_interval=dt.timedelta(seconds=settings.stream_checkpoint_interval_s),
            watermark_interval=dt.timedelta(seconds=settings.stream_watermark_interval_s),
            jobmanager=cluster,
            python_executable=settings.flink_python,
            rest_port=settings.stream_rest_port,
            log_dir=(settings.data_dir / "flink-logs").resolve(),
        ),
        group_id=group_id,
        # With a search store the path is unused: the writer opens the configured server.
        store=settings.db_path.resolve() if writes_store else None,
        store_batching=StoreBatching(
            max_alerts=settings.stream_store_batch_max,
            max_wait=dt.timedelta(seconds=settings.stream_store_flush_s),
        ),
        idle_timeout=dt.timedelta(seconds=idle) if idle > 0 else None,
    )


def run(spec: StreamSpec, echo: Callable[[str], None]) -> None:
    """Submit the job. On a cluster, return once it is submitted (it runs there, detached).
    Locally, watch it until it ends or SIGINT/SIGTERM arrives, then cancel it; the last
    checkpoint is kept, so the next run resumes from it."""
    from pyflink.common import JobStatus

    client = start(spec)
    job_id = client.get_job_id()
    if spec.flink.jobmanager is not None:
        echo(f"submitted job {job_id} to {spec.flink.jobmanager}")
        return
    echo(f"job {job_id} running on the local mini-cluster (Ctrl-C stops it)")
    with stop_on_signals() as stop:
        while not stop.wait(1.0):
            status = client.get_job_status().result()
            if status.is_globally_terminal_state():
                echo(f"job {job_id} ended: {status}")
                if status is JobStatus.FAILED:
                    msg = f"the stream job {job_id} failed; see the Flink log"
                    raise StreamJobError(msg)
                return
        echo(f"cancelling job {job_id}")
        client.cancel().result()


if __name__ == "__main__":  # `flink run -py fenghuo/streaming/job.py`: settings from FENGHUO_*
    from fenghuo.settings import get_settings

    # On a cluster: alerts into the store only when it is a search server (SQLite would sit on
    # a TaskManager), and a shared checkpoint URI in FENGHUO_STREAM_CHECKPOINT_DIR.
    settings = get_settings()
    build_job(stream_spec(settings, store=settings.store != "sqlite")).execute(JOB_NAME)
