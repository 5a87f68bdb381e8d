"""All settings in one typed class, read from FENGHUO_* environment variables (and an optional
`.env`), validated when first asked for, never at import time."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PLACEHOLDER = "changethis"
_JVM_SIZE = r"^[1-9][0-9]*[mMgG]$"  # a JVM heap size: 256m, 1g


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FENGHUO_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    # Where the embedded defaults keep their state (SQLite files, logs).
    data_dir: Path = Path("var")
    inventory: Path | None = None

    kafka_bootstrap: str = "127.0.0.1:9092"
    topic_prefix: str = "fenghuo."
    topic_partitions: int = Field(default=3, ge=1)
    # Topics Fenghuo creates (when missing) on a cluster: copies of each record, and how many of
    # them must hold it before a producer is told it is stored (None: the broker's default).
    # The embedded single node always uses 1.
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int | None = Field(default=None, ge=1)
    # How long a publish may wait for the broker's acknowledgement before giving up (503).
    kafka_timeout_s: float = Field(default=10.0, gt=0)
    embedded_broker_port: int = Field(default=9092, ge=1, le=65535)
    # The embedded Apache Kafka node's JVM heap (-Xms and -Xmx), e.g. 256m or 1g.
    broker_heap: str = Field(default="256m", pattern=_JVM_SIZE)

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=1, le=65535)
    ingest_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    ingest_retry_after_s: int = Field(default=5, ge=1)
    # Request bodies of every other route (ingest has its own limit above).
    api_max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # After this many failed authentications (401) within the window, a client address gets 429
    # until the window has passed; at most this many addresses are tracked (oldest evicted).
    auth_failure_limit: int = Field(default=20, ge=1)
    auth_failure_window_s: float = Field(default=60.0, gt=0)
    auth_failure_max_addresses: int = Field(default=10_000, ge=1)

    # The streaming detection job (`fenghuo stream`).
    detection_config: Path | None = None  # suppressions and per-detector settings (YAML)
    stream_group_id: str | None = None  # Kafka consumer group; default "<topic_prefix>stream"
    stream_parallelism: int = Field(default=1, ge=1)
    stream_execution_mode: Literal["thread", "process"] = "thread"
    # Event-time bound, the same as replay's (fenghuo.streaming.replay.DEFAULT_OUT_OF_ORDERNESS).
    stream_out_of_orderness_s: float = Field(default=5.0, ge=0)
    # A partition silent this long stops holding the watermark back; 0 never marks one idle.
    stream_idle_timeout_s: float = Field(default=30.0, ge=0)
    stream_checkpoint_interval_s: float = Field(default=5.0, gt=0)
    # How often event time advances: each advance runs every key with due events once.
    stream_watermark_interval_s: float = Field(default=1.0, gt=0)
    stream_checkpoint_dir: str | None = None  # path or URI; default <data_dir>/checkpoints/<group>
    stream_rest_port: int = Field(default=8081, ge=0, le=65535)  # the local mini-cluster's REST
    # The job's store writer upserts a batch when it holds this many alerts, or this long after
    # its first alert (fenghuo.streaming.store_sink).
    stream_store_batch_max: int = Field(default=500, ge=1)
    stream_store_flush_s: float = Field(default=0.2, gt=0)
    flink_jobmanager: str | None = None  # HOST:PORT of a Flink cluster's REST endpoint
    flink_python: str | None = None  # the TaskManagers' Python (default: this interpreter)

    # The store (fenghuo.store): SQLite in data_dir (embedded default), Elasticsearch 9 at
    # es_url, or OpenSearch 2.x at opensearch_url (the same documents and queries through its own
    # client, fenghuo.store.search_client). Each server has its own URL setting, so a URL never
    # means the wrong server; both search backends name their indices with es_index_prefix.
    store: Literal["sqlite", "elasticsearch", "opensearch"] = "sqlite"
    es_url: str | None = None  # e.g. http://127.0.0.1:9200 (needed when store=elasticsearch)
    opensearch_url: str | None = None  # e.g. http://127.0.0.1:9200 (when store=opensearch)
    es_index_prefix: str = Field(default="fenghuo-", pattern=r"^[a-z0-9][a-z0-9._-]*$")
    # The embedded OpenSearch node's JVM heap (-Xms and -Xmx; `fenghuo search-node`, the tests).
    search_heap: str = Field(default="512m", pattern=_JVM_SIZE)

    # Keyed HMAC secret for tenant pseudonyms (the API's, the regulator feed's and the reports');
    # must be set in production.
    pseudonym_key: SecretStr = SecretStr(_PLACEHOLDER)
    # The cloud provider: the STIX feed's creator identity and the reports' reporting unit.
    provider_name: str = Field(default="Fenghuo demo cloud provider", min_length=1)

    # `fenghuo up` pushes this local TAXII collection to a regulator's TAXII 2.1 collection (its
    # URL) when both are set (fenghuo.intel.push); its delivery log is `feed_push_db`.
    feed_push_collection: str | None = None
    feed_push_url: str | None = None
    feed_push_user: str | None = None
    feed_push_password: SecretStr | None = None
    feed_push_interval_s: float = Field(default=10.0, gt=0)

    # How long the event archive (alerts' evidence, fenghuo.evidence) keeps an event.
    event_retention_days: float = Field(default=7.0, gt=0)

    @model_validator(mode="after")
    def _store_needs_its_server(self) -> Settings:
        if self.store == "elasticsearch" and not self.es_url:
            msg = "FENGHUO_STORE=elasticsearch needs FENGHUO_ES_URL"
            raise ValueError(msg)
        if self.store == "opensearch" and not self.opensearch_url:
            msg = "FENGHUO_STORE=opensearch needs FENGHUO_OPENSEARCH_URL"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Settings:
        if (
            self.environment == "production"
            and self.pseudonym_key.get_secret_value() == _PLACEHOLDER
        ):
            msg = "FENGHUO_PSEUDONYM_KEY must be set to a real secret in production"
            raise ValueError(msg)
        return self

    @property
    def search_url(self) -> str | None:
        """The configured search server's URL (Elasticsearch or OpenSearch); None for SQLite."""
        if self.store == "elasticsearch":
            return self.es_url
        if self.store == "opensearch":
            return self.opensearch_url
        return None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "fenghuo.db"

    @property
    def events_db(self) -> Path:
        """The SQLite event archive (alerts' evidence), apart from the store."""
        return self.data_dir / "events.db"

    @property
    def feed_push_db(self) -> Path:
        """The feed pusher's own state (delivery log, positions), apart from the store."""
        return self.data_dir / "feed-push.db"


@functools.cache
def get_settings() -> Settings:
    return Settings()
