"""Ingest: real-format parsers, tenant attribution, Kafka publishing, the HTTP gateway."""
