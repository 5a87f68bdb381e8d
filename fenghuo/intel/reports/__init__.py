"""National incident reports (《国家网络安全事件报告管理办法》, in force 2025-11-01).

- `model`: the report (initial, update, closing), its state computed from the clock, and the
  configuration (`reports.yaml`: closing deadline, escalation note, sections, with sources).
- `draft`: sections written from the incident; `sync`: `sync_reports`, which keeps drafts in step
  with incidents; `actions`: analysts' edits and submissions, audited.
- `repository`: the store's `reports` repository; `sqlite`: its SQLite implementation.
- `render`: JSON and the printable bilingual HTML page.

The first report's deadline (1 h / 2 h / 4 h) comes from the reporting rules of
`fenghuo/graph/grading.yaml`, computed by the correlator into `Incident.reporting`.
"""

from __future__ import annotations

from fenghuo.intel.reports.model import (
    Report,
    ReportConfig,
    ReportKind,
    ReportState,
    Section,
    as_of,
    load_config,
    report_id,
    state_at,
)
from fenghuo.intel.reports.repository import ReportQuery, ReportRepository
from fenghuo.intel.reports.sync import sync_reports

__all__ = [
    "Report",
    "ReportConfig",
    "ReportKind",
    "ReportQuery",
    "ReportRepository",
    "ReportState",
    "Section",
    "as_of",
    "load_config",
    "report_id",
    "state_at",
    "sync_reports",
]
