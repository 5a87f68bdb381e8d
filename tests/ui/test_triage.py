"""Triage from the alert queue: one alert acknowledged with the keyboard (j/k then `a`), and a
bulk action on "everything matching this filter" with a severity and a time range. After a
reload the page shows both, the API agrees, and the bulk action touched exactly the alerts the
API selects with the same query (time range included), no other."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.api.seeded import SeededApi
from tests.ui.conftest import API, Console, skip_without_chromium

pytestmark = [pytest.mark.browser, skip_without_chromium]

ZONE = ZoneInfo("Asia/Shanghai")  # the browser context's time zone (conftest)


def every_alert(api: SeededApi, who: str, **params: Any) -> dict[str, dict[str, Any]]:
    """Every alert the API lists for this query: id -> {alert, state}."""
    return api.every(who, "alerts", **params)


def statuses(api: SeededApi) -> dict[str, str]:
    return {k: v["state"]["status"] for k, v in every_alert(api, "admin").items()}


def minute(value: dt.datetime) -> dt.datetime:
    return value.replace(second=0, microsecond=0)


def choose_range(api: SeededApi, severity: str) -> tuple[dt.datetime, dt.datetime, set[str]]:
    """A minute-aligned range (what the form's inputs can express) that selects some but not
    all of the `severity` alerts, and leaves out some alerts the range alone would select: the
    bulk action can only be right if it applies both conditions."""
    first = min(a.first_seen for a in api.hour.alerts)
    last = max(a.last_seen for a in api.hour.alerts)
    start, end = minute(first), minute(last) + dt.timedelta(minutes=1)
    everything = {a.id for a in api.hour.alerts if a.severity.value == severity}
    step = dt.timedelta(minutes=5)
    since = start
    while since < end:
        until = since + step
        while until <= end:
            iso = {"since": since.isoformat(), "until": until.isoformat()}
            chosen = set(every_alert(api, "soc_analyst", severity=severity, **iso))
            in_range = set(every_alert(api, "soc_analyst", **iso))
            if 2 <= len(chosen) < len(everything) and chosen < in_range:
                return since, until, chosen
            until += step
        since += step
    raise AssertionError("no time range splits the hour's alerts")


def local_input(value: dt.datetime) -> str:
    return value.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M")


def rows(page: Page) -> Locator:
    return page.locator("table.grid tbody tr[data-id]")


def row(page: Page, alert_id: str) -> Locator:
    return page.locator(f'table.grid tbody tr[data-id="{alert_id}"]')


def test_keyboard_triage_and_bulk_triage_of_a_filter_persist(
    new_console: Callable[..., Console], console: SeededApi
) -> None:
    before = statuses(console)
    assert set(before.values()) == {"new"}, "the module's store is fresh"
    severity = "critical"
    since, until, expected = choose_range(console, severity)

    c = new_console()
    page = c.login("soc_analyst")
    page.goto(f"{console.url}/#/alerts")
    expect(rows(page)).to_have_count(len(before))

    # --- one alert, with the keyboard: j j j k puts the cursor on the second row
    page.locator("main h1").click()  # focus outside any input: the shortcuts are live
    for key in "jjjk":
        page.keyboard.press(key)
    cursor = page.locator("table.grid tbody tr.cursor")
    expect(cursor).to_have_count(1)
    expect(cursor).to_have_attribute("data-index", "1")
    single = str(cursor.get_attribute("data-id"))
    if single in expected:  # keep the two actions apart: take a row outside the bulk set
        page.keyboard.press("j")
        expect(cursor).to_have_attribute("data-index", "2")
        single = str(cursor.get_attribute("data-id"))
    assert single not in expected
    page.keyboard.press("a")
    expect(row(page, single).locator(".status")).to_have_class(re.compile(r"status-acknowledged"))

    # --- the filter, through the form: severity, then the time range (each change is in the URL)
    page.locator("#aq-severity").select_option(severity)
    expect(page).to_have_url(re.compile(rf"severity={severity}"))
    page.locator("#aq-since").fill(local_input(since))
    expect(page).to_have_url(re.compile(r"since="))
    page.locator("#aq-until").fill(local_input(until))
    expect(page).to_have_url(re.compile(r"until="))
    expect(rows(page)).to_have_count(len(expected))
    assert {str(r.get_attribute("data-id")) for r in rows(page).all()} == expected

    page.get_by_role("button", name=re.compile(r"对所有匹配项操作|Act on all matching")).click()
    dialog = page.get_by_role("dialog")
    n = len(expected)
    confirm = dialog.get_by_role("button", name=re.compile(rf"^(对 {n} 条执行|Apply to {n})$"))
    expect(confirm).to_be_enabled()
    dialog.locator("#dlg-action").select_option("resolve")
    confirm.click()
    expect(dialog).to_have_count(0)

    # --- reload: the page shows both, from the API
    page.reload()
    expect(rows(page)).to_have_count(len(expected))
    for alert_id in expected:
        expect(row(page, alert_id).locator(".status")).to_have_class(re.compile(r"status-resolved"))
    page.goto(f"{console.url}/#/alerts")
    expect(rows(page)).to_have_count(len(before))
    expect(row(page, single).locator(".status")).to_have_class(re.compile(r"status-acknowledged"))

    # --- the API: exactly these changed, and nothing else
    after = statuses(console)
    changed = {k: v for k, v in after.items() if v != before[k]}
    assert changed == {single: "acknowledged", **dict.fromkeys(expected, "resolved")}, changed
    untouched = set(before) - expected - {single}
    for alert_id in sorted(untouched)[:50]:
        log = console.get("admin", f"{API}/alerts/{alert_id}/actions").json()
        assert not log.get("items"), f"{alert_id} outside the filter was acted on: {log}"
    assert not c.errors, c.errors
