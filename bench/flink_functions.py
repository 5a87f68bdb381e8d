"""Python functions and job graphs for the stream-job benchmarks' comparison jobs.

Imported by the Flink Python workers by module name (the project root is on their path, see
`fenghuo.streaming.flink_env.python_path`), so they are not pickled by value.

Job kinds (`build`), all on the real job's Kafka table source (three telemetry topics, event
time and watermarks from the payload, `fenghuo.streaming.job.telemetry_source_descriptor`):

- `detect`: the real job (`fenghuo.streaming.job.build_job`), every detector, SQLite store.
- `route`: source -> the real `RouteFunction` (decode, `engine.route`) -> key by state key ->
  a keyed function that only counts: the real job without detection, state or timers.
- `decode`: source -> a Python map that decodes each record into an `Event` (msgspec, as
  routing does) and passes the payload on -> Kafka sink.
- `passthrough`: source -> a Python map returning its input -> Kafka sink: the engine's own
  ceiling for a Python step between Kafka and Kafka.

The comparison jobs write to the same kind of Kafka table sink as the alerts (key and value raw),
on a topic of their own; `route` writes nothing (its keyed function emits no record).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pyflink.common import Row, Types
from pyflink.datastream import FlatMapFunction, MapFunction, RuntimeContext

from fenghuo.model import decode_event

KINDS = ("detect", "route", "decode", "passthrough")
# (Kafka key, value), as the alerts sink takes them.
ROW_TYPE = Types.ROW_NAMED(["tenant", "alert"], [Types.STRING(), Types.STRING()])


class PassThrough(MapFunction):  # type: ignore[misc]  # pyflink has no type stubs
    def open(self, runtime_context: RuntimeContext) -> None:
        self.events = runtime_context.get_metrics_group().counter("events")

    def map(self, value: Any) -> Row:
        self.events.inc()
        return Row("", value[0])


class Decode(MapFunction):  # type: ignore[misc]  # pyflink has no type stubs
    def open(self, runtime_context: RuntimeContext) -> None:
        self.events = runtime_context.get_metrics_group().counter("events")

    def map(self, value: Any) -> Row:
        payload: str = value[0]
        event = decode_event(payload)
        self.events.inc()
        return Row(event.tenant_id or "", payload)


class CountOnly(FlatMapFunction):  # type: ignore[misc]  # pyflink has no type stubs
    """Stands where `DetectFunction` stands in the real job; counts (event, detector) pairs."""

    def open(self, runtime_context: RuntimeContext) -> None:
        self.events = runtime_context.get_metrics_group().counter("events")

    def flat_map(self, value: Any) -> Iterator[Row]:
        self.events.inc()
        return iter(())


def build(spec: Any, kind: str, sink_topic: str) -> Any:
    """The StreamExecutionEnvironment of one job kind (`spec` is a `StreamSpec`)."""
    if kind == "detect":
        from fenghuo.streaming.job import build_job

        return build_job(spec)
    from pyflink.table import StreamTableEnvironment
    from pyflink.table.expressions import col

    from fenghuo.streaming.adapter import ROUTED_TYPE, RouteFunction
    from fenghuo.streaming.flink_env import stream_environment
    from fenghuo.streaming.job import SOURCE_TABLE, telemetry_source_descriptor
    from fenghuo.streaming.sinks import attach_alerts_sink

    env = stream_environment(spec.flink)
    table_env = StreamTableEnvironment.create(env)
    table_env.create_temporary_table(SOURCE_TABLE, telemetry_source_descriptor(spec))
    records = table_env.to_data_stream(table_env.from_path(SOURCE_TABLE).select(col("payload")))
    if kind == "route":
        routed = records.flat_map(RouteFunction(spec.engine), output_type=ROUTED_TYPE).name("route")
        out = (
            routed.key_by(_state_key, key_type=Types.STRING())
            .flat_map(CountOnly(), output_type=ROW_TYPE)
            .name("detect")
        )
    elif kind == "decode":
        out = records.map(Decode(), output_type=ROW_TYPE).name("route")
    elif kind == "passthrough":
        out = records.map(PassThrough(), output_type=ROW_TYPE).name("route")
    else:
        msg = f"unknown job kind {kind!r}; one of {KINDS}"
        raise ValueError(msg)
    attach_alerts_sink(table_env, out, spec.bootstrap, sink_topic)
    return env


def _state_key(value: Any) -> str:
    return str(value[0])
