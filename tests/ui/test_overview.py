"""The situational overview populates with the figures `/api/v1/stats` gives the same key, and
updates without a reload when a new alert reaches the store (the server-sent event stream)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from playwright.sync_api import Locator, Page, expect

from fenghuo.model.alert import Severity
from tests.api.seeded import SeededApi
from tests.ui.conftest import API, Console, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]


def kpi(page: Page, name: str, part: str = "value") -> Locator:
    return page.locator(f'[data-kpi="{name}"] .kpi-{part}')


def number(text: str) -> int:
    digits = re.sub(r"[^\d]", "", text)
    assert digits, f"no number in {text!r}"
    return int(digits)


def stats(api: SeededApi, who: str, **params: object) -> dict[str, Any]:
    response = api.get(who, f"{API}/stats", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def last_hour(api: SeededApi, who: str) -> int:
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    return int(stats(api, who, since=since)["alerts"]["total"])


def open_overview(c: Console, who: str) -> Page:
    page = c.login(who)
    expect(page).to_have_url(re.compile(r"#/overview"))
    expect(kpi(page, "open")).to_have_text(re.compile(r"\d"))
    return page


@pytest.mark.parametrize("who", ["soc_analyst", "viewer"])
def test_overview_figures_match_the_api(
    new_console: Callable[..., Console], console: SeededApi, who: str
) -> None:
    if who == "viewer":
        who = f"viewer:{console.hour.tenants[0]}"
    c = new_console()
    page = open_overview(c, who)
    s = stats(console, who)
    assert s["alerts"]["total"] > 0, "the hour is not seeded"
    assert s["incidents"]["open"] > 0, "the hour is not seeded"
    expect(kpi(page, "open")).to_have_text(str(s["incidents"]["open"]))
    expect(kpi(page, "open", "sub")).to_contain_text(str(s["incidents"]["total"]))
    expect(kpi(page, "lasthour")).to_have_text(str(last_hour(console, who)))
    expect(kpi(page, "lasthour", "sub")).to_contain_text(str(s["alerts"]["total"]))
    expect(kpi(page, "overdue")).to_have_text(str(s["reports_overdue"]))

    # Detector hits: every detector of /stats with its count, none other.
    detectors = page.locator('a[href^="#/alerts?detector="]')
    expect(detectors).to_have_count(min(12, len(s["by_detector"])))
    shown = {
        str(a.get_attribute("href")).split("=", 1)[1]: number(
            a.locator("xpath=..").locator(".num").inner_text()
        )
        for a in detectors.all()
    }
    assert shown == {k: v for k, v in s["by_detector"].items() if k in shown}, shown
    assert set(shown) <= set(s["by_detector"])

    # Tenants at risk, in the API's order (a viewer: its own tenant, others by pseudonym).
    heat = page.locator('.heat a[href^="#/alerts?tenant="]')
    expect(heat).to_have_text([r["tenant_id"] for r in s["tenants_at_risk"][:12]])

    # The grade × severity matrix adds up to the open incidents.
    totals = page.locator("table.matrix tbody tr td:last-child")
    expect(totals.first).to_be_visible()
    assert sum(int(x) for x in totals.all_inner_texts()) == s["incidents"]["open"]

    # The rate chart is drawn (uPlot canvas or the SVG fallback).
    expect(page.locator(".chart canvas, .chart svg").first).to_be_visible()
    assert not c.errors, c.errors


def new_alert(api: SeededApi, title: str) -> str:
    """A fresh alert of the hour's first critical alert's kind, seen and detected just now."""
    template = next(a for a in api.hour.alerts if a.severity is Severity.CRITICAL)
    now = dt.datetime.now(dt.UTC)
    alert = msgspec.structs.replace(
        template,
        id=str(uuid.uuid4()),
        title=title,
        first_seen=now - dt.timedelta(seconds=30),
        last_seen=now - dt.timedelta(seconds=5),
        detected_at=now,
        window_start=now - dt.timedelta(minutes=5),
        dedup_key=f"ui-test/{uuid.uuid4()}",
    )
    api.store.alerts.upsert([alert])
    return alert.id


def test_overview_updates_live_when_an_alert_arrives(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    c = new_console()
    page = open_overview(c, "soc_analyst")
    before_hour = last_hour(console, "soc_analyst")
    before_all = stats(console, "soc_analyst")["alerts"]["total"]
    expect(kpi(page, "lasthour")).to_have_text(str(before_hour))
    expect(page.locator('.live[data-state="open"]')).to_be_visible()
    # Mark the document: a reload would lose the mark.
    page.evaluate("document.documentElement.dataset.uiTestMark = 'kept'")

    new_alert(console, "UI test: live alert")
    expect(kpi(page, "lasthour")).to_have_text(str(before_hour + 1), timeout=20_000)
    expect(kpi(page, "lasthour", "sub")).to_contain_text(str(before_all + 1), timeout=20_000)
    assert page.evaluate("document.documentElement.dataset.uiTestMark") == "kept", "page reloaded"
    assert not c.errors, c.errors
