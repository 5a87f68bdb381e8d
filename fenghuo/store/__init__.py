"""Fenghuo store: one repository interface (`base`) for alerts, incidents, analyst actions, the
audit trail and API keys; backends `sqlite` (embedded default, with `alerts.AlertStore` as its
write side for the stream job and `migrations`) and `elastic` (production, on Elasticsearch or
OpenSearch through the client layer `search_client`; documents in `es_docs` and `es_plain`,
queries in `es_queries`); `factory.open_store` picks one from the settings; `retry` makes outages
delay writes instead of losing them."""
