"""The FastAPI application: `/api/v1` (ingest gateway, alerts, incidents, triage, reports,
collections, situation, keys, audit), `/taxii2/` mounted from `fenghuo.intel.taxii`, health and
metrics."""
