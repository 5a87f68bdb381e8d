"""Alerts' evidence: the normalised events (with their raw records) kept for analysts.

`archive` defines the event archive every backend implements (SQLite in `sqlite_archive`, the
search server, Elasticsearch or OpenSearch, in `elastic_archive`); `service` fills it from the
telemetry topics; `view` answers "what supports this alert" for one caller, scoped like every
other read of the API.
"""
