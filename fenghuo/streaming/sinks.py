"""The alerts topic sink: the `fenghuo.alerts` topic (the store writer is `store_sink`).

The topic is written through the Flink Kafka connector's table sink, which is a KafkaSink
underneath: a DataStream KafkaSink built from Python cannot take its record key from a field
(PyFlink has no key-extracting serializer, and the available ones serialise the whole record),
while the table sink's `key.fields` keys each record by tenant id, as CONTRACTS.md requires.
Delivery is at least once (flushed on every checkpoint); consumers fold versions by alert id.
"""

from __future__ import annotations

from typing import Any

from pyflink.table import DataTypes, Schema, TableDescriptor

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
