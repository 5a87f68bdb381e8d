"""Where alerts go: the `fenghuo.alerts` topic and the store (SQLite by default, or the search
backend with FENGHUO_STORE=elasticsearch or opensearch).

The topic is written through the Flink Kafka connector's table sink, which is a KafkaSink
underneath: a DataStream KafkaSink built from Python cannot take its record key from a field
(PyFlink has no key-extracting serializer, and the available ones serialise the whole record),
while the table sink's `key.fields` keys each record by tenant id, as CONTRACTS.md requires.
Delivery is at least once (flushed on every checkpoint); consumers fold versions by alert id.

The store writer upserts each alert as it passes, through the configured backend's
`AlertRepository` (`fenghuo.store.factory.open_store`; SQLite at the job's store path). After a
restart the job re-emits what followed its last checkpoint; upserts fold with `merge_alerts`, so
repeats change nothing. A store outage (the database locked beyond its busy timeout, a full disk,
the search server unreachable or overloaded) is retried with backoff (`fenghuo.store.retry`): the
job waits, back-pressured, and loses nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyflink.datastream import MapFunction, RuntimeContext
from pyflink.table import DataTypes, Schema, TableDescriptor

from fenghuo.model.alert import decode_alert
from fenghuo.settings import Settings, get_settings
from fenghuo.store.base import AlertRepository, Store
from fenghuo.store.factory import open_store
from fenghuo.store.retry import with_backoff
from fenghuo.store.sqlite import SqliteStore

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
    """Upserts every alert into the store and passes it on unchanged.

    The backend is the settings' (`settings`, else the worker's own, read when the function
    opens): SQLite at `path`, or the search server (`fenghuo.store.factory.open_store`)."""

    def __init__(self, path: Path, settings: Settings | None = None) -> None:
        self.path = path
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        settings = self.settings or get_settings()
        if settings.store == "sqlite":
            self.store: Store = SqliteStore(self.path)
        else:
            self.store = open_store(settings)
        self.alerts: AlertRepository = self.store.alerts
        self.stored = runtime_context.get_metrics_group().counter("alerts_stored")

    def map(self, value: Any) -> Any:
        alert = decode_alert(value[1])
        with_backoff(lambda: self.alerts.upsert([alert]))
        self.stored.inc()
        return value

    def close(self) -> None:
        store: Store | None = getattr(self, "store", None)
        if store is not None:
            store.close()
