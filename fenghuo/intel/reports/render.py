"""Reports as JSON and as a printable bilingual HTML page.

The HTML page is what an analyst prints or pastes into the authorities' form: Chinese first (the
filed text), English beneath it, everything escaped (section texts are drafted from alert
summaries, which carry attacker-controlled strings such as command lines and file names), one
self-contained document with inline print CSS and no external assets (it must render offline and
may be archived as the record of what was sent).
"""

from __future__ import annotations

import datetime as dt
from html import escape

import msgspec

from fenghuo.intel.reports.draft import GRADE_NAMES, utc_text
from fenghuo.intel.reports.model import Report, ReportKind, ReportState

_KIND_NAMES = {
    ReportKind.INITIAL: ("初次报告", "Initial report"),
    ReportKind.UPDATE: ("续报", "Update report"),
    ReportKind.CLOSING: ("总结报告", "Closing report"),
}
_STATE_NAMES = {
    ReportState.DRAFT: ("草稿", "draft"),
    ReportState.DUE: ("待报送", "due"),
    ReportState.OVERDUE: ("已超时", "overdue"),
    ReportState.SUBMITTED: ("已报送", "submitted"),
}
_CSS = """
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", "SimSun", serif;
       margin: 2em auto; max-width: 46em; color: #000; line-height: 1.5; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
h1 .en, h2 .en { font-weight: normal; font-size: 0.8em; color: #444; }
table.meta { border-collapse: collapse; width: 100%; margin: 1em 0; }
table.meta th, table.meta td { border: 1px solid #888; padding: 0.25em 0.5em;
                               text-align: left; vertical-align: top; }
section { border-top: 1px solid #888; padding-top: 0.4em; margin-top: 0.8em;
          page-break-inside: avoid; }
h2 { font-size: 1.1em; margin: 0.2em 0; }
.zh, .en-text { white-space: pre-wrap; margin: 0.3em 0; }
.en-text { color: #333; font-size: 0.92em; }
.tag { font-size: 0.8em; border: 1px solid #888; padding: 0 0.3em; margin-left: 0.5em; }
@media print {
  body { margin: 0; max-width: none; }
  @page { size: A4; margin: 18mm; }
  .tag { border-color: #000; }
}
"""


def report_json(report: Report) -> bytes:
    return msgspec.json.encode(report)


def _time(value: dt.datetime | None) -> str:
    return utc_text(value) if value else "-"


def _row(zh: str, en: str, value: str) -> str:
    return (
        f"<tr><th>{escape(zh)} <span class=en>{escape(en)}</span></th><td>{escape(value)}</td></tr>"
    )


def report_html(report: Report) -> str:
    """The report as one self-contained, escaped HTML page (pass the caller's redacted view)."""
    kind_zh, kind_en = _KIND_NAMES[report.kind]
    state_zh, state_en = _STATE_NAMES[report.state]
    grade_zh, grade_en = GRADE_NAMES[report.grade]
    title_zh = f"网络安全事件{kind_zh}"
    if report.kind is ReportKind.UPDATE:
        title_zh += f" (第{report.sequence}次)"
    meta = [
        _row("事件编号", "Incident", report.incident_id),
        _row("报告编号", "Report", report.id),
        _row("报告租户", "Reporting tenant", report.tenant_id or "-"),
        _row("事件级别", "Level", f"{grade_zh} / {grade_en} ({report.grade.value})"),
        _row("事件类别", "Category (GB/T 20986-2023)", report.category),
        _row("报送时限", "Due", _time(report.due_at)),
        _row("时限依据", "Deadline basis", report.basis or "-"),
        _row("状态", "State", f"{state_zh} / {state_en}"),
        _row("报送时间", "Submitted at", _time(report.submitted_at)),
        _row("报送渠道", "Channel", report.channel or "-"),
        _row("报送人", "Submitted by", report.submitted_by or "-"),
    ]
    parts = []
    for section in report.sections:
        tags = ""
        if section.first:
            tags += "<span class=tag>可先行报告 / may go first</span>"
        if not section.required:
            tags += "<span class=tag>选填 / optional</span>"
        parts.append(
            f'<section id="{escape(section.key)}">'
            f"<h2>{escape(section.title_zh)} <span class=en>{escape(section.title_en)}</span>"
            f"{tags}</h2>"
            f"<div class=zh lang=zh-CN>{escape(section.zh)}</div>"
            f"<div class=en-text lang=en>{escape(section.en)}</div></section>"
        )
    return (
        "<!DOCTYPE html>\n<html lang=zh-CN><head><meta charset=utf-8>"
        f"<title>{escape(title_zh)} {escape(report.id)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{escape(title_zh)} <span class=en>{escape(kind_en)}</span></h1>"
        f"<table class=meta>{''.join(meta)}</table>"
        f"{''.join(parts)}</body></html>\n"
    )
