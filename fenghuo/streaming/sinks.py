"""Where alerts go: the `fenghuo.alerts` topic and the SQLite alert store.

The topic is written through the Flink Kafka connector's table sink, which is a KafkaSink
underneath: a DataStream KafkaSink built from Python cannot take its record key from a field
(PyFlink has no key-extracting serializer, and the available ones serialise the whole record),
while the table sink's `key.fields` keys each record by tenant id, as CONTRACTS.md requires.
Delivery is at least once (flushed on every checkpoint); consumers fold versions by alert id.

The store writer upserts each alert as it passes. After a restart the job re-emits what followed
its last checkpoint; `AlertStore.upsert` folds with `merge_alerts`, so repeats change nothing.
A store outage (the database locked beyond its busy timeout, a full disk) is retried with
backoff (`fenghuo.store.retry`): the job waits, back-pressured, and loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyflink.datastream import MapFunction, RuntimeContext
from pyflink.table import DataTypes, Schema, TableDescriptor

from fenghuo.model.alert import decode_alert
from fenghuo.store.alerts import AlertStore
from fenghuo.store.retry import with_backoff

ALERTS_TABLE = "fenghuo_alerts_sink"


def alerts_sink_descriptor(bootstrap: str, topic: str) -> Any:
    """The Kafka table sink for alerts: key = tenant id, value = the alert JSON, both raw."""
    schema = (
        Schema.new_builder()
        .column("tenant", DataTypes.STRING())
        .column("alert", DataTypes.STRING())
        .build()
    )
    return (
        TableDescriptor.for_connector("kafka")
        .schema(schema)
        .option("topic", topic)
        .option("properties.bootstrap.servers", bootstrap)
        .option("properties.compression.type", "lz4")
        .option("key.format", "raw")
        .option("key.fields", "tenant")
        .option("value.format", "raw")
        .option("value.fields-include", "EXCEPT_KEY")
        .option("sink.delivery-guarantee", "at-least-once")
        .build()
    )


def attach_alerts_sink(table_env: Any, alerts: Any, bootstrap: str, topic: str) -> None:
    """Route the (tenant, alert) stream into the topic, as part of the DataStream job."""
    table_env.create_temporary_table(ALERTS_TABLE, alerts_sink_descriptor(bootstrap, topic))
    statements = table_env.create_statement_set()
    statements.add_insert(ALERTS_TABLE, table_env.from_data_stream(alerts))
    statements.attach_as_datastream()


class StoreWriter(MapFunction):  # type: ignore[misc]  # pyflink has no type stubs
    """Upserts every alert into the SQLite store and passes it on unchanged."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def open(self, runtime_context: RuntimeContext) -> None:
        self.store = AlertStore(self.path)
        self.stored = runtime_context.get_metrics_group().counter("alerts_stored")

    def map(self, value: Any) -> Any:
        alert = decode_alert(value[1])
        with_backoff(lambda: self.store.upsert([alert]))
        self.stored.inc()
        return value
